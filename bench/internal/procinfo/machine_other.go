//go:build !linux

package procinfo

import (
	"fmt"
	"runtime"
)

// Machine describes the cores and the operating system; there is no /proc
// to say more.
func Machine() string { return fmt.Sprintf("%d CPUs, %s", runtime.NumCPU(), runtime.GOOS) }
