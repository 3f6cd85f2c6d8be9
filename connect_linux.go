package evsel

import "golang.org/x/sys/unix"

// sysConnecting reports whether a socket that getpeername says is not
// connected is still connecting: a zero-timeout poll finds it neither
// writable nor hung up (Linux reports a TCP socket in SYN_SENT so). A
// socket whose connect failed, with its error already taken, or that never
// connected, polls POLLOUT|POLLHUP.
func sysConnecting(fd int) bool {
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
	n, err := ignoringEINTR(func() (int, error) { return unix.Poll(pfd, 0) })
	return err != nil || n == 0 || pfd[0].Revents&(unix.POLLOUT|unix.POLLHUP|unix.POLLERR) == 0
}
