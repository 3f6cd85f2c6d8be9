package procinfo

import (
	"os"
	"path/filepath"
	"testing"
)

func TestMachine(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"cpuinfo": "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC\ncpu MHz\t\t: 2000.000\n\n" +
			"processor\t: 1\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC\ncpu MHz\t\t: 2000.000\n",
		"meminfo":              "MemTotal:        4194304 kB\nMemFree:         1000 kB\n",
		"sys/kernel/osrelease": "6.18.0\n",
	}
	for name, body := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := machine(root, 2), "AMD EPYC, 2 CPUs, 4 GiB RAM, linux 6.18.0"; got != want {
		t.Errorf("machine = %q, want %q", got, want)
	}
	// Without /proc only the CPU count and the system remain.
	if got, want := machine(filepath.Join(root, "none"), 2), "2 CPUs, linux"; got != want {
		t.Errorf("machine without /proc = %q, want %q", got, want)
	}
}
