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
	read := func(fd int) probes {
		var p probes
		p.on, _ = unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE)
		if p.on != 0 {
			p.idle, _ = unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE)
			p.interval, _ = unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL)
			p.count, _ = unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPCNT)
		}
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
			// net turns probes on: off, the adopted socket shows what Adopt does.
			checkNewConns(t, Options{KeepAlive: tc.cfg}, tc.want, read,
				func(nc *net.TCPConn) error { return nc.SetKeepAlive(false) })
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
	e := checkNewConns(t, Options{SocketReadBuffer: rcv, SocketWriteBuffer: snd}, want, read, nil)

	paddr, err := e.ListenPacket("udp", "127.0.0.1:0", packetEcho)
	require.NoError(t, err)
	pc, err := e.DialPacket(context.Background(), "udp", paddr.String(), packetEcho)
	require.NoError(t, err)
	assert.Equal(t, want, read(pc.fd), "DialPacket's socket")
	var listened [2]int
	require.NoError(t, e.onLoop(e.Loops()[0], func() error {
		for _, p := range e.Loops()[0].packets().conns {
			if p != pc {
				listened = read(p.fd)
			}
		}
		return nil
	}))
	assert.Equal(t, want, listened, "ListenPacket's socket")
	pc.AsyncClose()

	// By default the kernel's own sizes stay.
	got := make(chan [2]int, 1)
	_, plain := start(t, Funcs{Open: func(c *Conn) {
		rc, _ := c.SyscallConn()
		rc.Control(func(fd uintptr) { got <- read(int(fd)) })
	}}, Options{Loops: 1})
	dial(t, plain)
	assert.NotEqual(t, want, <-got, "default")
}
