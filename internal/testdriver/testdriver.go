// Package testdriver lets a test binary run every engine it starts on one
// loop driver, so that a whole suite written for the default driver runs
// on io_uring too (see loop's TestMain).
package testdriver

import "os"

// Env is the environment variable a test binary reads the driver from,
// and that its re-executed copy is given.
const Env = "EVSEL_TEST_DRIVER"

// UringBasic, as Env's value, is the io_uring driver without the kernel
// features it uses only where they exist (multishot receives with a byte
// limit, Linux 6.17; incremental provided buffers, 6.12; the
// SINGLE_ISSUER|DEFER_TASKRUN ring, 6.1): one-shot receives into whole
// buffers on a COOP_TASKRUN ring, as on the kernels before them, so that
// the suite covers that path on a kernel that has them all. On that ring
// the kernel runs its work whenever the loop's thread enters it, and so
// reads shared memory (the buffer ring) while the loop writes it.
const UringBasic = "io_uring-basic"

// Name, when set (by Load, from Env), is the driver loop.New uses for an
// engine whose Options name none. Programs never set it.
var Name string

// Basic is set by Load for UringBasic: the io_uring driver leaves its
// optional features off.
var Basic bool

// Load sets Name and Basic from Env.
func Load() {
	Name = os.Getenv(Env)
	if Name == UringBasic {
		Name, Basic = "io_uring", true
	}
}
