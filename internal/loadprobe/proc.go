package loadprobe

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// clockTicks is the kernel's USER_HZ, the unit of /proc/PID/stat's
// times: 100 on every Linux architecture Go runs on.
const clockTicks = 100

type cpuSample struct {
	pid     int
	seconds float64
}

// pids are the configured processes and this one, as "load".
func (p *Probe) pids() map[string]int {
	pids := map[string]int{"load": os.Getpid()}
	for n, pid := range p.cfg.PIDs {
		pids[n] = pid
	}
	return pids
}

// cpuNow reads the CPU time of the configured processes and of this one.
func (p *Probe) cpuNow() map[string]cpuSample {
	out := map[string]cpuSample{}
	for name, pid := range p.pids() {
		if s, err := cpuSeconds(pid); err == nil {
			out[name] = cpuSample{pid: pid, seconds: s}
		} else {
			p.cfg.Logger.Warn("loadprobe: no CPU time", "process", name, "pid", pid, "err", err)
		}
	}
	return out
}

// cpuSeconds is the user and system CPU time process pid has used.
func cpuSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStat(string(b))
}

// parseStat reads utime and stime (fields 14 and 15) from a
// /proc/PID/stat line; the command name (field 2) may hold spaces and
// parentheses, so the fields are counted from its last ')'.
func parseStat(s string) (float64, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("loadprobe: /proc stat %.40q: no command name", s)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("loadprobe: /proc stat: %d fields after the name, want at least 13", len(f))
	}
	u, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("loadprobe: /proc stat: utime %q, stime %q", f[11], f[12])
	}
	return float64(u+st) / clockTicks, nil
}

// rssMB is process pid's resident set size in MB (VmRSS in
// /proc/PID/status).
func rssMB(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return parseRSS(string(b))
}

// parseRSS reads the VmRSS line ("VmRSS:     12345 kB") of a
// /proc/PID/status.
func parseRSS(s string) (float64, error) {
	for _, line := range strings.Split(s, "\n") {
		rest, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("loadprobe: /proc status: VmRSS %q, want a number of kB", strings.TrimSpace(rest))
		}
		kb, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("loadprobe: /proc status: VmRSS %q, want a number of kB", f[0])
		}
		return float64(kb) / 1024, nil
	}
	return 0, fmt.Errorf("loadprobe: /proc status: no VmRSS line (a kernel thread or a zombie)")
}

// loadAverage reads /proc/loadavg.
func loadAverage() ([3]float64, error) {
	var l [3]float64
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return l, err
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return l, fmt.Errorf("loadprobe: /proc/loadavg %q", b)
	}
	for i := range l {
		if l[i], err = strconv.ParseFloat(f[i], 64); err != nil {
			return l, err
		}
	}
	return l, nil
}

// udpDrops sums the drops of the UDP sockets bound to ports (IPv4 and
// IPv6), from /proc/net/udp's last column.
func udpDrops(ports []int) int64 {
	if len(ports) == 0 {
		return 0
	}
	want := map[int]bool{}
	for _, p := range ports {
		want[p] = true
	}
	var sum int64
	for _, file := range []string{"/proc/net/udp", "/proc/net/udp6"} {
		f, err := os.Open(file)
		if err != nil {
			continue
		}
		sum += parseUDPDrops(bufio.NewScanner(f), want)
		f.Close()
	}
	return sum
}

func parseUDPDrops(sc *bufio.Scanner, ports map[int]bool) int64 {
	var sum int64
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 13 || f[0] == "sl" {
			continue
		}
		_, hexPort, ok := strings.Cut(f[1], ":")
		if !ok {
			continue
		}
		port, err := strconv.ParseInt(hexPort, 16, 32)
		if err != nil || !ports[int(port)] {
			continue
		}
		if d, err := strconv.ParseInt(f[len(f)-1], 10, 64); err == nil {
			sum += d
		}
	}
	return sum
}
