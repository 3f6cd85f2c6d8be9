package msgloop_test

import (
	"net"
	"syscall"
	"time"
)

// smallBufferDialer connects with a small receive buffer, set before the
// connect so that the window the client advertises stays small: a peer
// that does not read then holds a few KiB of what the server sends,
// whatever the system's default (tcp_rmem) would have let it take. Tests
// that need answers left unsent in the engine dial with it, so that they
// do not depend on the machine's buffer sizes (loop's tests have the same
// helper).
func smallBufferDialer() *net.Dialer {
	return &net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) { serr = setRcvBuf(fd, 4096) }); err != nil {
			return err
		}
		return serr
	}}
}
