package procinfo

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/procfs"
)

// fakeProc writes a /proc holding one process, pid 42, with the given stat
// and status files (an empty string leaves the file out).
func fakeProc(t *testing.T, stat, status string) procfs.FS {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "42")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"stat": stat, "status": status} {
		if body == "" {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fs, err := procfs.NewFS(root)
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

// stat is a whole /proc/<pid>/stat line (52 fields, as Linux 6 writes it)
// with the given command name, utime and stime.
func stat(comm string, utime, stime int) string {
	return "42 (" + comm + ") R 10247 10247 6076 0 -1 4194304 98 0 0 0 " +
		strconv.Itoa(utime) + " " + strconv.Itoa(stime) +
		" 0 0 20 0 1 0 58975 3133440 381 18446744073709551615 94408913051648 94408913071529" +
		" 140731319330944 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 94408913087536 94408913089152" +
		" 94409465724928 140731319335617 140731319335637 140731319335637 140731319336939 0\n"
}

const status = "Name:\tcat\nUmask:\t0022\nState:\tR (running)\nVmPeak:\t    5000 kB\nVmRSS:\t    2028 kB\nRssAnon:\t  100 kB\nThreads:\t1\n"

func TestReadCPU(t *testing.T) {
	for _, tc := range []struct {
		name string
		stat string
		cpu  time.Duration
	}{
		{"plain", stat("cat", 7, 3), 100 * time.Millisecond},
		// A command name may hold spaces and parentheses.
		{"odd name", stat("a) b (c", 1234, 56), 12900 * time.Millisecond},
		{"no trailing newline", strings.TrimSuffix(stat("init", 99, 100), "\n"), 1990 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := read(fakeProc(t, tc.stat, status), 42)
			if err != nil {
				t.Fatal(err)
			}
			if s.CPU != tc.cpu {
				t.Errorf("CPU = %v, want %v", s.CPU, tc.cpu)
			}
			if s.RSS != 2028<<10 {
				t.Errorf("RSS = %d, want %d", s.RSS, 2028<<10)
			}
		})
	}
	for _, bad := range []string{"12 cat R 1", "12 (cat) R 1 2 3", strings.Replace(stat("x", 7, 3), " 7 3 ", " x 3 ", 1)} {
		if _, err := read(fakeProc(t, bad, status), 42); err == nil {
			t.Errorf("stat %q accepted", bad)
		}
	}
}

func TestReadRSS(t *testing.T) {
	for _, bad := range []string{
		"Name:\tkthreadd\nThreads:\t1\n", // a kernel thread has no VmRSS
		"Name:\tcat\nVmRSS:\t12 MB\n",
		"Name:\tcat\nVmRSS:\tlots kB\n",
	} {
		if _, err := read(fakeProc(t, stat("cat", 1, 1), bad), 42); err == nil {
			t.Errorf("status %q accepted", bad)
		}
	}
	if _, err := read(fakeProc(t, stat("cat", 1, 1), ""), 42); err == nil {
		t.Error("a process without a status file was read")
	}
	if _, err := read(fakeProc(t, stat("cat", 1, 1), status), 43); err == nil {
		t.Error("a missing process was read")
	}
}

func TestSeconds(t *testing.T) {
	// Tick counts whose float seconds fall just below the exact value.
	for ticks := range 1000 {
		want := time.Duration(ticks) * 10 * time.Millisecond
		if got := seconds(float64(ticks) / 100); got != want {
			t.Fatalf("%d ticks = %v, want %v", ticks, got, want)
		}
	}
}

// TestReadCPUs reads the machine's CPU time from a /proc/stat fixture (in
// clock ticks of 10ms) and takes the steal share of the time between two.
func TestReadCPUs(t *testing.T) {
	sample := func(line string) CPUs {
		t.Helper()
		root := t.TempDir()
		body := line + "\ncpu0 0 0 0 0 0 0 0 0 0 0\nintr 0\nctxt 0\nbtime 1\nprocesses 1\nprocs_running 1\nprocs_blocked 0\n"
		if err := os.WriteFile(filepath.Join(root, "stat"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		fs, err := procfs.NewFS(root)
		if err != nil {
			t.Fatal(err)
		}
		c, err := readCPUs(fs)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	// user nice system idle iowait irq softirq steal guest guest_nice
	a := sample("cpu  100 0 50 800 0 0 10 40 30 0")
	if want := (CPUs{Total: 10 * time.Second, Steal: 400 * time.Millisecond}); a != want {
		t.Errorf("readCPUs = %+v, want %+v (guest time is inside user time)", a, want)
	}
	// 200 more ticks, of which 50 stolen: 25%.
	b := sample("cpu  150 0 70 870 0 0 20 90 30 0")
	if got := StealPercent(a, b); got != 25 {
		t.Errorf("StealPercent = %v, want 25", got)
	}
	if got := StealPercent(b, b); got != 0 {
		t.Errorf("StealPercent over no time = %v, want 0", got)
	}
	if _, err := readCPUs(procfs.FS{}); err == nil {
		t.Error("readCPUs of an unset FS did not fail")
	}
}
