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

// TestSocketBufferOptions: Options.SocketReadBuffer and SocketWriteBuffer
// size the kernel buffers of accepted, dialed and adopted connections and
// of datagram sockets (Linux reports twice what was set).
func TestSocketBufferOptions(t *testing.T) {
	const rcv, snd = 96 << 10, 160 << 10
	read := func(fd int) [2]int {
		r, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF)
		s, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF)
		return [2]int{r, s}
	}
	want := [2]int{2 * rcv, 2 * snd}
	got := make(chan [2]int, 3)
	opts := Options{Loops: 1, SocketReadBuffer: rcv, SocketWriteBuffer: snd}
	e, addr := start(t, Funcs{Open: func(c *Conn) {
		rc, err := c.SyscallConn()
		require.NoError(t, err)
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
	_, err = e.Adopt(nc)
	require.NoError(t, err)
	assert.Equal(t, want, <-got, "adopted")

	paddr, err := e.ListenPacket("udp", "127.0.0.1:0", packetEcho)
	require.NoError(t, err)
	pc, err := e.DialPacket(context.Background(), "udp", paddr.String(), packetEcho)
	require.NoError(t, err)
	assert.Equal(t, want, read(pc.fd), "DialPacket's socket")
	require.NoError(t, e.onLoop(e.Loops()[0], func() error {
		for _, p := range e.Loops()[0].packets().conns {
			if p != pc {
				got <- read(p.fd)
			}
		}
		return nil
	}))
	assert.Equal(t, want, <-got, "ListenPacket's socket")
	pc.AsyncClose()

	// By default the kernel's own sizes stay.
	_, plain := start(t, Funcs{Open: func(c *Conn) {
		rc, _ := c.SyscallConn()
		rc.Control(func(fd uintptr) { got <- read(int(fd)) })
	}}, Options{Loops: 1})
	dial(t, plain)
	assert.NotEqual(t, want, <-got, "default")
}
