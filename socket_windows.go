//go:build windows

package evsel

import (
	"net"
	"sync"
	"unsafe"

	"golang.org/x/sys/windows"
)

// The Winsock calls beneath Socket (socket_posix.go). Each takes the SOCKET
// handle's value as the int descriptor, and answers in the terms of unix
// where Winsock differs: a non-blocking connect is in progress rather than
// would-block, a reset while queued for accept is an aborted connection,
// reading after a shutdown is end of file. The calls of the hot path
// (accept, recv, send, WSASend, ioctlsocket) go through the raw procedures
// of syscall_windows.go, so that WSAEWOULDBLOCK is not boxed anew each time.

type (
	sockaddr      = windows.Sockaddr
	sockaddrInet4 = windows.SockaddrInet4
	sockaddrInet6 = windows.SockaddrInet6
	sockaddrUnix  = windows.SockaddrUnix
)

const (
	afInet     = windows.AF_INET
	afInet6    = windows.AF_INET6
	afUnix     = windows.AF_UNIX
	sockStream = windows.SOCK_STREAM
	somaxconn  = windows.SOMAXCONN

	shutRd   = windows.SHUT_RD
	shutWr   = windows.SHUT_WR
	shutRdwr = windows.SHUT_RDWR

	solSocket   = windows.SOL_SOCKET
	ipprotoTCP  = windows.IPPROTO_TCP
	tcpNoDelay  = windows.TCP_NODELAY
	ipprotoIPv6 = windows.IPPROTO_IPV6
	ipv6V6Only  = windows.IPV6_V6ONLY
	soKeepAlive = windows.SO_KEEPALIVE
	soRcvBuf    = windows.SO_RCVBUF
	soSndBuf    = windows.SO_SNDBUF
	maxLinger   = 0xffff // struct linger's l_linger is a u_short
)

// sockState is what a Socket keeps besides its handle on Windows: its
// family, which getsockname cannot tell before the socket is bound, and
// Writev's scratch, kept so that a gathering write does not allocate.
type sockState struct {
	fam Family
	iov []windows.WSABuf
}

func newSockState(f Family) sockState { return sockState{fam: f} }

// accepted is the state of a socket accepted from this listener.
func (st *sockState) accepted() sockState { return sockState{fam: st.fam} }

func (st *sockState) family(int) Family { return st.fam }

// writev is one synchronous WSASend of the buffers, maxWritevBufs at most.
func (st *sockState) writev(fd int, bufs [][]byte) (int, error) {
	bufs = bufs[:min(len(bufs), maxWritevBufs)]
	if cap(st.iov) < len(bufs) {
		st.iov = make([]windows.WSABuf, len(bufs))
	}
	iov := st.iov[:len(bufs)]
	for i, b := range bufs {
		iov[i] = windows.WSABuf{Len: uint32(clampLen(len(b)))}
		if len(b) > 0 {
			iov[i].Buf = &b[0]
		}
	}
	n, errno := winWSASend(windows.Handle(fd), iov)
	clear(iov) // do not keep the caller's buffers alive
	return n, errnoError(errno)
}

// wsaStartup initialises Winsock once. Go's net package does it too when it
// is linked in; a second WSAStartup only bumps a count.
var wsaStartup = sync.OnceValue(func() error {
	var d windows.WSAData
	return windows.WSAStartup(uint32(0x202), &d)
})

// sysSocket returns a non-blocking, non-inheritable socket. It is opened
// for overlapped I/O, which AFD polling needs.
func sysSocket(af, sotype, proto int) (int, error) {
	if err := wsaStartup(); err != nil {
		return -1, err
	}
	h, err := windows.WSASocket(int32(af), int32(sotype), int32(proto), nil, 0,
		windows.WSA_FLAG_OVERLAPPED|windows.WSA_FLAG_NO_HANDLE_INHERIT)
	if err == windows.WSAEINVAL {
		// Systems before Windows 7 SP1 lack WSA_FLAG_NO_HANDLE_INHERIT.
		h, err = windows.WSASocket(int32(af), int32(sotype), int32(proto), nil, 0, windows.WSA_FLAG_OVERLAPPED)
		if err == nil {
			windows.SetHandleInformation(h, windows.HANDLE_FLAG_INHERIT, 0)
		}
	}
	if err != nil {
		return -1, err
	}
	if err := sysSetNonblock(int(h), true); err != nil {
		windows.Closesocket(h)
		return -1, err
	}
	return int(h), nil
}

func sysAccept(fd int) (int, sockaddr, error) {
	var rsa windows.RawSockaddrAny
	l := int32(unsafe.Sizeof(rsa))
	nfd, err := accept(windows.Handle(fd), &rsa, &l)
	if err != nil {
		return -1, nil, err
	}
	sa, err := rsa.Sockaddr()
	if err != nil {
		// An unnamed AF_UNIX peer can come without even its family; the
		// listener's own tells what it is.
		if lsa, _ := windows.Getsockname(windows.Handle(fd)); lsa != nil {
			if _, ok := lsa.(*windows.SockaddrUnix); ok {
				sa = &windows.SockaddrUnix{}
			}
		}
	}
	return nfd, sa, nil
}

// sysAcceptNoAddr is accept with no address buffer: no sockaddr to convert,
// so nothing is allocated.
func sysAcceptNoAddr(fd int) (int, error) { return accept(windows.Handle(fd), nil, nil) }

// accept takes the next connection and makes it non-blocking: Winsock gives
// an accepted socket the listener's attributes (non-inheritability among
// them), so a blocking listener's connections would block. A connection
// reset while it was queued is reported as the aborted connection it is on
// unix, which Accept skips.
func accept(l windows.Handle, rsa *windows.RawSockaddrAny, rsaLen *int32) (int, error) {
	h, errno := winAccept(l, rsa, rsaLen)
	switch errno {
	case 0:
	case windows.WSAECONNRESET:
		return -1, errConnAborted
	default:
		return -1, errnoError(errno)
	}
	if err := sysSetNonblock(int(h), true); err != nil {
		windows.Closesocket(h)
		return -1, err
	}
	return int(h), nil
}

// sysConnect is connect, whose non-blocking form answers WSAEWOULDBLOCK
// where unix answers EINPROGRESS.
func sysConnect(fd int, sa sockaddr) error {
	err := windows.Connect(windows.Handle(fd), sa)
	if err == windows.WSAEWOULDBLOCK {
		return errInProgress
	}
	return err
}

// sysRead is recv. Reading after this side shut reading down fails with
// WSAESHUTDOWN on Windows and reads end of file on unix, which it does here
// too.
func sysRead(fd int, p []byte) (int, error) {
	n, errno := winRecv(windows.Handle(fd), p)
	if errno == windows.WSAESHUTDOWN {
		return 0, nil
	}
	return n, errnoError(errno)
}

func sysWrite(fd int, p []byte) (int, error) {
	n, errno := winSend(windows.Handle(fd), p)
	return n, errnoError(errno)
}

func sysSetNonblock(fd int, nonblock bool) error {
	arg := uint32(boolInt(nonblock))
	return errnoError(winIoctlsocket(windows.Handle(fd), fionbio, &arg))
}

func sysClose(fd int) error                   { return windows.Closesocket(windows.Handle(fd)) }
func sysBind(fd int, sa sockaddr) error       { return windows.Bind(windows.Handle(fd), sa) }
func sysListen(fd, backlog int) error         { return windows.Listen(windows.Handle(fd), backlog) }
func sysShutdown(fd, how int) error           { return windows.Shutdown(windows.Handle(fd), how) }
func sysGetsockname(fd int) (sockaddr, error) { return windows.Getsockname(windows.Handle(fd)) }
func sysGetpeername(fd int) (sockaddr, error) { return windows.Getpeername(windows.Handle(fd)) }

func sysGetsockoptInt(fd, level, opt int) (int, error) {
	return windows.GetsockoptInt(windows.Handle(fd), level, opt)
}

func sysSetsockoptInt(fd, level, opt, v int) error {
	return windows.SetsockoptInt(windows.Handle(fd), level, opt, v)
}

// sysSetReuseAddr never sets Windows' SO_REUSEADDR, which lets another
// socket take over a bound port (see SetReuseAddr); off asks for
// SO_EXCLUSIVEADDRUSE.
func sysSetReuseAddr(fd int, on bool) error {
	if on {
		return nil
	}
	return sysSetsockoptInt(fd, windows.SOL_SOCKET, int(soExclusiveAddrUse), 1)
}

// sysSetReusePort: Windows has no SO_REUSEPORT.
func sysSetReusePort(fd int, on bool) error {
	if !on {
		return nil
	}
	return windows.WSAEOPNOTSUPP
}

func sysSetLinger(fd int, on bool, sec int) error {
	l := windows.Linger{Onoff: int32(boolInt(on)), Linger: int32(sec)}
	return windows.SetsockoptLinger(windows.Handle(fd), windows.SOL_SOCKET, windows.SO_LINGER, &l)
}

// socketpair emulates socketpair(2) over the IPv4 loopback (see Socketpair).
func socketpair() (*Socket, *Socket, error) {
	l, err := NewSocket(IPv4)
	if err != nil {
		return nil, nil, err
	}
	defer l.Close()
	if err := l.Bind(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
		return nil, nil, err
	}
	if err := l.Listen(1); err != nil {
		return nil, nil, err
	}
	laddr, err := l.LocalAddr()
	if err != nil {
		return nil, nil, err
	}
	if err := l.SetBlocking(true); err != nil {
		return nil, nil, err
	}
	c, err := NewSocket(IPv4)
	if err != nil {
		return nil, nil, err
	}
	a, err := socketpairConnect(l, c, laddr)
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	return c, a, nil
}

func socketpairConnect(l, c *Socket, laddr net.Addr) (*Socket, error) {
	// A blocking connect to a listening loopback socket returns once the
	// handshake is done, before the accept.
	if err := c.SetBlocking(true); err != nil {
		return nil, err
	}
	if err := c.Connect(laddr); err != nil {
		return nil, err
	}
	if err := c.SetBlocking(false); err != nil {
		return nil, err
	}
	caddr, err := c.LocalAddr()
	if err != nil {
		return nil, err
	}
	for {
		a, peer, err := l.Accept() // blocking, and returns a non-blocking socket
		if err != nil {
			return nil, err
		}
		if peer.String() == caddr.String() {
			c.SetNoDelay(true)
			a.SetNoDelay(true)
			return a, nil
		}
		a.Close() // someone else's connection
	}
}
