//go:build unix

package loop

import "golang.org/x/sys/unix"

// pending reports whether a connection waits in the listener's backlog:
// a zero-timeout poll finds it readable. If the poll fails it says yes,
// which only costs a shed.
func (ln *listener) pending() bool {
	pfd := []unix.PollFd{{Fd: int32(ln.fd), Events: unix.POLLIN}}
	n, err := unix.Poll(pfd, 0)
	return err != nil || (n > 0 && pfd[0].Revents != 0)
}
