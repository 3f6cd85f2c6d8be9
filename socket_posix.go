//go:build unix || windows

package evsel

import (
	"io"
	"net"
	"os"
	"syscall"
)

// The portable half of Socket: its type, its methods and their documents.
// What differs between systems is only the system calls beneath, in
// socket_unix.go and socket_windows.go, each a thin wrapper that takes and
// gives descriptors as ints and answers with the unix meaning of its errors
// (a non-blocking connect on Windows is "in progress", not "would block").
// The options are in sockopt_posix.go, the address conversions in
// sockaddr_posix.go.

var (
	// ErrWouldBlock is returned, unwrapped, by non-blocking operations that
	// cannot proceed now (EAGAIN on unix, WSAEWOULDBLOCK on Windows). Compare
	// with == or errors.Is.
	ErrWouldBlock error = errWouldBlock

	// ErrInProgress is the error Connect returns, unwrapped, when a
	// non-blocking connect has started: wait for the socket to become
	// writable, then call ConnectResult. Windows itself answers such a
	// connect with WSAEWOULDBLOCK (or WSAEALREADY when asked again); Connect
	// turns every such answer into this one value, EINPROGRESS (or
	// WSAEINPROGRESS), so that portable code tests for one error.
	ErrInProgress error = errInProgress
)

// Writes to a socket whose peer is gone fail with EPIPE rather than killing
// the process: Go's runtime ignores SIGPIPE for descriptors other than stdout
// and stderr.

// Socket is a stream socket over a raw descriptor (on Windows a Winsock
// SOCKET, whose handle value serves as the descriptor), non-blocking unless
// SetBlocking(true) is called. It is not attached to Go's runtime poller, so
// the owner decides when to read or write — typically after a Poller
// reported readiness. A Socket is not safe for concurrent use; its
// descriptor belongs to one goroutine, like a Python socket belongs to one
// selector loop.
type Socket struct {
	// sys is what the platform keeps beside the descriptor: nothing on unix,
	// where it is zero-sized and comes first so that it adds no padding — an
	// engine keeps one Socket per connection, and there it is one word.
	sys sockState
	// fdPlusOne is the descriptor plus one, so that the zero Socket, like
	// a closed one, has none: as a descriptor, 0 would be standard input.
	fdPlusOne int
}

// fd is the descriptor, -1 if none.
func (s *Socket) fd() int { return s.fdPlusOne - 1 }

// NewSocket returns a new non-blocking, close-on-exec (on Windows
// non-inheritable) stream socket. Family Unix on Windows needs AF_UNIX
// support (Windows 10 1803 and later).
func NewSocket(family Family) (*Socket, error) {
	af := sockFamily(family)
	if af < 0 {
		return nil, wrapErr("socket", errAFNoSupport)
	}
	fd, err := sysSocket(af, sockStream, 0)
	if err != nil {
		return nil, wrapErr("socket", err)
	}
	return &Socket{fdPlusOne: fd + 1, sys: newSockState(family)}, nil
}

func sockFamily(f Family) int {
	switch f {
	case IPv4:
		return afInet
	case IPv6:
		return afInet6
	case Unix:
		return afUnix
	}
	return -1
}

// Socketpair returns two connected non-blocking stream sockets.
//
// On unix they are a socketpair(2) of Unix sockets. Winsock has no
// socketpair, so on Windows this does what Python's socket.socketpair does
// there: it connects two TCP sockets over the IPv4 loopback through a
// listener that lives only for the call, and checks that the accepted peer
// is the socket it connected (not another process that raced to the port).
// Their Family is then IPv4, and TCP_NODELAY is set on both, so that small
// writes are not held back as they would not be on a Unix socket.
func Socketpair() (*Socket, *Socket, error) { return socketpair() }

// Fd returns the descriptor, so a Socket can be registered with a selector;
// ^uintptr(0) for a closed or nil Socket.
func (s *Socket) Fd() uintptr {
	if s == nil {
		return ^uintptr(0) // as a closed socket's: no descriptor
	}
	return uintptr(s.fd())
}

// Family returns the socket's address family: asked of the kernel on unix,
// so as not to store it, and remembered from NewSocket on Windows, whose
// getsockname fails on a socket not yet bound.
func (s *Socket) Family() Family {
	if s.ok() != nil {
		return 0
	}
	return s.sys.family(s.fd())
}

func (s *Socket) ok() error {
	if s == nil || s.fdPlusOne <= 0 {
		return ErrClosed
	}
	return nil
}

// Close closes the descriptor. The caller must remove it from any poller
// first if the poller tracks registrations in user space. (On Windows the
// pending AFD polls of a closed socket complete with AFD_POLL_LOCAL_CLOSE
// and the IOCP poller forgets it by itself; calling Delete first is still
// the rule.)
func (s *Socket) Close() error {
	if err := s.ok(); err != nil {
		return err
	}
	fd := s.fd()
	s.fdPlusOne = 0
	return wrapErr("close", sysClose(fd))
}

// SetBlocking switches the socket between blocking and non-blocking mode,
// like Python's socket.setblocking. Blocking sockets block the calling OS
// thread; they exist for the simple blocking examples.
func (s *Socket) SetBlocking(blocking bool) error {
	if err := s.ok(); err != nil {
		return err
	}
	return wrapErr("setnonblock", sysSetNonblock(s.fd(), !blocking))
}

// Bind assigns a local address (a *net.TCPAddr or *net.UnixAddr; a
// *net.UDPAddr for a datagram socket).
func (s *Socket) Bind(addr net.Addr) error {
	if err := s.ok(); err != nil {
		return err
	}
	sa, err := s.sockaddrOf(addr)
	if err != nil {
		return err
	}
	return wrapErr("bind", sysBind(s.fd(), sa))
}

// sockaddrOf converts an address for Bind or Connect. A *net.UDPAddr is
// taken by datagram sockets only, so that a stream socket handed one fails
// as it always has rather than binding its port.
func (s *Socket) sockaddrOf(addr net.Addr) (sockaddr, error) {
	if _, ok := addr.(*net.UDPAddr); ok {
		if t, err := sysGetsockoptInt(s.fd(), solSocket, soType); err != nil || t != sockDgram {
			return nil, wrapErr("sockaddr", errAFNoSupport)
		}
	}
	sa, err := toSockaddr(addr)
	if err != nil {
		return nil, err
	}
	switch v := sa.(type) {
	case *sockaddrInet4:
		// An IPv6 socket reaches IPv4 peers at their v4-mapped address,
		// as Python and Go's net let it.
		if s.Family() == IPv6 {
			m := &sockaddrInet6{Port: v.Port}
			if v.Addr != [4]byte{} { // 0.0.0.0 is IPv6's wildcard, ::, as in Go's net
				m.Addr[10], m.Addr[11] = 0xff, 0xff
				copy(m.Addr[12:], v.Addr[:])
			}
			return m, nil
		}
	case *sockaddrInet6:
		// No IP at all is the wildcard of the socket's own family, as in
		// Go's net (and Python's ''), not IPv6's.
		if len(ipOf(addr)) == 0 && s.Family() == IPv4 {
			return &sockaddrInet4{Port: v.Port}, nil
		}
	}
	return sa, nil
}

// ipOf is the IP of a TCP or UDP address, nil for any other.
func ipOf(addr net.Addr) net.IP {
	switch a := addr.(type) {
	case *net.TCPAddr:
		return a.IP
	case *net.UDPAddr:
		return a.IP
	}
	return nil
}

// Listen marks the socket as accepting connections; a backlog of 0 or less
// means the system maximum.
func (s *Socket) Listen(backlog int) error {
	if err := s.ok(); err != nil {
		return err
	}
	if backlog <= 0 {
		backlog = somaxconn
	}
	return wrapErr("listen", sysListen(s.fd(), backlog))
}

// Accept returns the next pending connection as a non-blocking socket, or
// ErrWouldBlock when there is none.
func (s *Socket) Accept() (*Socket, net.Addr, error) {
	if err := s.ok(); err != nil {
		return nil, nil, err
	}
	for {
		var sa sockaddr
		fd, err := ignoringEINTR(func() (int, error) {
			fd, rsa, err := sysAccept(s.fd())
			sa = rsa
			return fd, err
		})
		switch err {
		case nil:
			return &Socket{fdPlusOne: fd + 1, sys: s.sys.accepted()}, fromSockaddr(sa), nil
		case errConnAborted:
			// The peer gave up while queued; take the next one.
			continue
		default:
			return nil, nil, wrapErr("accept", err)
		}
	}
}

// AcceptSocket is Accept for engines that accept many connections: it
// returns the socket by value and does not build the peer's address (ask
// RemoteAddr when it is wanted), so accepting leaves no garbage behind. (On
// macOS, NetBSD and OpenBSD golang.org/x/sys offers no accept without an
// address, and one is still built and dropped.)
func (s *Socket) AcceptSocket() (Socket, error) {
	if err := s.ok(); err != nil {
		return Socket{}, err
	}
	for {
		fd, err := ignoringEINTR(func() (int, error) { return sysAcceptNoAddr(s.fd()) })
		switch err {
		case nil:
			return Socket{fdPlusOne: fd + 1, sys: s.sys.accepted()}, nil
		case errConnAborted:
			continue
		default:
			return Socket{}, wrapErr("accept", err)
		}
	}
}

// Connect starts connecting to addr with Python's connect_ex semantics: it
// returns nil when connected at once, ErrInProgress (unwrapped) when the
// connect goes on in the background, or the error. A Unix socket whose
// listener's backlog is full fails at once with an error matching
// ErrWouldBlock (EAGAIN, as Python's connect_ex returns).
func (s *Socket) Connect(addr net.Addr) error {
	if err := s.ok(); err != nil {
		return err
	}
	sa, err := s.sockaddrOf(addr)
	if err != nil {
		return err
	}
	switch err := sysConnect(s.fd(), sa); err {
	case nil:
		return nil
	case errInProgress, errEINTR, errAlready:
		// After EINTR the connect goes on asynchronously, as POSIX says.
		return ErrInProgress
	case ErrWouldBlock:
		// A Unix socket whose listener's backlog is full: the connect did
		// not start, so it is an error (which errors.Is still matches to
		// ErrWouldBlock), not a wait for writability.
		return os.NewSyscallError("connect", err)
	default:
		return wrapErr("connect", err)
	}
}

// ConnectResult reports how a connect that returned ErrInProgress ended,
// once the socket is writable: nil on success, else the SO_ERROR error
// (ECONNREFUSED, ETIMEDOUT, ...; on Windows WSAECONNREFUSED, ..., which
// errors.Is also matches against the POSIX names of package syscall);
// ErrInProgress while it goes on. Asked again after a failure it was
// given, it reports ENOTCONN on Linux, not ErrInProgress.
func (s *Socket) ConnectResult() error {
	if err := s.ok(); err != nil {
		return err
	}
	e, err := sysGetsockoptInt(s.fd(), solSocket, soError)
	if err != nil {
		return wrapErr("getsockopt", err)
	}
	if e != 0 {
		return wrapErr("connect", syscall.Errno(e))
	}
	// Writable without an error can still mean "not yet" on some systems;
	// getpeername is the authoritative answer.
	if _, err := sysGetpeername(s.fd()); err != nil {
		if err != errNotConn {
			return wrapErr("getpeername", err)
		}
		if sysConnecting(s.fd()) {
			return ErrInProgress
		}
		if _, err := sysGetpeername(s.fd()); err == nil {
			return nil // it connected between the two questions
		}
		// Neither connected nor connecting: a connect that failed and
		// whose error was taken already, or none at all. ErrInProgress
		// would have a caller wait for ever on a socket that polls
		// writable at once.
		if e, err := sysGetsockoptInt(s.fd(), solSocket, soError); err == nil && e != 0 {
			return wrapErr("connect", syscall.Errno(e)) // it failed meanwhile
		}
		return wrapErr("connect", errNotConn)
	}
	return nil
}

// Read reads into p. It returns ErrWouldBlock when nothing is buffered and
// io.EOF when the peer has shut down its side (or this side shut down
// reading); on a datagram socket an empty datagram reads as (0, nil).
func (s *Socket) Read(p []byte) (int, error) {
	if err := s.ok(); err != nil {
		return 0, err
	}
	n, err := ignoringEINTR(func() (int, error) { return sysRead(s.fd(), p) })
	n, err = readDone(n, err, len(p))
	if n == 0 && err == io.EOF {
		err = s.emptyRead()
	}
	return n, err
}

// readDone turns what a read call returned into Read's answer: the failed
// call named, and nothing read into a non-empty buffer the peer's io.EOF
// (which the caller checks with emptyRead). TryRead shares it. It stays
// small enough to inline: with emptyRead's question in it, it was not, and
// the loop's 64-byte echo took 15 instructions more per message (715
// against 700, callgrind, bench -instructions).
func readDone(n int, err error, asked int) (int, error) {
	switch {
	case err != nil:
		return 0, wrapErr("read", err)
	case n == 0 && asked > 0:
		return 0, io.EOF
	}
	return n, nil
}

// emptyRead is what a read that got nothing means on s: the peer's end of
// stream, io.EOF, unless s is a datagram socket, which has none: that was
// an empty datagram, (0, nil) as Go's net and Python's recv give it.
func (s *Socket) emptyRead() error {
	if s.IsDatagram() {
		return nil
	}
	return io.EOF
}

// writeDone is readDone for the writes, whose call op names.
func writeDone(op string, n int, err error) (int, error) {
	if err != nil {
		return 0, wrapErr(op, err)
	}
	return n, nil
}

// Write writes as much of p as the kernel accepts now; a short count is not
// an error. It returns ErrWouldBlock when the send buffer is full.
func (s *Socket) Write(p []byte) (int, error) {
	if err := s.ok(); err != nil {
		return 0, err
	}
	n, err := ignoringEINTR(func() (int, error) { return sysWrite(s.fd(), p) })
	return writeDone("write", n, err)
}

// Writev writes the buffers in order, with one system call where the
// platform has a gathering write (writev, WSASend), and returns the total
// bytes written; like Write, a short count is not an error.
func (s *Socket) Writev(bufs [][]byte) (int, error) {
	if err := s.ok(); err != nil {
		return 0, err
	}
	n, err := ignoringEINTR(func() (int, error) { return s.sys.writev(s.fd(), bufs) })
	return writeDone("writev", n, err)
}

// maxWritevBufs is the most buffers one gathering write is given: IOV_MAX
// on Linux, macOS and the BSDs alike, where more is EINVAL, and WSASend
// under Wine refuses more with WSAEMSGSIZE. Writev writes the first ones,
// a short count.
const maxWritevBufs = 1024

// Shutdown closes one or both directions of the connection.
func (s *Socket) Shutdown(how ShutdownHow) error {
	if err := s.ok(); err != nil {
		return err
	}
	var h int
	switch how {
	case ShutRead:
		h = shutRd
	case ShutWrite:
		h = shutWr
	case ShutBoth:
		h = shutRdwr
	default:
		// A map lookup used to turn an unknown value into SHUT_RD (0) and
		// silently shut the wrong direction.
		return wrapErr("shutdown", errInval)
	}
	return wrapErr("shutdown", sysShutdown(s.fd(), h))
}

// addr converts an address of s, a *net.UDPAddr or a "unixgram"
// *net.UnixAddr for a datagram socket. The socket type is asked of the
// system rather than stored: a Socket stays one word on unix, and address
// queries are not on any hot path.
func (s *Socket) addr(sa sockaddr) net.Addr {
	a := fromSockaddr(sa)
	if t, err := sysGetsockoptInt(s.fd(), solSocket, soType); err == nil && t == sockDgram {
		a = asDatagram(a)
	}
	return a
}

// LocalAddr returns the bound address (a *net.UDPAddr, or a *net.UnixAddr
// of Net "unixgram", for a datagram socket).
func (s *Socket) LocalAddr() (net.Addr, error) {
	if err := s.ok(); err != nil {
		return nil, err
	}
	sa, err := sysGetsockname(s.fd())
	if err != nil {
		return nil, wrapErr("getsockname", err)
	}
	return s.addr(sa), nil
}

// RemoteAddr returns the peer's address.
func (s *Socket) RemoteAddr() (net.Addr, error) {
	if err := s.ok(); err != nil {
		return nil, err
	}
	sa, err := sysGetpeername(s.fd())
	if err != nil {
		return nil, wrapErr("getpeername", err)
	}
	return s.addr(sa), nil
}
