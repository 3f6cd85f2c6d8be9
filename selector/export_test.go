package selector

import "github.com/evsel/evsel"

// NewWithPoller returns a selector on p, so that tests can watch or fake the
// calls the selector makes to its poller.
func NewWithPoller(p evsel.Poller) (*Selector, error) {
	return open(p, nil)
}
