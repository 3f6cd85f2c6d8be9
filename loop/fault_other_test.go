//go:build !linux

package loop

// The descriptor-exhaustion test re-executes the test binary and reads
// /proc; it runs on Linux only.
const childEnv = "EVSEL_LOOP_TEST_CHILD"

func runChild() {}
