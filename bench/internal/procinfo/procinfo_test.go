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
