package loop

import (
	"net"
	"os"
	"testing"
	"time"

	"github.com/evsel/evsel"
	"github.com/evsel/evsel/internal/testenv"
	"github.com/stretchr/testify/require"
)

// udpPeer is the far end of the datagram tests: a *net.UDPConn, so that
// the engine is tested against a peer it did not write, except under Wine.
// Go's net opens a UDP socket only after turning off SIO_UDP_CONNRESET,
// an ioctl Wine 8 does not implement (WSAEOPNOTSUPP), so every UDP dial of
// net fails there; the peer is then an evsel socket driven by polling, and
// the Windows IOCP poller still serves the engine's side.
type udpPeer interface {
	Write(p []byte) (int, error)
	Read(p []byte) (int, error)
	SetReadDeadline(t time.Time) error
	Close() error
}

// dialUDP returns a peer connected to addr, closed at the end of the test.
func dialUDP(t *testing.T, addr net.Addr) udpPeer {
	t.Helper()
	var c udpPeer
	if testenv.Wine {
		s, err := evsel.DialPacket("udp", addr.String())
		require.NoError(t, err)
		c = &polledUDP{s: s}
	} else {
		uc, err := net.DialUDP("udp", nil, addr.(*net.UDPAddr))
		require.NoError(t, err)
		c = uc
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// polledUDP makes a connected, non-blocking evsel datagram socket behave
// like a blocking one with a read deadline, by retrying every millisecond.
type polledUDP struct {
	s        *evsel.Socket
	deadline time.Time
}

func (c *polledUDP) Write(p []byte) (int, error) {
	for {
		n, err := c.s.Write(p)
		if err != evsel.ErrWouldBlock {
			return n, err
		}
		time.Sleep(time.Millisecond)
	}
}

func (c *polledUDP) Read(p []byte) (int, error) {
	for {
		n, _, _, err := c.s.RecvFrom(p)
		if err != evsel.ErrWouldBlock {
			return n, err
		}
		if !c.deadline.IsZero() && time.Now().After(c.deadline) {
			return 0, os.ErrDeadlineExceeded
		}
		time.Sleep(time.Millisecond)
	}
}

func (c *polledUDP) SetReadDeadline(t time.Time) error { c.deadline = t; return nil }
func (c *polledUDP) Close() error                      { return c.s.Close() }

// udpEchoServer runs an echo server outside the engine (net's, except
// under Wine: see udpPeer) until the end of the test and returns its
// address.
func udpEchoServer(t *testing.T) net.Addr {
	t.Helper()
	if testenv.Wine {
		s, err := evsel.ListenPacket("udp", "127.0.0.1:0")
		require.NoError(t, err)
		addr, err := s.LocalAddr()
		require.NoError(t, err)
		done := make(chan struct{})
		go func() {
			defer close(done)
			buf := make([]byte, 2048)
			for {
				n, from, _, err := s.RecvFrom(buf)
				switch {
				case err == evsel.ErrWouldBlock:
					time.Sleep(time.Millisecond)
				case err != nil:
					return // closed
				default:
					s.SendTo(buf[:n], from)
				}
			}
		}()
		t.Cleanup(func() { s.Close(); <-done })
		return addr
	}
	srv, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			n, from, err := srv.ReadFromUDP(buf)
			if err != nil {
				return
			}
			srv.WriteToUDP(buf[:n], from)
		}
	}()
	t.Cleanup(func() { srv.Close(); <-done })
	return srv.LocalAddr()
}

// bindUDP binds a datagram socket to addr and closes it: whether the
// address is free.
func bindUDP(addr string) error {
	if testenv.Wine {
		s, err := evsel.ListenPacket("udp", addr)
		if err == nil {
			s.Close()
		}
		return err
	}
	l, err := net.ListenPacket("udp", addr)
	if err == nil {
		l.Close()
	}
	return err
}
