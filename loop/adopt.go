package loop

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"

	"github.com/evsel/evsel"
)

// Adopting sockets the program already has. Every call here takes a
// duplicate of the descriptor first and lets go of the original only once
// the engine serves the copy, so a call that fails leaves the caller's
// socket exactly as it was, and one that succeeds leaves nothing to close.
// These take stream sockets (TCP, Unix); a datagram socket is refused with
// an error wrapping evsel.ErrNotStream and served by the packet API's
// counterparts instead (adopt_packet.go). On Windows adoption is not
// supported (errors.ErrUnsupported; see evsel.SocketFromFD).

// ErrNotListening is returned by ServeFD, ServeFile and ServeListener for a
// stream socket that is not listening (a connection: see Adopt).
var ErrNotListening = errors.New("loop: socket is not listening")

// ServeListener serves l, a listener made elsewhere (net.Listen, a
// library), on the engine, as Listen serves its own, and returns its
// address. On success the engine holds its own copy of the socket and l is
// closed (a *net.UnixListener without removing its socket file), so the
// caller must not use l afterwards. l must expose its descriptor
// (syscall.Conn, as *net.TCPListener and *net.UnixListener do).
func (e *Engine) ServeListener(l net.Listener) (net.Addr, error) {
	sc, ok := l.(syscall.Conn)
	if !ok {
		return nil, fmt.Errorf("loop: ServeListener: %T has no descriptor", l)
	}
	addr, err := e.serveDup(sc)
	if err != nil {
		return nil, err
	}
	if ul, ok := l.(*net.UnixListener); ok {
		ul.SetUnlinkOnClose(false) // the engine still listens on that path
	}
	l.Close()
	return addr, nil
}

// ServeFile serves the listening socket f refers to (inherited from a
// parent, see InheritedListeners, or from net.TCPListener.File) and
// returns its address. On success f is closed: the engine keeps a
// duplicate.
func (e *Engine) ServeFile(f *os.File) (net.Addr, error) {
	addr, err := e.serveDup(f)
	if err != nil {
		return nil, err
	}
	f.Close()
	return addr, nil
}

// ServeFD serves the listening socket whose descriptor is fd and returns
// its address. On success the engine owns fd (it serves a duplicate and
// closes fd at once); on error fd is left open, the caller's, though in
// non-blocking mode once the duplicate was made (the mode belongs to the
// open socket, which fd and its duplicate share; evsel.DupSocket).
func (e *Engine) ServeFD(fd uintptr) (net.Addr, error) {
	addr, err := e.serveSocket(func() (*evsel.Socket, error) { return evsel.DupSocket(fd) })
	if err != nil {
		return nil, err
	}
	os.NewFile(fd, "").Close()
	return addr, nil
}

// serveDup serves a duplicate of the descriptor behind sc.
func (e *Engine) serveDup(sc syscall.Conn) (net.Addr, error) {
	return e.serveSocket(func() (*evsel.Socket, error) { return dupOf(sc) })
}

// serveSocket checks that the socket dup makes listens and puts it on a
// loop, the loops taking adopted listeners in turn.
func (e *Engine) serveSocket(dup func() (*evsel.Socket, error)) (net.Addr, error) {
	if e.stopping.Load() {
		return nil, ErrStopped
	}
	if e.OnLoopGoroutine() {
		return nil, ErrOnLoop
	}
	s, err := dup()
	if err != nil {
		return nil, adoptErr(err)
	}
	if s.IsDatagram() {
		s.Close()
		return nil, adoptErr(evsel.ErrNotStream)
	}
	if !s.Listening() {
		s.Close()
		return nil, ErrNotListening
	}
	addr, err := s.LocalAddr()
	if err != nil {
		s.Close()
		return nil, err
	}
	if err := e.serve([]*evsel.Socket{s}, int(e.next.Add(1)), nil, ""); err != nil {
		return nil, err
	}
	e.mu.Lock()
	e.addrs = append(e.addrs, addr)
	e.mu.Unlock()
	return addr, nil
}

// Adopt takes over nc, an established connection made elsewhere (net.Dial,
// a net.Listener's Accept), and serves it on one of the loops: OnOpen
// follows, then OnData as bytes arrive, exactly as for an accepted
// connection (Stats counts it as accepted). Bytes nc already read are not
// seen again; what the peer sent since is. On success nc is closed (the
// engine holds its own copy of the socket), so the caller must not use it
// any more; on error it is left as it was. WithData attaches state and
// WithLoop chooses the loop, as for Dial. nc must expose its descriptor
// (syscall.Conn, as *net.TCPConn and *net.UnixConn do; a *tls.Conn does
// not). If the engine stops before the connection is registered, it is
// closed without callbacks.
func (e *Engine) Adopt(nc net.Conn, opts ...DialOption) (*Conn, error) {
	if e.stopping.Load() {
		return nil, ErrStopped
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil, fmt.Errorf("loop: Adopt: %T has no descriptor", nc)
	}
	var o dialOptions
	for _, opt := range opts {
		opt(&o)
	}
	l, err := o.loopFor(e)
	if err != nil {
		return nil, err
	}
	s, err := dupOf(sc)
	if err != nil {
		return nil, adoptErr(err)
	}
	if s.IsDatagram() {
		s.Close()
		return nil, adoptErr(evsel.ErrNotStream)
	}
	if s.Listening() {
		s.Close()
		return nil, errors.New("loop: Adopt: a listening socket is no connection; use ServeListener")
	}
	e.opts.connSocket(s, s.Family() != evsel.Unix)
	c := &Conn{sock: *s, loop: l, data: o.data}
	if err := l.enqueue(task{kind: taskRegister, conn: c}); err != nil {
		s.Close()
		return nil, err
	}
	nc.Close()
	return c, nil
}

// dupOf duplicates the descriptor behind sc.
func dupOf(sc syscall.Conn) (*evsel.Socket, error) {
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	var s *evsel.Socket
	var derr error
	if err := rc.Control(func(fd uintptr) { s, derr = evsel.DupSocket(fd) }); err != nil {
		return nil, err
	}
	return s, derr
}

// adoptErr points a refused datagram socket at the packet API.
func adoptErr(err error) error {
	if errors.Is(err, evsel.ErrNotStream) {
		return fmt.Errorf("loop: %w (a datagram socket is served by the packet API: ServePacketConn, ServePacketFile, ServePacketFD)", err)
	}
	return err
}
