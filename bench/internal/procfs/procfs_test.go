package procfs

import (
	"os"
	"runtime"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	for _, tc := range []struct {
		name         string
		in           string
		utime, stime uint64
	}{
		{"plain", "15077 (cat) R 15069 15069 27825 0 -1 4194304 100 0 0 0 7 3 0 0 20 0 1 0 104476 3133440 390 18446744073709551615", 7, 3},
		// A command name may hold spaces and parentheses.
		{"odd name", "42 (a) b (c) S 1 42 42 0 -1 4194560 5 0 0 0 1234 56 0 0 20 0 4 0 100 2000 30", 1234, 56},
		{"trailing newline", "1 (init) S 0 1 1 0 -1 4194560 1 2 3 4 99 100 0 0 20 0 1 0 5 6 7\n", 99, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, s, err := ParseStat([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if u != tc.utime || s != tc.stime {
				t.Errorf("got utime %d stime %d, want %d %d", u, s, tc.utime, tc.stime)
			}
		})
	}
	for _, bad := range []string{"", "12 cat R 1", "12 (cat) R 1 2 3", "1 (x) S 0 1 1 0 -1 4 1 2 3 4 x 100 0"} {
		if _, _, err := ParseStat([]byte(bad)); err == nil {
			t.Errorf("ParseStat(%q) succeeded", bad)
		}
	}
}

func TestParseStatusRSS(t *testing.T) {
	status := "Name:\tcat\nVmPeak:\t    5000 kB\nVmRSS:\t    2028 kB\nRssAnon:\t  100 kB\n"
	rss, err := ParseStatusRSS([]byte(status))
	if err != nil {
		t.Fatal(err)
	}
	if rss != 2028<<10 {
		t.Errorf("rss = %d, want %d", rss, 2028<<10)
	}
	for _, bad := range []string{"Name:\tkthreadd\n", "VmRSS:\t12 MB\n", "VmRSS:\tlots kB\n"} {
		if _, err := ParseStatusRSS([]byte(bad)); err == nil {
			t.Errorf("ParseStatusRSS(%q) succeeded", bad)
		}
	}
}

func TestTicksToDuration(t *testing.T) {
	if d := TicksToDuration(250, 100); d != 2500*time.Millisecond {
		t.Errorf("250 ticks at 100 Hz = %v", d)
	}
}

// TestReadSelf reads this process: its CPU time grows with work, its RSS is
// plausible, and it has descriptors open.
func TestReadSelf(t *testing.T) {
	if runtime.GOOS != "linux" || !Available() {
		t.Skip("needs Linux /proc")
	}
	s0, err := Read(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(50 * time.Millisecond); time.Now().Before(end); {
	}
	s1, err := Read(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s1.CPU <= s0.CPU {
		t.Errorf("CPU time did not grow over 50ms of spinning: %v then %v", s0.CPU, s1.CPU)
	}
	if s1.RSS < 1<<20 || s1.RSS > 1<<34 {
		t.Errorf("implausible RSS %d", s1.RSS)
	}
	if n, err := CountFDs(os.Getpid()); err != nil || n < 3 {
		t.Errorf("CountFDs = %d, %v", n, err)
	}
}
