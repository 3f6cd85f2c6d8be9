//go:build unix || windows

package evsel

import "fmt"

// backend is one poller implementation of the platform. Each platform lists
// its own in a backends array (backends_linux.go, backends_bsd.go,
// backends_windows.go), best first, the way CPython's selectors module
// picks DefaultSelector: an explicit order, not the order in which files
// happen to be initialised.
type backend struct {
	name string
	open func() (Poller, error)
}

// Backends names the poller implementations of this platform, the default
// (best) one first: "epoll" and "poll" on Linux, "kqueue" and "poll" on
// macOS and the BSDs, "iocp" on Windows. Every name can be passed to
// NewPollerNamed; test suites iterate over them so that every backend passes
// the same tests.
func Backends() []string {
	names := make([]string, len(backends))
	for i, b := range backends {
		names[i] = b.name
	}
	return names
}

// NewPoller returns a poller of the platform's default backend, the first
// of Backends.
func NewPoller() (Poller, error) { return backends[0].open() }

// NewPollerNamed returns a poller of the named backend, one of Backends. A
// name this platform has no backend of fails with an error matching
// ErrNoBackend; the Poller's Name is the name asked for.
func NewPollerNamed(name string) (Poller, error) {
	for _, b := range backends {
		if b.name == name {
			return b.open()
		}
	}
	return nil, fmt.Errorf("%w: %q (this platform has %q)", ErrNoBackend, name, Backends())
}
