package memory

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Available is the memory this process may still use: the
// kernel's MemAvailable, or less when a cgroup limit is lower.
func Available() (int64, error) {
	avail, err := memAvailable()
	if err != nil {
		return 0, err
	}
	if limit, ok := cgroupRoom(); ok && limit < avail {
		return limit, nil
	}
	return avail, nil
}

// Total is the most memory this process could ever have: the machine's
// MemTotal, or the cgroup's limit (v2, else v1) when that is lower.
func Total() (int64, error) {
	total, err := meminfo("MemTotal:")
	if err != nil {
		return 0, err
	}
	for _, p := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		if limit, ok := readInt(p); ok && limit > 0 && limit < total {
			return limit, nil
		}
	}
	return total, nil
}

// memAvailable reads MemAvailable from /proc/meminfo.
func memAvailable() (int64, error) { return meminfo("MemAvailable:") }

// meminfo reads the field of /proc/meminfo named by key, in bytes.
func meminfo(key string) (int64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), key); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/meminfo", strings.TrimSuffix(key, ":"))
}

// cgroupRoom is the cgroup's memory limit minus its usage (v2, else v1).
func cgroupRoom() (int64, bool) {
	for _, p := range [][2]string{
		{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"},
		{"/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"},
	} {
		limit, ok1 := readInt(p[0])
		used, ok2 := readInt(p[1])
		if ok1 && ok2 && limit > used && limit < 1<<60 {
			return limit - used, true
		}
	}
	return 0, false
}

func readInt(path string) (int64, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseInt(string(bytes.TrimSpace(data)), 10, 64)
	return n, err == nil
}
