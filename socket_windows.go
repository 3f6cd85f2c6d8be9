//go:build windows

package evsel

import (
	"io"
	"net"
	"sync"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Socket is a stream socket over a raw Winsock SOCKET, non-blocking unless
// SetBlocking(true) is called. It is not attached to Go's runtime poller, so
// the owner decides when to read or write — typically after a Poller reported
// readiness. A Socket is not safe for concurrent use; its handle belongs to
// one goroutine, like a Python socket belongs to one selector loop.
//
// The handle is kept as an int, as the Poller API takes descriptors as ints;
// on Windows that is the SOCKET handle's value.
type Socket struct {
	fd     int
	family Family
	iov    []windows.WSABuf // Writev's scratch, kept to not allocate per call
}

// wsaStartup initialises Winsock once. Go's net package does it too when it
// is linked in; a second WSAStartup only bumps a count.
var wsaStartup = sync.OnceValue(func() error {
	var d windows.WSAData
	return wrapErr("WSAStartup", windows.WSAStartup(uint32(0x202), &d))
})

func sysFamily(f Family) int32 {
	switch f {
	case IPv4:
		return windows.AF_INET
	case IPv6:
		return windows.AF_INET6
	case Unix:
		return windows.AF_UNIX
	}
	return -1
}

// NewSocket returns a new non-blocking, non-inheritable stream socket.
// Family Unix needs a Windows with AF_UNIX support (10 1803 and later).
func NewSocket(family Family) (*Socket, error) {
	if err := wsaStartup(); err != nil {
		return nil, err
	}
	af := sysFamily(family)
	if af < 0 {
		return nil, wrapErr("socket", windows.WSAEAFNOSUPPORT)
	}
	proto := int32(windows.IPPROTO_TCP)
	if family == Unix {
		proto = 0
	}
	h, err := windows.WSASocket(af, windows.SOCK_STREAM, proto, nil, 0,
		windows.WSA_FLAG_OVERLAPPED|windows.WSA_FLAG_NO_HANDLE_INHERIT)
	if err == windows.WSAEINVAL {
		// Systems before Windows 7 SP1 lack WSA_FLAG_NO_HANDLE_INHERIT.
		h, err = windows.WSASocket(af, windows.SOCK_STREAM, proto, nil, 0, windows.WSA_FLAG_OVERLAPPED)
		if err == nil {
			windows.SetHandleInformation(h, windows.HANDLE_FLAG_INHERIT, 0)
		}
	}
	if err != nil {
		return nil, wrapErr("socket", err)
	}
	s := &Socket{fd: int(h), family: family}
	if err := s.SetBlocking(false); err != nil {
		windows.Closesocket(h)
		return nil, err
	}
	return s, nil
}

// Socketpair returns two connected non-blocking stream sockets.
//
// Winsock has no socketpair, so this does what Python's socket.socketpair
// does on Windows: it connects two TCP sockets over the IPv4 loopback
// through a listener that lives only for the call, and checks that the
// accepted peer is the socket it connected (not another process that raced
// to the port). The pair's Family is therefore IPv4, not Unix. TCP_NODELAY is
// set on both, so small writes are not held back as they would not be on a
// Unix socket.
func Socketpair() (*Socket, *Socket, error) {
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

// Fd returns the SOCKET handle, so a Socket can be registered with a
// selector.
func (s *Socket) Fd() uintptr { return uintptr(s.fd) }

// Family returns the socket's address family.
func (s *Socket) Family() Family { return s.family }

func (s *Socket) ok() error {
	if s == nil || s.fd < 0 {
		return ErrClosed
	}
	return nil
}

func (s *Socket) h() windows.Handle { return windows.Handle(s.fd) }

// Close closes the socket. Pending AFD polls on it complete with
// AFD_POLL_LOCAL_CLOSE, and the IOCP poller forgets it by itself; calling
// Delete first is still the rule.
func (s *Socket) Close() error {
	if err := s.ok(); err != nil {
		return err
	}
	h := s.h()
	s.fd = -1
	return wrapErr("closesocket", windows.Closesocket(h))
}

// SetBlocking switches the socket between blocking and non-blocking mode,
// like Python's socket.setblocking. Blocking sockets block the calling OS
// thread; they exist for the simple blocking examples.
func (s *Socket) SetBlocking(blocking bool) error {
	if err := s.ok(); err != nil {
		return err
	}
	var arg uint32
	if !blocking {
		arg = 1
	}
	return errnoErr("ioctlsocket(FIONBIO)", winIoctlsocket(s.h(), fionbio, &arg))
}

// Bind assigns a local address (a *net.TCPAddr or *net.UnixAddr).
func (s *Socket) Bind(addr net.Addr) error {
	if err := s.ok(); err != nil {
		return err
	}
	sa, err := toSockaddr(addr)
	if err != nil {
		return err
	}
	return wrapErr("bind", windows.Bind(s.h(), sa))
}

// Listen marks the socket as accepting connections; a backlog of 0 or less
// means the system maximum.
func (s *Socket) Listen(backlog int) error {
	if err := s.ok(); err != nil {
		return err
	}
	if backlog <= 0 {
		backlog = windows.SOMAXCONN
	}
	return wrapErr("listen", windows.Listen(s.h(), backlog))
}

// Accept returns the next pending connection as a non-blocking socket, or
// ErrWouldBlock when there is none.
func (s *Socket) Accept() (*Socket, net.Addr, error) {
	if err := s.ok(); err != nil {
		return nil, nil, err
	}
	for {
		var rsa windows.RawSockaddrAny
		l := int32(unsafe.Sizeof(rsa))
		h, errno := winAccept(s.h(), &rsa, &l)
		switch errno {
		case 0:
		case windows.WSAECONNRESET, windows.WSAECONNABORTED, windows.WSAEINTR:
			// The peer gave up while queued; take the next one.
			continue
		default:
			return nil, nil, errnoErr("accept", errno)
		}
		// The accepted socket inherits the listener's attributes, which
		// include non-inheritability but, for a blocking listener, not the
		// mode wanted here.
		ns := &Socket{fd: int(h), family: s.family}
		if err := ns.SetBlocking(false); err != nil {
			windows.Closesocket(h)
			return nil, nil, err
		}
		var addr net.Addr
		if sa, err := rsa.Sockaddr(); err == nil {
			addr = fromSockaddr(sa)
		} else if s.family == Unix {
			addr = &net.UnixAddr{Net: "unix"}
		}
		return ns, addr, nil
	}
}

// AcceptSocket is Accept returning the socket by value, for engines that
// keep one Socket per connection; the peer's address is not returned (ask
// RemoteAddr when it is wanted).
func (s *Socket) AcceptSocket() (Socket, error) {
	ns, _, err := s.Accept()
	if err != nil {
		return Socket{fd: -1}, err
	}
	return *ns, nil
}

// Connect starts connecting to addr with Python's connect_ex semantics: it
// returns nil when connected at once, ErrInProgress (unwrapped) when the
// connect goes on in the background, or the error. Windows answers a
// non-blocking connect with WSAEWOULDBLOCK, which becomes ErrInProgress.
func (s *Socket) Connect(addr net.Addr) error {
	if err := s.ok(); err != nil {
		return err
	}
	sa, err := toSockaddr(addr)
	if err != nil {
		return err
	}
	switch err := windows.Connect(s.h(), sa); err {
	case nil:
		return nil
	case windows.WSAEWOULDBLOCK, windows.WSAEINPROGRESS, windows.WSAEALREADY, windows.WSAEINTR:
		return ErrInProgress
	default:
		return wrapErr("connect", err)
	}
}

// ConnectResult reports how a connect that returned ErrInProgress ended,
// once the socket is writable: nil on success, else the SO_ERROR error
// (WSAECONNREFUSED, WSAETIMEDOUT, ...).
func (s *Socket) ConnectResult() error {
	if err := s.ok(); err != nil {
		return err
	}
	e, err := windows.GetsockoptInt(s.h(), windows.SOL_SOCKET, soError)
	if err != nil {
		return wrapErr("getsockopt", err)
	}
	if e != 0 {
		return wrapErr("connect", windows.Errno(e))
	}
	if _, err := windows.Getpeername(s.h()); err != nil {
		if err == windows.WSAENOTCONN {
			return ErrInProgress
		}
		return wrapErr("getpeername", err)
	}
	return nil
}

// Read reads into p. It returns ErrWouldBlock when nothing is buffered and
// io.EOF when the peer has shut down its side (or this side shut down
// reading, which Winsock reports as WSAESHUTDOWN and unix as end of file).
func (s *Socket) Read(p []byte) (int, error) {
	if err := s.ok(); err != nil {
		return 0, err
	}
	n, errno := winRecv(s.h(), p)
	switch {
	case errno == windows.WSAESHUTDOWN:
		return 0, io.EOF
	case errno != 0:
		return 0, errnoErr("recv", errno)
	case n == 0 && len(p) > 0:
		return 0, io.EOF
	}
	return n, nil
}

// Write writes as much of p as the system accepts now; a short count is not
// an error. It returns ErrWouldBlock when the send buffer is full.
func (s *Socket) Write(p []byte) (int, error) {
	if err := s.ok(); err != nil {
		return 0, err
	}
	n, errno := winSend(s.h(), p)
	if errno != 0 {
		return 0, errnoErr("send", errno)
	}
	return n, nil
}

// Writev writes the buffers in order with one WSASend, returning the total
// bytes written.
func (s *Socket) Writev(bufs [][]byte) (int, error) {
	if err := s.ok(); err != nil {
		return 0, err
	}
	if cap(s.iov) < len(bufs) {
		s.iov = make([]windows.WSABuf, len(bufs))
	}
	iov := s.iov[:len(bufs)]
	for i, b := range bufs {
		iov[i] = windows.WSABuf{Len: uint32(clampLen(len(b)))}
		if len(b) > 0 {
			iov[i].Buf = &b[0]
		}
	}
	n, errno := winWSASend(s.h(), iov)
	clear(iov) // do not keep the caller's buffers alive
	if errno != 0 {
		return 0, errnoErr("WSASend", errno)
	}
	return n, nil
}

// Shutdown closes one or both directions of the connection.
func (s *Socket) Shutdown(how ShutdownHow) error {
	if err := s.ok(); err != nil {
		return err
	}
	var h int
	switch how {
	case ShutRead:
		h = windows.SHUT_RD
	case ShutWrite:
		h = windows.SHUT_WR
	case ShutBoth:
		h = windows.SHUT_RDWR
	default:
		return wrapErr("shutdown", windows.WSAEINVAL)
	}
	return wrapErr("shutdown", windows.Shutdown(s.h(), h))
}

// LocalAddr returns the bound address.
func (s *Socket) LocalAddr() (net.Addr, error) {
	if err := s.ok(); err != nil {
		return nil, err
	}
	sa, err := windows.Getsockname(s.h())
	if err != nil {
		return nil, wrapErr("getsockname", err)
	}
	return fromSockaddr(sa), nil
}

// RemoteAddr returns the peer's address.
func (s *Socket) RemoteAddr() (net.Addr, error) {
	if err := s.ok(); err != nil {
		return nil, err
	}
	sa, err := windows.Getpeername(s.h())
	if err != nil {
		return nil, wrapErr("getpeername", err)
	}
	return fromSockaddr(sa), nil
}

func (s *Socket) setInt(level, opt, v int) error {
	if err := s.ok(); err != nil {
		return err
	}
	return wrapErr("setsockopt", windows.SetsockoptInt(s.h(), level, opt, v))
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// SetNoDelay sets TCP_NODELAY (disables Nagle's algorithm).
func (s *Socket) SetNoDelay(on bool) error {
	return s.setInt(windows.IPPROTO_TCP, windows.TCP_NODELAY, boolInt(on))
}

// SetKeepAlive sets SO_KEEPALIVE.
func (s *Socket) SetKeepAlive(on bool) error {
	return s.setInt(windows.SOL_SOCKET, windows.SO_KEEPALIVE, boolInt(on))
}

// SetReuseAddr asks for the unix meaning of SO_REUSEADDR: that a restarted
// server can bind its port while old connections sit in TIME_WAIT. Windows
// allows that by default, and its own SO_REUSEADDR means something else and
// dangerous — another socket could bind the very port a live listener holds
// and steal its connections — so it is never set (Go's net package does the
// same). SetReuseAddr(true) therefore changes nothing; SetReuseAddr(false)
// sets SO_EXCLUSIVEADDRUSE, which also keeps other sockets from binding the
// port with SO_REUSEADDR. Both must come before Bind.
func (s *Socket) SetReuseAddr(on bool) error {
	if err := s.ok(); err != nil {
		return err
	}
	if on {
		return nil
	}
	return s.setInt(windows.SOL_SOCKET, int(soExclusiveAddrUse), 1)
}

// SetReusePort fails with WSAEOPNOTSUPP: Windows has no SO_REUSEPORT, no way
// to let the kernel spread one port's connections over several listeners.
// Callers fall back to one listener.
func (s *Socket) SetReusePort(on bool) error {
	if err := s.ok(); err != nil {
		return err
	}
	if !on {
		return nil
	}
	return wrapErr("setsockopt(SO_REUSEPORT)", windows.WSAEOPNOTSUPP)
}

// SetReadBuffer sets SO_RCVBUF.
func (s *Socket) SetReadBuffer(bytes int) error {
	return s.setInt(windows.SOL_SOCKET, windows.SO_RCVBUF, bytes)
}

// SetWriteBuffer sets SO_SNDBUF.
func (s *Socket) SetWriteBuffer(bytes int) error {
	return s.setInt(windows.SOL_SOCKET, windows.SO_SNDBUF, bytes)
}

// SetLinger sets SO_LINGER. A negative value restores the default; zero
// makes Close discard unsent data and send a reset (RST) to the peer.
func (s *Socket) SetLinger(sec int) error {
	if err := s.ok(); err != nil {
		return err
	}
	l := windows.Linger{Onoff: int32(boolInt(sec >= 0)), Linger: int32(min(max(sec, 0), 0xffff))}
	return wrapErr("setsockopt", windows.SetsockoptLinger(s.h(), windows.SOL_SOCKET, windows.SO_LINGER, &l))
}

func toSockaddr(addr net.Addr) (windows.Sockaddr, error) {
	switch a := addr.(type) {
	case *net.TCPAddr:
		if ip4 := a.IP.To4(); ip4 != nil {
			sa := &windows.SockaddrInet4{Port: a.Port}
			copy(sa.Addr[:], ip4)
			return sa, nil
		}
		sa := &windows.SockaddrInet6{Port: a.Port}
		copy(sa.Addr[:], a.IP.To16())
		if a.Zone != "" {
			if ifi, err := net.InterfaceByName(a.Zone); err == nil {
				sa.ZoneId = uint32(ifi.Index)
			}
		}
		return sa, nil
	case *net.UnixAddr:
		return &windows.SockaddrUnix{Name: a.Name}, nil
	}
	return nil, wrapErr("sockaddr", windows.WSAEAFNOSUPPORT)
}

func fromSockaddr(sa windows.Sockaddr) net.Addr {
	switch sa := sa.(type) {
	case *windows.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(sa.Addr[:]).To16(), Port: sa.Port}
	case *windows.SockaddrInet6:
		a := &net.TCPAddr{IP: append(net.IP(nil), sa.Addr[:]...), Port: sa.Port}
		if sa.ZoneId != 0 {
			if ifi, err := net.InterfaceByIndex(int(sa.ZoneId)); err == nil {
				a.Zone = ifi.Name
			}
		}
		return a
	case *windows.SockaddrUnix:
		return &net.UnixAddr{Name: sa.Name, Net: "unix"}
	}
	return nil
}
