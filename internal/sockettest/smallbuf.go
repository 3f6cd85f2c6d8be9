package sockettest

import (
	"net"
	"syscall"
	"time"
)

// SmallBufferDialer connects with a 4 KiB receive buffer, set before the
// connect so that the window the client advertises stays small: a peer
// that does not read then holds a few KiB of what the server sends,
// whatever the system's default (tcp_rmem) and autotuning would have let
// it take. Tests that need output left in the engine dial with it, so that
// they do not depend on the machine's buffer sizes.
func SmallBufferDialer() *net.Dialer {
	return &net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) { serr = setRcvBuf(fd, 4096) }); err != nil {
			return err
		}
		return serr
	}}
}
