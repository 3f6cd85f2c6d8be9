package loop

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"testing"

	"github.com/evsel/evsel"
	"github.com/evsel/evsel/internal/leakcheck"
)

// driverEnv names the driver every engine of the tests runs on when
// Options.Driver is not set (see testDriver).
const driverEnv = "EVSEL_TEST_DRIVER"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		runChild() // the re-executed test binary of TestAcceptUnderFdExhaustion
		return
	}
	if os.Getenv(handoffChildEnv) != "" {
		runHandoffChild() // the successor process of TestHandoff
		return
	}
	testDriver = os.Getenv(driverEnv)
	if testDriver == "" && evsel.UringAvailable() == nil {
		// The same suite once more on the completion driver, in a child
		// (the same flags, so -run, -race and -count apply), before the
		// readiness driver's run here. Not for benchmarks, which name
		// their driver.
		flag.Parse()
		if f := flag.Lookup("test.bench"); f == nil || f.Value.String() == "" {
			if code := runOnDriver(DriverIOUring); code != 0 {
				os.Exit(code)
			}
		}
	}
	leakcheck.Main(m)
}

// runOnDriver re-executes the test binary with driverEnv set and returns
// its exit code.
func runOnDriver(name string) int {
	fmt.Fprintf(os.Stderr, "--- the loop suite on the %s driver (%s=%s)\n", name, driverEnv, name)
	cmd := exec.Command(os.Args[0], os.Args[1:]...)
	cmd.Env = append(os.Environ(), driverEnv+"="+name)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "--- the loop suite failed on the %s driver: %v\n", name, err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "--- the loop suite passed on the %s driver; now on the default one\n", name)
	return 0
}
