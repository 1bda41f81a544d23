// Package memory reads how much memory this process may still use: the
// kernel's MemAvailable, or less when a cgroup (v2, else v1) limits it.
package memory
