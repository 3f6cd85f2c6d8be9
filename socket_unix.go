//go:build unix

package evsel

import (
	"math"

	"golang.org/x/sys/unix"
)

// The unix system calls beneath Socket (socket_posix.go). The calls that
// create descriptors — socket, socketpair, accept — are in sock_cloexec.go
// or sock_forklock.go, depending on whether the system can make them
// non-blocking and close-on-exec in one step; write and writev are in
// socket_write_*.go and writev_*.go.

type (
	sockaddr      = unix.Sockaddr
	sockaddrInet4 = unix.SockaddrInet4
	sockaddrInet6 = unix.SockaddrInet6
	sockaddrUnix  = unix.SockaddrUnix
)

const (
	afInet     = unix.AF_INET
	afInet6    = unix.AF_INET6
	afUnix     = unix.AF_UNIX
	sockStream = unix.SOCK_STREAM
	somaxconn  = unix.SOMAXCONN

	shutRd   = unix.SHUT_RD
	shutWr   = unix.SHUT_WR
	shutRdwr = unix.SHUT_RDWR

	solSocket   = unix.SOL_SOCKET
	ipprotoTCP  = unix.IPPROTO_TCP
	tcpNoDelay  = unix.TCP_NODELAY
	ipprotoIPv6 = unix.IPPROTO_IPV6
	ipv6V6Only  = unix.IPV6_V6ONLY
	soKeepAlive = unix.SO_KEEPALIVE
	soRcvBuf    = unix.SO_RCVBUF
	soSndBuf    = unix.SO_SNDBUF
	soError     = unix.SO_ERROR
	maxLinger   = math.MaxInt32 // struct linger's l_linger is an int
)

// sockState is what a Socket keeps besides its descriptor: nothing on unix,
// where the kernel answers every question.
type sockState struct{}

func newSockState(Family) sockState { return sockState{} }

// accepted is the state of a socket accepted from this listener.
func (*sockState) accepted() sockState { return sockState{} }

func (*sockState) family(fd int) Family {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return 0
	}
	switch sa.(type) {
	case *unix.SockaddrInet4:
		return IPv4
	case *unix.SockaddrInet6:
		return IPv6
	case *unix.SockaddrUnix:
		return Unix
	}
	return 0
}

func (*sockState) writev(fd int, bufs [][]byte) (int, error) { return sysWritev(fd, bufs) }

func socketpair() (*Socket, *Socket, error) {
	fds, err := sysSocketpair(afUnix, sockStream, 0)
	if err != nil {
		return nil, nil, wrapErr("socketpair", err)
	}
	return &Socket{fdPlusOne: fds[0] + 1}, &Socket{fdPlusOne: fds[1] + 1}, nil
}

func sysClose(fd int) error                      { return unix.Close(fd) }
func sysSetNonblock(fd int, nonblock bool) error { return unix.SetNonblock(fd, nonblock) }
func sysBind(fd int, sa sockaddr) error          { return unix.Bind(fd, sa) }
func sysListen(fd, backlog int) error            { return unix.Listen(fd, backlog) }
func sysConnect(fd int, sa sockaddr) error       { return unix.Connect(fd, sa) }
func sysRead(fd int, p []byte) (int, error)      { return unix.Read(fd, p) }
func sysShutdown(fd, how int) error              { return unix.Shutdown(fd, how) }
func sysGetsockname(fd int) (sockaddr, error)    { return unix.Getsockname(fd) }
func sysGetpeername(fd int) (sockaddr, error)    { return unix.Getpeername(fd) }

func sysGetsockoptInt(fd, level, opt int) (int, error) { return unix.GetsockoptInt(fd, level, opt) }
func sysSetsockoptInt(fd, level, opt, v int) error     { return unix.SetsockoptInt(fd, level, opt, v) }

func sysSetReuseAddr(fd int, on bool) error {
	return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, boolInt(on))
}

func sysSetReusePort(fd int, on bool) error {
	return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, boolInt(on))
}

func sysSetLinger(fd int, on bool, sec int) error {
	l := unix.Linger{Onoff: int32(boolInt(on)), Linger: int32(sec)}
	return unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &l)
}

// pollNow polls fd for events without waiting and returns what it
// reports; ok is false if the poll failed.
func pollNow(fd int, events int16) (revents int16, ok bool) {
	pfd := [1]unix.PollFd{{Fd: int32(fd), Events: events}}
	_, err := ignoringEINTR(func() (int, error) { return unix.Poll(pfd[:], 0) })
	return pfd[0].Revents, err == nil
}
