package procinfo

import (
	"os"
	"syscall"
	"testing"
	"time"
)

// TestReadSelf reads this process: its CPU time grows with work, its RSS is
// plausible, and it has descriptors open.
func TestReadSelf(t *testing.T) {
	if !Available() {
		t.Skip("needs /proc")
	}
	s0, err := Read(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Spin for 50ms of CPU time, not of wall time: on a loaded machine
	// 50ms of wall time may bring less than one 10ms tick of CPU.
	for start, end := cpuTime(t), time.Now().Add(10*time.Second); cpuTime(t)-start < 50*time.Millisecond && time.Now().Before(end); {
	}
	s1, err := Read(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s1.CPU <= s0.CPU {
		t.Errorf("CPU time did not grow over 50ms of CPU-bound spinning: %v then %v", s0.CPU, s1.CPU)
	}
	if s1.RSS < 1<<20 || s1.RSS > 1<<34 {
		t.Errorf("implausible RSS %d", s1.RSS)
	}
	if n, err := CountFDs(os.Getpid()); err != nil || n < 3 {
		t.Errorf("CountFDs = %d, %v", n, err)
	}
}

// cpuTime is this process's user+system time from getrusage, the kernel's
// own figure, independent of /proc.
func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestReadCPUsLive reads the live /proc/stat: time moves on, and the
// steal share lies between 0 and 100%.
func TestReadCPUsLive(t *testing.T) {
	if !Available() {
		t.Skip("needs /proc")
	}
	a, err := ReadCPUs()
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	b, err := ReadCPUs()
	if err != nil {
		t.Fatal(err)
	}
	if b.Total <= a.Total || b.Steal < a.Steal {
		t.Errorf("CPU time did not move on over 50ms: %+v then %+v", a, b)
	}
	if p := StealPercent(a, b); p < 0 || p > 100 {
		t.Errorf("StealPercent = %v", p)
	}
}
