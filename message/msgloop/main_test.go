package msgloop_test

import (
	"os"
	"testing"

	"github.com/evsel/evsel"
	"github.com/evsel/evsel/internal/leakcheck"
	"github.com/evsel/evsel/internal/testdriver"
	"github.com/evsel/evsel/loop"
)

// The interop tests run child processes and goroutines that copy their
// output; leakcheck makes sure every one of them is gone when the tests end.
// Where the kernel has io_uring, the suite runs on the completion driver
// too, in a child, before this run on the default driver.
func TestMain(m *testing.M) {
	testdriver.Load()
	if testdriver.Name == "" && evsel.UringAvailable() == nil {
		if code := leakcheck.Rerun(testdriver.Env, loop.DriverIOUring); code != 0 {
			os.Exit(code)
		}
	}
	leakcheck.Main(m)
}
