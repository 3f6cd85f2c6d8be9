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

// TestKeepAliveOption: Options.KeepAlive turns probes on, with its
// timings, for accepted, dialed and adopted TCP connections; by default
// they are off.
func TestKeepAliveOption(t *testing.T) {
	type probes struct{ on, idle, interval, count int }
	read := func(c *Conn) probes {
		rc, err := c.SyscallConn()
		require.NoError(t, err)
		var p probes
		rc.Control(func(fd uintptr) {
			p.on, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_KEEPALIVE)
			if p.on != 0 {
				p.idle, _ = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_KEEPIDLE)
				p.interval, _ = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_KEEPINTVL)
				p.count, _ = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_KEEPCNT)
			}
		})
		p.on = min(p.on, 1)
		return p
	}
	for _, tc := range []struct {
		name string
		cfg  net.KeepAliveConfig
		want probes
	}{
		{"default", net.KeepAliveConfig{}, probes{}},
		{"on", net.KeepAliveConfig{Enable: true, Idle: 30 * time.Second, Interval: 5 * time.Second, Count: 3},
			probes{1, 30, 5, 3}},
		{"on with Go's timings", net.KeepAliveConfig{Enable: true}, probes{1, 15, 15, 9}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := make(chan probes, 3)
			e, addr := start(t, Funcs{Open: func(c *Conn) { got <- read(c) }},
				Options{Loops: 1, KeepAlive: tc.cfg})
			dial(t, addr)
			assert.Equal(t, tc.want, <-got, "accepted")
			_, err := e.Dial(context.Background(), "tcp", addr)
			require.NoError(t, err)
			assert.Equal(t, tc.want, <-got, "dialed or its accepted side")
			assert.Equal(t, tc.want, <-got, "dialed or its accepted side")
			nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
			require.NoError(t, err)
			<-got // the accepted side
			// net turns probes on: off, the adopted socket shows what Adopt does.
			require.NoError(t, nc.(*net.TCPConn).SetKeepAlive(false))
			_, err = e.Adopt(nc)
			require.NoError(t, err)
			assert.Equal(t, tc.want, <-got, "adopted")
		})
	}
}
