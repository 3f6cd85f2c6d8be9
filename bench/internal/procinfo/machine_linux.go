package procinfo

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/prometheus/procfs"
)

// Machine describes the CPU, cores, memory and kernel for the report, as
// far as /proc tells.
func Machine() string { return machine(procfs.DefaultMountPoint, runtime.NumCPU()) }

func machine(mount string, cpus int) string {
	var parts []string
	fs, fsErr := procfs.NewFS(mount)
	if fsErr == nil {
		if info, err := fs.CPUInfo(); err == nil && len(info) > 0 && info[0].ModelName != "" {
			parts = append(parts, info[0].ModelName)
		}
	}
	parts = append(parts, fmt.Sprintf("%d CPUs", cpus))
	if fsErr == nil {
		if mem, err := fs.Meminfo(); err == nil && mem.MemTotalBytes != nil {
			parts = append(parts, fmt.Sprintf("%.0f GiB RAM", float64(*mem.MemTotalBytes)/(1<<30)))
		}
	}
	// procfs has no reader for the kernel release.
	kernel := runtime.GOOS
	if b, err := os.ReadFile(filepath.Join(mount, "sys", "kernel", "osrelease")); err == nil {
		kernel += " " + strings.TrimSpace(string(b))
	}
	return strings.Join(append(parts, kernel), ", ")
}
