package loop

import (
	"fmt"
	"os"
	"testing"

	"github.com/evsel/evsel"
	"github.com/evsel/evsel/internal/leakcheck"
	"github.com/evsel/evsel/internal/testdriver"
)

func TestMain(m *testing.M) {
	testdriver.Load() // children of the tests inherit it
	if os.Getenv(smallBuffersEnv) != "" {
		if err := setUpSmallBuffers(); err != nil {
			fmt.Fprintln(os.Stderr, "the namespace with small buffers:", err)
			os.Exit(2)
		}
	}
	if os.Getenv(childEnv) != "" {
		runChild() // the re-executed test binary of TestAcceptUnderFdExhaustion
		return
	}
	if os.Getenv(handoffChildEnv) != "" {
		runHandoffChild() // the successor process of TestHandoff
		return
	}
	// Where the kernel has io_uring, the suite runs on the completion
	// driver too, in a child, before this run on the default driver; and
	// where the kernel has the driver's optional features, once more
	// without them.
	if testdriver.Name == "" && evsel.UringAvailable() == nil {
		if code := leakcheck.Rerun(testdriver.Env, DriverIOUring); code != 0 {
			os.Exit(code)
		}
		if uringHasOptional() {
			if code := leakcheck.Rerun(testdriver.Env, testdriver.UringBasic); code != 0 {
				os.Exit(code)
			}
		}
	}
	leakcheck.Main(m)
}
