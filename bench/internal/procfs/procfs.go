// Package procfs reads what the benchmark needs to know about another
// process from Linux's /proc: CPU time (utime+stime), resident memory and
// open descriptors. The parsers are separate from the file reads so they
// can be tested on any platform.
package procfs

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Sample is one look at a process.
type Sample struct {
	At  time.Time
	CPU time.Duration // utime+stime, all threads, since the process started
	RSS int64         // resident set (VmRSS), bytes
}

// ErrUnsupported is returned where there is no /proc to read.
var ErrUnsupported = errors.New("procfs: /proc is not available on this system")

// Available reports whether /proc/self/stat can be read.
func Available() bool {
	_, err := os.Stat("/proc/self/stat")
	return err == nil
}

// Read samples process pid.
func Read(pid int) (Sample, error) {
	now := time.Now()
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		if os.IsNotExist(err) && !Available() {
			return Sample{}, ErrUnsupported
		}
		return Sample{}, err
	}
	utime, stime, err := ParseStat(stat)
	if err != nil {
		return Sample{}, err
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Sample{}, err
	}
	rss, err := ParseStatusRSS(status)
	if err != nil {
		return Sample{}, err
	}
	return Sample{At: now, CPU: TicksToDuration(utime+stime, ClockTicks()), RSS: rss}, nil
}

// CountFDs returns how many descriptors process pid has open.
func CountFDs(pid int) (int, error) {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0, err
	}
	return len(ents), nil
}

// ParseStat returns utime and stime (fields 14 and 15, in clock ticks) from
// the contents of /proc/<pid>/stat. The command name (field 2) is in
// parentheses and may itself hold spaces and parentheses, so fields are
// counted from the last ')'.
func ParseStat(b []byte) (utime, stime uint64, err error) {
	end := bytes.LastIndexByte(b, ')')
	if end < 0 {
		return 0, 0, errors.New("procfs: stat: no ')' after the command name")
	}
	// After ") " come fields 3 (state), 4 (ppid), ... so utime, field 14,
	// is the 12th of them.
	fields := strings.Fields(string(b[end+1:]))
	const utimeIdx = 14 - 3
	if len(fields) <= utimeIdx+1 {
		return 0, 0, fmt.Errorf("procfs: stat: %d fields after the name, want at least %d", len(fields), utimeIdx+2)
	}
	if utime, err = strconv.ParseUint(fields[utimeIdx], 10, 64); err != nil {
		return 0, 0, fmt.Errorf("procfs: stat: utime: %w", err)
	}
	if stime, err = strconv.ParseUint(fields[utimeIdx+1], 10, 64); err != nil {
		return 0, 0, fmt.Errorf("procfs: stat: stime: %w", err)
	}
	return utime, stime, nil
}

// ParseStatusRSS returns VmRSS in bytes from the contents of
// /proc/<pid>/status.
func ParseStatusRSS(b []byte) (int64, error) {
	for line := range bytes.Lines(b) {
		rest, ok := bytes.CutPrefix(line, []byte("VmRSS:"))
		if !ok {
			continue
		}
		f := strings.Fields(string(rest))
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("procfs: status: unexpected VmRSS line %q", bytes.TrimSpace(line))
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("procfs: status: VmRSS: %w", err)
		}
		return kb << 10, nil
	}
	return 0, errors.New("procfs: status: no VmRSS line (kernel thread or zombie?)")
}

// TicksToDuration converts clock ticks at hz ticks per second.
func TicksToDuration(ticks uint64, hz int) time.Duration {
	return time.Duration(ticks) * (time.Second / time.Duration(hz))
}

var clk = sync.OnceValue(func() int {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err == nil {
		if hz, err := strconv.Atoi(strings.TrimSpace(string(out))); err == nil && hz > 0 {
			return hz
		}
	}
	return 100 // USER_HZ on every Linux architecture Go supports
})

// ClockTicks returns the unit of /proc's CPU times (USER_HZ), asking getconf
// once and falling back to 100.
func ClockTicks() int { return clk() }
