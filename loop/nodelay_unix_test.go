//go:build unix

package loop

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestNoDelayByDefault: accepted, dialed and adopted TCP connections get
// TCP_NODELAY unless Options.Nagle, as in Go's net, gnet and nbio; without
// it an answer written in two parts waited for the peer's delayed ACK
// (40 ms a request in a gnet-style header-then-AsyncWrite server). A Unix
// listener's connections are left alone.
func TestNoDelayByDefault(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		want int
	}{
		{"default", Options{}, 1},
		{"Nagle", Options{Nagle: true}, 0},
		{"Nagle with the old NoDelay", Options{Nagle: true, NoDelay: true}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := make(chan int, 3)
			opts := tc.opts
			opts.Loops, opts.Logger = 1, quietLog
			e, addr := start(t, Funcs{Open: func(c *Conn) {
				rc, err := c.SyscallConn()
				require.NoError(t, err)
				v := -1
				rc.Control(func(fd uintptr) { v, _ = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NODELAY) })
				got <- min(v, 1)
			}}, opts)
			dial(t, addr)
			assert.Equal(t, tc.want, <-got, "accepted")
			_, err := e.Dial(context.Background(), "tcp", addr)
			require.NoError(t, err)
			assert.Equal(t, tc.want, <-got, "dialed or its accepted side")
			assert.Equal(t, tc.want, <-got, "dialed or its accepted side")
			nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
			require.NoError(t, err)
			<-got // the accepted side
			// net's default is on: off, the adopted socket shows what Adopt does.
			require.NoError(t, nc.(*net.TCPConn).SetNoDelay(false))
			_, err = e.Adopt(nc)
			require.NoError(t, err)
			assert.Equal(t, tc.want, <-got, "adopted")
		})
	}
}
