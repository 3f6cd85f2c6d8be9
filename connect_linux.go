package evsel

import "golang.org/x/sys/unix"

// sysConnecting reports whether a socket that getpeername says is not
// connected is still connecting: a zero-timeout poll finds it neither
// writable nor hung up (Linux reports a TCP socket in SYN_SENT so). A
// socket whose connect failed, with its error already taken, or that never
// connected, polls POLLOUT|POLLHUP.
func sysConnecting(fd int) bool {
	revents, ok := pollNow(fd, unix.POLLOUT)
	return !ok || revents&(unix.POLLOUT|unix.POLLHUP|unix.POLLERR) == 0
}
