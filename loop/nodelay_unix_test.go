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
			checkNewConns(t, tc.opts, tc.want, func(fd int) int {
				v, _ := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY)
				return min(v, 1)
			}, func(nc *net.TCPConn) error {
				// net's default is on: off, the adopted socket shows what
				// Adopt does.
				return nc.SetNoDelay(false)
			})
		})
	}
}

// checkNewConns starts an engine with opts and checks that read, given a
// socket, says want for each kind of connection the engine makes: one it
// accepts, one it dials (and that one's accepted side), and one it adopts
// from Go's net, after unset (if not nil) has undone net's own setting.
// It returns the engine.
func checkNewConns[T any](t *testing.T, opts Options, want T, read func(fd int) T, unset func(*net.TCPConn) error) *Engine {
	t.Helper()
	got := make(chan T, 3)
	opts.Loops, opts.Logger = 1, quietLog
	e, addr := start(t, Funcs{Open: func(c *Conn) {
		rc, err := c.SyscallConn()
		if err != nil {
			t.Errorf("SyscallConn: %v", err) // not require: this is a loop goroutine
			return
		}
		rc.Control(func(fd uintptr) { got <- read(int(fd)) })
	}}, opts)
	dial(t, addr)
	assert.Equal(t, want, <-got, "accepted")
	_, err := e.Dial(context.Background(), "tcp", addr)
	require.NoError(t, err)
	assert.Equal(t, want, <-got, "dialed or its accepted side")
	assert.Equal(t, want, <-got, "dialed or its accepted side")
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	<-got // the accepted side
	if unset != nil {
		require.NoError(t, unset(nc.(*net.TCPConn)))
	}
	_, err = e.Adopt(nc)
	require.NoError(t, err)
	assert.Equal(t, want, <-got, "adopted")
	return e
}
