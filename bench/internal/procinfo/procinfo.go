// Package procinfo reads what the benchmark needs to know about another
// process from Linux's /proc — CPU time (utime+stime), resident memory and
// open descriptors — and describes the machine, through
// github.com/prometheus/procfs. The readers take a procfs.FS so the tests
// can point them at a fixture directory instead of the live /proc.
package procinfo

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/prometheus/procfs"
)

// Sample is one look at a process.
type Sample struct {
	At  time.Time
	CPU time.Duration // utime+stime, all threads, since the process started
	RSS int64         // resident set (VmRSS), bytes
}

// ErrUnsupported is returned where there is no /proc to read.
var ErrUnsupported = errors.New("procinfo: /proc is not available on this system")

// defaultFS is the live /proc, looked up once.
var defaultFS = sync.OnceValues(func() (procfs.FS, error) {
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		return procfs.FS{}, fmt.Errorf("%w: %w", ErrUnsupported, err)
	}
	return fs, nil
})

// Available reports whether this process can read its own /proc entry.
func Available() bool {
	fs, err := defaultFS()
	if err != nil {
		return false
	}
	self, err := fs.Self()
	if err != nil {
		return false
	}
	_, err = self.Stat()
	return err == nil
}

// Read samples process pid.
func Read(pid int) (Sample, error) {
	fs, err := defaultFS()
	if err != nil {
		return Sample{}, err
	}
	return read(fs, pid)
}

func read(fs procfs.FS, pid int) (Sample, error) {
	now := time.Now()
	p, err := fs.Proc(pid)
	if err != nil {
		return Sample{}, err
	}
	stat, err := p.Stat()
	if err != nil {
		return Sample{}, fmt.Errorf("procinfo: pid %d: stat: %w", pid, err)
	}
	// VmRSS from status rather than the rss field of stat, which saves a
	// read: VmRSS is the figure bench/README.md documents and the committed
	// results were taken with, so new runs stay comparable to them.
	status, err := p.NewStatus()
	if err != nil {
		return Sample{}, fmt.Errorf("procinfo: pid %d: status: %w", pid, err)
	}
	// procfs reads a missing or malformed VmRSS as 0; no live user
	// process has an empty resident set.
	if status.VmRSS == 0 {
		return Sample{}, fmt.Errorf("procinfo: pid %d: status: no VmRSS (kernel thread or zombie?)", pid)
	}
	return Sample{At: now, CPU: seconds(stat.CPUTime()), RSS: int64(status.VmRSS)}, nil
}

// seconds converts procfs's CPU seconds, whole clock ticks, rounding away
// the float's last bit so that equal tick counts give equal durations.
func seconds(s float64) time.Duration {
	return time.Duration(math.Round(s * float64(time.Second)))
}

// CountFDs returns how many descriptors process pid has open.
func CountFDs(pid int) (int, error) {
	fs, err := defaultFS()
	if err != nil {
		return 0, err
	}
	p, err := fs.Proc(pid)
	if err != nil {
		return 0, err
	}
	return p.FileDescriptorsLen()
}

// CPUs is one look at the machine's CPU time, all CPUs together: what
// they spent in every state, and the part of it the hypervisor gave to
// other guests (steal).
type CPUs struct {
	Total, Steal time.Duration
}

// ReadCPUs samples the machine's CPU time from /proc/stat.
func ReadCPUs() (CPUs, error) {
	fs, err := defaultFS()
	if err != nil {
		return CPUs{}, err
	}
	return readCPUs(fs)
}

func readCPUs(fs procfs.FS) (CPUs, error) {
	st, err := fs.Stat()
	if err != nil {
		return CPUs{}, fmt.Errorf("procinfo: stat: %w", err)
	}
	c := st.CPUTotal
	// Guest time is counted in user time already.
	total := c.User + c.Nice + c.System + c.Idle + c.Iowait + c.IRQ + c.SoftIRQ + c.Steal
	return CPUs{Total: seconds(total), Steal: seconds(c.Steal)}, nil
}

// StealPercent is the share of the CPUs' time between a and b that the
// hypervisor took for other guests, in percent; 0 if no time passed.
func StealPercent(a, b CPUs) float64 {
	total := b.Total - a.Total
	if total <= 0 {
		return 0
	}
	return 100 * float64(b.Steal-a.Steal) / float64(total)
}
