package evsel

// epoll scales with the number of ready descriptors, not watched ones; poll
// is kept so that the shared suites prove nothing depends on epoll's ways.
var backends = [...]backend{
	{"epoll", newEpollPoller},
	{"poll", newPollPoller},
}
