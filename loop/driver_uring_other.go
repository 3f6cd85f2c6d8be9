//go:build !linux

package loop

import "github.com/evsel/evsel"

// newUringDriver fails where there is no io_uring; chooseDriver has fallen
// back before it is asked.
func newUringDriver(*Loop) (driver, error) { return nil, evsel.UringAvailable() }
