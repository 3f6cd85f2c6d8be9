// Package leakcheck is the TestMain of evsel's packages: it fails a test
// run that leaves a goroutine or, where the system lists a process's
// descriptors, a descriptor behind.
package leakcheck

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
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

// Rerun runs the test binary again, with the same flags, with the
// environment variable env set to value, its output going to this
// process's, and returns its exit code: the way a suite runs once more
// under another configuration (loop's on the io_uring driver) within one
// go test. It runs nothing when benchmarks are asked for, which choose
// their configuration themselves.
func Rerun(env, value string) int {
	flag.Parse()
	if f := flag.Lookup("test.bench"); f != nil && f.Value.String() != "" {
		return 0
	}
	fmt.Fprintf(os.Stderr, "--- the suite with %s=%s\n", env, value)
	cmd := exec.Command(os.Args[0], os.Args[1:]...)
	cmd.Env = append(os.Environ(), env+"="+value)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "--- the suite failed with %s=%s: %v\n", env, value, err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "--- the suite passed with %s=%s; now without\n", env, value)
	return 0
}
