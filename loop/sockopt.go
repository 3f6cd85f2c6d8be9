package loop

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"github.com/evsel/evsel"
)

// errNotConnected is what the socket accessors say of a dialing connection
// that has no socket yet (its address is being looked up).
var errNotConnected = fmt.Errorf("loop: connection has no socket yet: %w", syscall.ENOTCONN)

// socket is the connection's socket, if it has one.
func (c *Conn) socket() (*evsel.Socket, error) {
	if c.flags&flagNoSock != 0 {
		if c.closed.Load() {
			return nil, ErrClosed
		}
		return nil, errNotConnected
	}
	return &c.sock, nil
}

// LocalAddr returns the local address, asking the kernel (nil if unknown).
func (c *Conn) LocalAddr() net.Addr {
	s, err := c.socket()
	if err != nil {
		return nil
	}
	a, _ := s.LocalAddr()
	return a
}

// RemoteAddr returns the peer's address, asking the kernel the first time
// and remembering the answer, so that a handler that asked in OnOpen gets
// it in OnClose after a reset, when the kernel no longer knows it (an
// app-server printed "Closing connection to None"). A connection never
// asked stores nothing, which keeps idle connections small; nil if
// unknown.
func (c *Conn) RemoteAddr() net.Addr {
	if c.aux != nil && c.aux.remote != nil {
		return c.aux.remote
	}
	s, err := c.socket()
	if err != nil {
		return nil
	}
	a, err := s.RemoteAddr()
	if err != nil {
		return nil
	}
	c.extra().remote = a
	return a
}

// LocalAddrPort is LocalAddr for an IP connection, without allocating; the
// zero AddrPort if unknown or not IP. An IPv4 address is given as such
// also on a dual-stack listener's connection (see unmapped).
func (c *Conn) LocalAddrPort() netip.AddrPort {
	s, err := c.socket()
	if err != nil {
		return netip.AddrPort{}
	}
	a, _ := s.LocalAddrPort()
	return unmapped(a)
}

// RemoteAddrPort is RemoteAddr for an IP connection, without allocating;
// the zero AddrPort if unknown or not IP. An IPv4 peer is given as such
// also on a dual-stack listener's connection (see unmapped).
func (c *Conn) RemoteAddrPort() netip.AddrPort {
	s, err := c.socket()
	if err != nil {
		return netip.AddrPort{}
	}
	a, _ := s.RemoteAddrPort()
	return unmapped(a)
}

// unmapped turns an IPv4-mapped IPv6 address (::ffff:192.0.2.1, how a
// dual-stack socket sees an IPv4 peer) into the IPv4 address it is, so
// that a handler's Is4, per-address limits and logs see the same peer
// whether the engine listens on "0.0.0.0:port" or ":port". Datagram
// senders are unmapped likewise (PacketAddr).
func unmapped(a netip.AddrPort) netip.AddrPort {
	if a.Addr().Is4In6() {
		return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
	}
	return a
}

// SetNoDelay sets TCP_NODELAY: with true (the default for every TCP
// connection unless Options.Nagle) small writes are sent at once instead of
// coalesced by Nagle's algorithm.
func (c *Conn) SetNoDelay(on bool) error {
	s, err := c.socket()
	if err != nil {
		return err
	}
	return s.SetNoDelay(on)
}

// errLingerBlocks is SetLinger's answer to a positive time.
var errLingerBlocks = errors.New("loop: SetLinger with a positive time would make the close block its loop; use Options.LingerTimeout")

// SetLinger sets SO_LINGER as net.TCPConn's SetLinger does, for the values
// that do not block: 0 makes the close reset the connection (RST), so
// that the server keeps no TIME_WAIT for it and the peer sees a reset
// rather than an end of stream, and a negative value restores the default
// (the close sends a FIN and the kernel delivers what is left). Close
// still sends the pending output first, but the reset throws away
// whatever of it the kernel has not yet delivered, and follows at once
// even if the peer is still sending (no lingering close, see Close);
// Abort resets at once. A Unix socket has no reset: its close is a close
// whatever this says. A positive time returns an error, since close(2)
// would then wait for the peer on the loop: Options.LingerTimeout bounds
// a graceful close.
func (c *Conn) SetLinger(sec int) error {
	if sec > 0 {
		return errLingerBlocks
	}
	s, err := c.socket()
	if err != nil {
		return err
	}
	if err := s.SetLinger(sec); err != nil {
		return err
	}
	if sec == 0 {
		c.extra().resetOnClose = true
	} else if c.aux != nil {
		c.aux.resetOnClose = false
	}
	return nil
}

// SetKeepAlive turns TCP keep-alive probes on or off and tunes them, with
// the rules of net.TCPConn.SetKeepAliveConfig (zero fields take Go's
// defaults, negative ones leave the system's).
func (c *Conn) SetKeepAlive(cfg net.KeepAliveConfig) error {
	s, err := c.socket()
	if err != nil {
		return err
	}
	return s.SetKeepAliveConfig(cfg)
}

// SetReadBuffer sets the kernel's receive buffer size (SO_RCVBUF).
func (c *Conn) SetReadBuffer(bytes int) error {
	s, err := c.socket()
	if err != nil {
		return err
	}
	return s.SetReadBuffer(bytes)
}

// SetWriteBuffer sets the kernel's send buffer size (SO_SNDBUF).
func (c *Conn) SetWriteBuffer(bytes int) error {
	s, err := c.socket()
	if err != nil {
		return err
	}
	return s.SetWriteBuffer(bytes)
}

// SyscallConn gives access to the connection's descriptor for socket
// options the Conn has no method for. Its Control runs the function at once
// and must be called on the owning loop, like the Conn's other methods. Its
// Read and Write fail: the engine owns the connection's I/O, and reading or
// writing behind it would corrupt the stream. Do not close the descriptor.
func (c *Conn) SyscallConn() (syscall.RawConn, error) {
	if _, err := c.socket(); err != nil {
		return nil, err
	}
	return (*rawConn)(c), nil
}

// rawConn is a Conn seen as a syscall.RawConn.
type rawConn Conn

// errEngineOwnsIO is what the Read and Write of a SyscallConn return.
var errEngineOwnsIO = fmt.Errorf("loop: the engine owns the connection's reads and writes: %w", errors.ErrUnsupported)

func (rc *rawConn) Control(f func(fd uintptr)) error {
	s, err := (*Conn)(rc).socket()
	if err != nil {
		return err
	}
	f(s.Fd())
	return nil
}

func (rc *rawConn) Read(func(fd uintptr) bool) error  { return errEngineOwnsIO }
func (rc *rawConn) Write(func(fd uintptr) bool) error { return errEngineOwnsIO }

// connSocket sets what the options ask of a new connection's socket
// (accepted, dialed or adopted); tcp says it is a TCP one, not Unix. A
// failure leaves the kernel's default, which serves too.
func (o *Options) connSocket(s *evsel.Socket, tcp bool) {
	o.socketBuffers(s)
	if !tcp {
		return
	}
	if o.NoDelay || !o.Nagle {
		s.SetNoDelay(true)
	}
	if o.KeepAlive.Enable {
		s.SetKeepAliveConfig(o.KeepAlive)
	}
}

// socketBuffers sets the kernel buffer sizes the options ask for.
func (o *Options) socketBuffers(s *evsel.Socket) {
	if o.SocketReadBuffer > 0 {
		s.SetReadBuffer(o.SocketReadBuffer)
	}
	if o.SocketWriteBuffer > 0 {
		s.SetWriteBuffer(o.SocketWriteBuffer)
	}
}
