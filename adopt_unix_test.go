//go:build unix

package evsel_test

import (
	"errors"
	"net"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/evsel/evsel"
)

// TestDupSocket: a duplicate of a net.Listener's socket accepts its
// connections, reports that it listens, and gives a file of its own; a
// datagram socket is refused and left open.
func TestDupSocket(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	rc, err := ln.(*net.TCPListener).SyscallConn()
	require.NoError(t, err)
	var s *evsel.Socket
	require.NoError(t, rc.Control(func(fd uintptr) { s, err = evsel.DupSocket(fd) }))
	require.NoError(t, err)
	defer s.Close()
	require.True(t, s.Listening())
	addr, err := s.LocalAddr()
	require.NoError(t, err)
	require.Equal(t, ln.Addr().String(), addr.String())

	f, err := s.File()
	require.NoError(t, err)
	require.NotEqual(t, s.Fd(), f.Fd())
	f.Close()

	c, err := net.Dial("tcp", addr.String())
	require.NoError(t, err)
	defer c.Close()
	a, _, err := s.Accept() // the connect is complete, so it is queued
	require.NoError(t, err)
	require.False(t, a.Listening())
	a.Close()

	require.False(t, s.IsDatagram())

	// A datagram socket is taken; a pipe is refused and stays open.
	udp, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	require.NoError(t, err)
	d, err := evsel.DupSocket(uintptr(udp))
	require.NoError(t, err)
	require.True(t, d.IsDatagram())
	require.NoError(t, d.Close())
	unix.Close(udp)

	var p [2]int
	require.NoError(t, unix.Pipe(p[:]))
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	_, err = evsel.SocketFromFD(uintptr(p[0]))
	require.True(t, errors.Is(err, evsel.ErrNotStream))
	_, err = unix.FcntlInt(uintptr(p[0]), unix.F_GETFD, 0)
	require.NoError(t, err, "a refused descriptor stays open")
}
