package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
)

// Machine describes the computer the bench ran on.
type Machine struct {
	CPU         string  `json:"cpu"`
	Cores       int     `json:"cores"`        // CPUs this process may use
	OnlineCores int     `json:"online_cores"` // processors listed in /proc/cpuinfo
	MemoryGiB   float64 `json:"memory_gib"`
	GoVersion   string  `json:"go_version"`
	Kernel      string  `json:"kernel"`
	OSArch      string  `json:"os_arch"`
	// LoadStart and LoadEnd are /proc/loadavg's 1, 5 and 15 minute load
	// averages when the bench started and ended: other work on the machine
	// makes timings noisy.
	LoadStart string `json:"load_start"`
	LoadEnd   string `json:"load_end"`
}

// loadAverage returns the 1, 5 and 15 minute load averages, or "unknown".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// String is the one-line description printed above the table.
func (m Machine) String() string {
	cores := fmt.Sprintf("%d cores", m.Cores)
	if m.OnlineCores > 0 && m.OnlineCores != m.Cores {
		cores = fmt.Sprintf("%d of %d cores", m.Cores, m.OnlineCores)
	}
	return fmt.Sprintf("%s, %s, %.1f GiB RAM, %s, Linux %s (%s)", m.CPU, cores, m.MemoryGiB, m.GoVersion, m.Kernel, m.OSArch)
}

// detectMachine reads /proc for the CPU model, cores, memory and kernel, and
// asks the go command for its version (the toolchain that builds jetmr),
// falling back to the bench's own runtime version.
func detectMachine() Machine {
	m := Machine{LoadStart: loadAverage(), CPU: "unknown CPU", Cores: runtime.NumCPU(), GoVersion: runtime.Version(), Kernel: "unknown", OSArch: runtime.GOOS + "/" + runtime.GOARCH}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			key, val, ok := strings.Cut(sc.Text(), ":")
			if !ok {
				continue
			}
			key, val = strings.TrimSpace(key), strings.TrimSpace(val)
			switch key {
			case "processor":
				m.OnlineCores++
			case "model name", "Hardware", "cpu model":
				if m.CPU == "unknown CPU" && val != "" {
					m.CPU = val
				}
			}
		}
		f.Close()
	}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
				fields := strings.Fields(rest)
				if len(fields) > 0 {
					if kib, err := strconv.ParseFloat(fields[0], 64); err == nil {
						m.MemoryGiB = kib / (1 << 20)
					}
				}
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if out, err := exec.Command("go", "env", "GOVERSION").Output(); err == nil {
		if v := strings.TrimSpace(string(out)); v != "" {
			m.GoVersion = v
		}
	}
	return m
}
