// Package leakcheck is the TestMain of evsel's packages: it fails a test
// run that leaves a goroutine or, where the system lists a process's
// descriptors, a descriptor behind.
package leakcheck

import (
	"fmt"
	"net"
	"os"
	"runtime"
	"slices"
	"strconv"
	"testing"

	"go.uber.org/goleak"
)

// Main runs the tests and fails the run on a leak; call it from TestMain.
func Main(m *testing.M) {
	warmUpRuntimePoller()
	before := openFDs()
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutine leak:", err)
			code = 1
		}
		if leaked := newFDs(before, openFDs()); len(leaked) > 0 {
			fmt.Fprintln(os.Stderr, "descriptor leak:", leaked)
			code = 1
		}
	}
	os.Exit(code)
}

// warmUpRuntimePoller makes Go's own network poller open its descriptors
// now, so that they are not taken for a leak of the tests that use net.
func warmUpRuntimePoller() {
	if l, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
		l.Close()
	}
}

// openFDs lists the process's open descriptors, or nil where the system
// has no /proc (the check is then skipped). Windows has none; under Wine the
// path reaches the host's /proc, which lists Wine's own descriptors.
func openFDs() []string {
	if runtime.GOOS == "windows" {
		return nil
	}
	f, err := os.Open("/proc/self/fd")
	if err != nil {
		return nil
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil
	}
	self := strconv.Itoa(int(f.Fd())) // the listing's own descriptor
	return slices.DeleteFunc(names, func(fd string) bool { return fd == self })
}

// newFDs describes the descriptors open in after but not in before.
func newFDs(before, after []string) []string {
	if before == nil || after == nil {
		return nil
	}
	var leaked []string
	for _, fd := range after {
		if slices.Contains(before, fd) {
			continue
		}
		target, _ := os.Readlink("/proc/self/fd/" + fd)
		leaked = append(leaked, fd+" -> "+target)
	}
	return leaked
}
