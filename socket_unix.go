//go:build unix

package evsel

import (
	"io"
	"net"

	"golang.org/x/sys/unix"
)

// ErrInProgress is the error Connect returns, unwrapped, when a non-blocking
// connect has started: wait for the socket to become writable, then call
// ConnectResult.
var ErrInProgress error = unix.EINPROGRESS

// Writes to a socket whose peer is gone fail with EPIPE rather than killing
// the process: Go's runtime ignores SIGPIPE for descriptors other than stdout
// and stderr.

// Socket is a stream socket over a raw descriptor, non-blocking unless
// SetBlocking(true) is called. It is not attached to Go's runtime poller, so
// the owner decides when to read or write — typically after a Poller reported
// readiness. A Socket is not safe for concurrent use; its descriptor belongs
// to one goroutine, like a Python socket belongs to one selector loop.
type Socket struct {
	fd int // the only field: an engine keeps one Socket per connection
}

func sysFamily(f Family) int {
	switch f {
	case IPv4:
		return unix.AF_INET
	case IPv6:
		return unix.AF_INET6
	case Unix:
		return unix.AF_UNIX
	}
	return -1
}

// NewSocket returns a new non-blocking, close-on-exec stream socket.
func NewSocket(family Family) (*Socket, error) {
	af := sysFamily(family)
	if af < 0 {
		return nil, wrapErr("socket", unix.EAFNOSUPPORT)
	}
	fd, err := sysSocket(af, unix.SOCK_STREAM, 0)
	if err != nil {
		return nil, wrapErr("socket", err)
	}
	return &Socket{fd: fd}, nil
}

// Socketpair returns two connected non-blocking Unix stream sockets.
func Socketpair() (*Socket, *Socket, error) {
	fds, err := sysSocketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		return nil, nil, wrapErr("socketpair", err)
	}
	return &Socket{fd: fds[0]}, &Socket{fd: fds[1]}, nil
}

// Fd returns the descriptor, so a Socket can be registered with a selector.
func (s *Socket) Fd() uintptr { return uintptr(s.fd) }

// Family returns the socket's address family. It asks the kernel rather
// than storing it, to keep a Socket one word.
func (s *Socket) Family() Family {
	if s.ok() != nil {
		return 0
	}
	sa, err := unix.Getsockname(s.fd)
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

func (s *Socket) ok() error {
	if s == nil || s.fd < 0 {
		return ErrClosed
	}
	return nil
}

// Close closes the descriptor. The caller must remove it from any poller
// first if the poller tracks registrations in user space.
func (s *Socket) Close() error {
	if err := s.ok(); err != nil {
		return err
	}
	fd := s.fd
	s.fd = -1
	return wrapErr("close", unix.Close(fd))
}

// SetBlocking switches the socket between blocking and non-blocking mode,
// like Python's socket.setblocking. Blocking sockets block the calling OS
// thread; they exist for the simple blocking examples.
func (s *Socket) SetBlocking(blocking bool) error {
	if err := s.ok(); err != nil {
		return err
	}
	return wrapErr("setnonblock", unix.SetNonblock(s.fd, !blocking))
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
	return wrapErr("bind", unix.Bind(s.fd, sa))
}

// Listen marks the socket as accepting connections; a backlog of 0 or less
// means the system maximum.
func (s *Socket) Listen(backlog int) error {
	if err := s.ok(); err != nil {
		return err
	}
	if backlog <= 0 {
		backlog = unix.SOMAXCONN
	}
	return wrapErr("listen", unix.Listen(s.fd, backlog))
}

// Accept returns the next pending connection as a non-blocking socket, or
// ErrWouldBlock when there is none.
func (s *Socket) Accept() (*Socket, net.Addr, error) {
	if err := s.ok(); err != nil {
		return nil, nil, err
	}
	for {
		fd, sa, err := sysAccept(s.fd)
		switch err {
		case nil:
			return &Socket{fd: fd}, fromSockaddr(sa), nil
		case unix.EINTR, unix.ECONNABORTED:
			// ECONNABORTED: the peer gave up while queued; take the next one.
			continue
		default:
			return nil, nil, wrapErr("accept", err)
		}
	}
}

// AcceptSocket is Accept for engines that accept many connections: it
// returns the socket by value and does not build the peer's address (ask
// RemoteAddr when it is wanted), so accepting leaves no garbage behind.
func (s *Socket) AcceptSocket() (Socket, error) {
	if err := s.ok(); err != nil {
		return Socket{fd: -1}, err
	}
	for {
		fd, err := sysAcceptNoAddr(s.fd)
		switch err {
		case nil:
			return Socket{fd: fd}, nil
		case unix.EINTR, unix.ECONNABORTED:
			continue
		default:
			return Socket{fd: -1}, wrapErr("accept", err)
		}
	}
}

// Connect starts connecting to addr with Python's connect_ex semantics: it
// returns nil when connected at once, ErrInProgress (unwrapped) when the
// connect goes on in the background, or the error.
func (s *Socket) Connect(addr net.Addr) error {
	if err := s.ok(); err != nil {
		return err
	}
	sa, err := toSockaddr(addr)
	if err != nil {
		return err
	}
	switch err := unix.Connect(s.fd, sa); err {
	case nil:
		return nil
	case unix.EINPROGRESS, unix.EINTR, unix.EALREADY:
		// After EINTR the connect goes on asynchronously, as POSIX says.
		return ErrInProgress
	default:
		return wrapErr("connect", err)
	}
}

// ConnectResult reports how a connect that returned ErrInProgress ended,
// once the socket is writable: nil on success, else the SO_ERROR errno
// (ECONNREFUSED, ETIMEDOUT, ...).
func (s *Socket) ConnectResult() error {
	if err := s.ok(); err != nil {
		return err
	}
	e, err := unix.GetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return wrapErr("getsockopt", err)
	}
	if e != 0 {
		return wrapErr("connect", unix.Errno(e))
	}
	// Writable without an error can still mean "not yet" on some systems;
	// getpeername is the authoritative answer.
	if _, err := unix.Getpeername(s.fd); err != nil {
		if err == unix.ENOTCONN {
			return ErrInProgress
		}
		return wrapErr("getpeername", err)
	}
	return nil
}

// Read reads into p. It returns ErrWouldBlock when nothing is buffered and
// io.EOF when the peer has shut down its side.
func (s *Socket) Read(p []byte) (int, error) {
	if err := s.ok(); err != nil {
		return 0, err
	}
	for {
		n, err := unix.Read(s.fd, p)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return 0, wrapErr("read", err)
		case n == 0 && len(p) > 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

// Write writes as much of p as the kernel accepts now; a short count is not
// an error. It returns ErrWouldBlock when the send buffer is full.
func (s *Socket) Write(p []byte) (int, error) {
	if err := s.ok(); err != nil {
		return 0, err
	}
	for {
		n, err := unix.Write(s.fd, p)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, wrapErr("write", err)
		}
		return n, nil
	}
}

// Writev writes the buffers in order with one system call where the
// platform has writev, returning the total bytes written.
func (s *Socket) Writev(bufs [][]byte) (int, error) {
	if err := s.ok(); err != nil {
		return 0, err
	}
	for {
		n, err := sysWritev(s.fd, bufs)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, wrapErr("writev", err)
		}
		return n, nil
	}
}

// Shutdown closes one or both directions of the connection.
func (s *Socket) Shutdown(how ShutdownHow) error {
	if err := s.ok(); err != nil {
		return err
	}
	var h int
	switch how {
	case ShutRead:
		h = unix.SHUT_RD
	case ShutWrite:
		h = unix.SHUT_WR
	case ShutBoth:
		h = unix.SHUT_RDWR
	default:
		// A map lookup used to turn an unknown value into SHUT_RD (0) and
		// silently shut the wrong direction.
		return wrapErr("shutdown", unix.EINVAL)
	}
	return wrapErr("shutdown", unix.Shutdown(s.fd, h))
}

// LocalAddr returns the bound address.
func (s *Socket) LocalAddr() (net.Addr, error) {
	if err := s.ok(); err != nil {
		return nil, err
	}
	sa, err := unix.Getsockname(s.fd)
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
	sa, err := unix.Getpeername(s.fd)
	if err != nil {
		return nil, wrapErr("getpeername", err)
	}
	return fromSockaddr(sa), nil
}

func (s *Socket) setInt(level, opt, v int) error {
	if err := s.ok(); err != nil {
		return err
	}
	return wrapErr("setsockopt", unix.SetsockoptInt(s.fd, level, opt, v))
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// SetNoDelay sets TCP_NODELAY (disables Nagle's algorithm).
func (s *Socket) SetNoDelay(on bool) error {
	return s.setInt(unix.IPPROTO_TCP, unix.TCP_NODELAY, boolInt(on))
}

// SetKeepAlive sets SO_KEEPALIVE.
func (s *Socket) SetKeepAlive(on bool) error {
	return s.setInt(unix.SOL_SOCKET, unix.SO_KEEPALIVE, boolInt(on))
}

// SetReuseAddr sets SO_REUSEADDR.
func (s *Socket) SetReuseAddr(on bool) error {
	return s.setInt(unix.SOL_SOCKET, unix.SO_REUSEADDR, boolInt(on))
}

// SetReusePort sets SO_REUSEPORT.
func (s *Socket) SetReusePort(on bool) error {
	return s.setInt(unix.SOL_SOCKET, unix.SO_REUSEPORT, boolInt(on))
}

// SetReadBuffer sets SO_RCVBUF.
func (s *Socket) SetReadBuffer(bytes int) error {
	return s.setInt(unix.SOL_SOCKET, unix.SO_RCVBUF, bytes)
}

// SetWriteBuffer sets SO_SNDBUF.
func (s *Socket) SetWriteBuffer(bytes int) error {
	return s.setInt(unix.SOL_SOCKET, unix.SO_SNDBUF, bytes)
}

// SetLinger sets SO_LINGER. A negative value restores the default; zero
// makes Close discard unsent data and send a reset (RST) to the peer.
func (s *Socket) SetLinger(sec int) error {
	if err := s.ok(); err != nil {
		return err
	}
	l := unix.Linger{Onoff: int32(boolInt(sec >= 0)), Linger: int32(max(sec, 0))}
	return wrapErr("setsockopt", unix.SetsockoptLinger(s.fd, unix.SOL_SOCKET, unix.SO_LINGER, &l))
}

func toSockaddr(addr net.Addr) (unix.Sockaddr, error) {
	switch a := addr.(type) {
	case *net.TCPAddr:
		if ip4 := a.IP.To4(); ip4 != nil {
			sa := &unix.SockaddrInet4{Port: a.Port}
			copy(sa.Addr[:], ip4)
			return sa, nil
		}
		sa := &unix.SockaddrInet6{Port: a.Port}
		copy(sa.Addr[:], a.IP.To16())
		if a.Zone != "" {
			if ifi, err := net.InterfaceByName(a.Zone); err == nil {
				sa.ZoneId = uint32(ifi.Index)
			}
		}
		return sa, nil
	case *net.UnixAddr:
		return &unix.SockaddrUnix{Name: a.Name}, nil
	}
	return nil, wrapErr("sockaddr", unix.EAFNOSUPPORT)
}

func fromSockaddr(sa unix.Sockaddr) net.Addr {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(sa.Addr[:]).To16(), Port: sa.Port}
	case *unix.SockaddrInet6:
		a := &net.TCPAddr{IP: append(net.IP(nil), sa.Addr[:]...), Port: sa.Port}
		if sa.ZoneId != 0 {
			if ifi, err := net.InterfaceByIndex(int(sa.ZoneId)); err == nil {
				a.Zone = ifi.Name
			}
		}
		return a
	case *unix.SockaddrUnix:
		return &net.UnixAddr{Name: sa.Name, Net: "unix"}
	}
	return nil
}
