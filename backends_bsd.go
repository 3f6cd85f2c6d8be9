//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package evsel

// kqueue scales with the number of ready descriptors, not watched ones; poll
// is kept so that the shared suites prove nothing depends on kqueue's ways.
var backends = [...]backend{
	{"kqueue", newKqueuePoller},
	{"poll", newPollPoller},
}
