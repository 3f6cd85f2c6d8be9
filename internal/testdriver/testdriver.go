// Package testdriver lets a test binary run every engine it starts on one
// loop driver, so that a whole suite written for the default driver runs
// on io_uring too (see loop's TestMain).
package testdriver

// Env is the environment variable a test binary reads the driver from,
// and that its re-executed copy is given.
const Env = "EVSEL_TEST_DRIVER"

// Name, when set (by a TestMain, from Env), is the driver loop.New uses
// for an engine whose Options name none. Programs never set it.
var Name string
