package loop

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"syscall"
	"time"

	"github.com/evsel/evsel"
)

// Listen starts accepting connections on address ("host:port" for "tcp",
// "tcp4", "tcp6"; a path for "unix") and returns the bound address (useful
// with port 0). For "tcp" an address with no host (":8080") or "[::]"
// serves IPv4 and IPv6 clients on one dual-stack socket, as Go's
// net.Listen does (IPv4's wildcard alone where the system has no IPv6). With Options.ReusePort every loop gets its own listener;
// otherwise loop 0 accepts and deals connections out by Options.Balance.
// When Options.MaxConns is reached or the process runs out of descriptors,
// the longest-idle connection is shed to admit the new one (ErrShed,
// Stats.Shed; see "Deadlines and limits" in the package documentation).
// A Unix socket's file is removed when the engine stops listening (Stop,
// StopAccepting, Drain), as net.UnixListener's Close does, so that a
// restarted server can listen on the path again; not once ListenerFiles
// has handed the socket on. It waits for the loops to take the new
// listener, so it must be called from outside them: on a loop it returns
// ErrOnLoop at once.
func (e *Engine) Listen(network, address string) (net.Addr, error) {
	return e.listen(network, address, nil)
}

// listen is Listen, for TLS with a non-nil cfg.
func (e *Engine) listen(network, address string, cfg *tls.Config) (net.Addr, error) {
	if e.stopping.Load() {
		return nil, ErrStopped
	}
	if e.OnLoopGoroutine() {
		return nil, ErrOnLoop
	}
	// DualStack: ":port" takes IPv6 clients too, as it does in gnet and
	// Go's net, which a server moved from them relies on.
	control, refused := e.opts.listenControl()
	lc := evsel.ListenConfig{ReusePort: e.opts.ReusePort && network != "unix", DualStack: true,
		Control: control}
	first, err := lc.Listen(network, address)
	if err != nil && lc.ReusePort && !*refused {
		// No SO_REUSEPORT here: fall back to one acceptor.
		lc.ReusePort = false
		first, err = lc.Listen(network, address)
	}
	if err != nil {
		return nil, err
	}
	addr, socks, err := e.openPerLoop(first, lc.ReusePort, func(at string) (*evsel.Socket, error) {
		return lc.Listen(network, at)
	})
	if err != nil {
		return nil, err
	}
	// A Unix socket's file is this engine's to remove when it stops
	// listening, as net.UnixListener's Close does: left behind, it makes
	// the next Listen on the path, the restarted server's, fail with
	// "address already in use". Abstract names ("@...") have no file.
	var unlink string
	if network == "unix" && address != "" && address[0] != '@' {
		unlink = address
	}
	if err := e.serve(socks, 0, cfg, unlink); err != nil {
		if unlink != "" {
			os.Remove(unlink)
		}
		return nil, err
	}
	e.mu.Lock()
	e.addrs = append(e.addrs, addr)
	e.mu.Unlock()
	return addr, nil
}

// openPerLoop returns first's address and, with perLoop, one more socket
// for each other loop made by open on the port first got (in case the
// address asked for port 0): Listen's and ListenPacket's SO_REUSEPORT
// sockets. On error it closes first and the others.
func (e *Engine) openPerLoop(first *evsel.Socket, perLoop bool, open func(addr string) (*evsel.Socket, error)) (net.Addr, []*evsel.Socket, error) {
	addr, err := first.LocalAddr()
	if err != nil {
		first.Close()
		return nil, nil, err
	}
	socks := []*evsel.Socket{first}
	if perLoop {
		for range e.loops[1:] {
			s, err := open(addr.String())
			if err != nil {
				for _, s := range socks {
					s.Close()
				}
				return nil, nil, err
			}
			socks = append(socks, s)
		}
	}
	return addr, socks, nil
}

// serve puts listening sockets on the loops, socks[i] on loop first+i
// (modulo their number), serving TLS if cfg is not nil, and removing the
// file unlink (a Unix socket's path, or "") when the listener closes; on
// error it closes every socket. Listen and the adoption of listeners
// (adopt.go) share it.
func (e *Engine) serve(socks []*evsel.Socket, first int, cfg *tls.Config, unlink string) error {
	for i, s := range socks {
		l := e.loops[(first+i)%len(e.loops)]
		ln := &listener{loop: l, sock: s, fd: int(s.Fd()), keep: len(socks) > 1, tls: cfg, unlink: unlink,
			tcp: s.Family() != evsel.Unix}
		err := e.onLoop(l, func() error {
			if l.stopping {
				return ErrStopped
			}
			if err := l.drv.listen(ln); err != nil {
				return err
			}
			l.listeners = append(l.listeners, ln)
			l.openReserve()
			return nil
		})
		if err != nil {
			for _, s := range socks[i:] {
				s.Close()
			}
			// Undo the listeners already serving on earlier loops, or the
			// engine would accept on an address Listen reports as failed.
			for j, s := range socks[:i] {
				l := e.loops[(first+j)%len(e.loops)]
				e.onLoop(l, func() error {
					l.listeners = slices.DeleteFunc(l.listeners, func(ln *listener) bool {
						if ln.sock == s {
							ln.close()
							return true
						}
						return false
					})
					return nil
				})
			}
			return err
		}
	}
	return nil
}

// onLoop runs fn on l and waits for it, with DoWait: its caller runs as
// soon as fn has (a Listen on io_uring with one P took 5 ms a loop with Do
// and a channel), and a panic in fn is an error rather than a caller
// waiting for ever. It must not be called from a loop (Listen checks with
// OnLoopGoroutine first).
func (e *Engine) onLoop(l *Loop, fn func() error) error {
	var err error
	if derr := l.DoWait(context.Background(), func() { err = fn() }); derr != nil {
		return derr
	}
	return err
}

// acceptBackoff is how long a listener rests after the process ran out of
// descriptors, so that EMFILE does not spin a core.
const acceptBackoff = 100 * time.Millisecond

// listener is a listening socket served by one loop. Listeners are few, so
// the loop finds them by a scan of Loop.listeners rather than in its
// descriptor table.
type listener struct {
	loop   *Loop
	sock   *evsel.Socket // nil once closed
	fd     int
	paused bool
	// keep: every loop has its own SO_REUSEPORT listener on this address,
	// so the kernel has already spread the connections and this loop
	// serves what it accepts instead of dealing it to the others.
	keep bool
	tls  *tls.Config // non-nil for ListenTLS
	// armed: the completion driver has a multishot accept in flight.
	armed bool
	// shedUnused: a connection was shed for this listener and no accept
	// has succeeded since (see outOfDescriptors).
	shedUnused bool
	// tcp: accepted connections are TCP ones, which get Options' TCP
	// settings (Options.connSocket); a Unix socket has no such options.
	tcp bool
	// unlink is the Unix socket file close removes: set by Listen, which
	// bound it, and cleared once ListenerFiles has handed the socket to
	// someone who may still serve it (a successor: see handoff.go).
	// Listeners served from elsewhere (adopt.go) leave their file alone.
	unlink string
}

func (ln *listener) accept() {
	for i := 0; i < 64 && !ln.paused; i++ {
		s, err := ln.sock.AcceptSocket()
		if err == evsel.ErrWouldBlock {
			return
		}
		if err != nil {
			if ln.acceptFailed(err) {
				continue
			}
			return
		}
		ln.accepted(s)
	}
}

// acceptFailed handles an accept's error: out of descriptors or memory,
// it sheds or pauses the listener. It reports whether to accept again at
// once (an idle connection was shed: its descriptor is free).
func (ln *listener) acceptFailed(err error) bool {
	l, e := ln.loop, ln.loop.e
	outOfFds := errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)
	if outOfFds && !ln.pending() {
		// Linux takes the descriptor before it looks at the backlog, so
		// the accept after the one that took the last descriptor fails
		// with EMFILE with nobody waiting: shedding for no one closed an
		// idle client each time the table filled. The listener stays
		// watched, and a real newcomer brings the accept, and the shed,
		// back.
		return false
	}
	ln.reportAcceptError(err)
	if outOfFds || errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM) {
		if outOfFds {
			switch ln.outOfDescriptors() {
			case shedNow:
				return true
			case shedLater, shedAway:
				return false
			}
		}
		e.log.Warn("loop: accept: out of resources, pausing the listener",
			"loop", l.id, "err", err, "pause", acceptBackoff)
		ln.pause()
		return false
	}
	e.log.Warn("loop: accept failed", "loop", l.id, "err", err)
	return false
}

// reportAcceptError tells the handler of a failed accept, if it asked
// (AcceptErrorHandler).
func (ln *listener) reportAcceptError(err error) {
	h, ok := ln.loop.e.h.(AcceptErrorHandler)
	if !ok {
		return
	}
	var addr net.Addr
	if ln.sock != nil {
		addr, _ = ln.sock.LocalAddr()
	}
	ln.loop.protect(nil, func() { h.OnAcceptError(ln.loop, addr, err) })
}

// AcceptErrorHandler is implemented by a Handler that wants to hear of
// failed accepts, for metrics or alerts: OnAcceptError runs on the loop
// whose listener (at addr) failed, before the engine acts on err as
// always: out of descriptors it sheds an idle connection (Options.MaxConns)
// or refuses the waiting peer; out of memory or buffers it pauses the
// listener for a while; anything else it logs, and goes on accepting. The
// EMFILE that Linux reports when the descriptor table is full and nobody
// is waiting is not a failure and is not reported.
type AcceptErrorHandler interface {
	OnAcceptError(l *Loop, addr net.Addr, err error)
}

// accepted serves a new connection's socket, here or on another loop.
func (ln *listener) accepted(s evsel.Socket) {
	l, e := ln.loop, ln.loop.e
	ln.shedUnused = false
	var ipKey uint32
	if e.perIP != nil && ln.tcp {
		var ok bool
		if ipKey, ok = e.perIP.admit(&s, e.opts.MaxConnsPerIP); !ok {
			l.stats.refusedPerIP.Add(1) // before the peer can see the close
			s.Close()
			return
		}
	}
	e.opts.connSocket(&s, ln.tcp)
	target := l
	if !ln.keep {
		target = e.pickAccepted(l, &s, ln.tcp)
	}
	c := &Conn{sock: s, loop: target, flags: flagUntouched, ipKey: ipKey}
	if ln.tls != nil {
		c.acceptTLS(ln.tls)
	}
	if target == l {
		l.register(c)
	} else if err := target.enqueue(task{kind: taskRegister, conn: c}); err != nil {
		c.sock.Close()
		e.releaseIP(c)
	}
}

// pause stops watching the listener for a while; the pending connections
// wait in the kernel's backlog until descriptors are free again.
func (ln *listener) pause() {
	ln.unwatch()
	ln.resumeAfter(acceptBackoff)
}

// unwatch stops watching the listener until something calls resume; the
// pending connections wait in the kernel's backlog meanwhile.
func (ln *listener) unwatch() {
	ln.paused = true
	ln.loop.drv.pauseListener(ln)
}

// resumeAfter watches the paused listener again after d.
func (ln *listener) resumeAfter(d time.Duration) {
	ln.loop.AfterFunc(d, func() {
		if ln.sock == nil { // closed meanwhile (Stop)
			return
		}
		ln.resume()
	})
}

func (ln *listener) resume() {
	ln.paused = false
	if err := ln.loop.drv.resumeListener(ln); err != nil {
		ln.loop.e.log.Error("loop: re-registering listener", "err", err)
	}
}

func (ln *listener) close() {
	if ln.sock == nil {
		return
	}
	// Dead before the driver closes it: what the driver serves meanwhile
	// (io_uring: the cancellation of its poll) must not find it live, or
	// it would accept on the descriptor and poll it again.
	s := ln.sock
	ln.sock = nil
	ln.loop.drv.closeListener(ln, s)
	if ln.unlink != "" {
		os.Remove(ln.unlink)
	}
}

// CloseListener stops serving one address the engine listens on (one
// Listen, ListenTLS, ListenPacket or Serve* returned, as Addrs lists it),
// as net.Listener's Close does: every loop's socket for it is closed (a
// Unix socket's file removed), and the connections accepted from it go
// on. A datagram socket (ListenPacket, ServePacketConn and its kin) on
// it is closed as its PacketConn.Close would, after a last flush. addr
// matches an address of the same network and port whose IP is equal
// (an IPv4 address and its IPv4-mapped IPv6 form alike) or, if either IP
// is a wildcard (none, 0.0.0.0 or ::), also a wildcard: ":port",
// "0.0.0.0:port" and "[::]:port" name the same listener. It returns an error that wraps
// net.ErrClosed if nothing is served at addr, ErrStopped once the engine
// has stopped, and must be called from outside the loops (ErrOnLoop).
// When it returns, every connection accepted from the address is
// registered and counted in Stats.Open.
func (e *Engine) CloseListener(addr net.Addr) error {
	if e.OnLoopGoroutine() {
		return ErrOnLoop
	}
	same := func(a net.Addr, err error) bool { return err == nil && sameAddr(a, addr) }
	closed := 0 // onLoop waits for each loop's count
	for _, l := range e.loops {
		err := e.onLoop(l, func() error {
			l.listeners = slices.DeleteFunc(l.listeners, func(ln *listener) bool {
				if ln.sock == nil || !same(ln.sock.LocalAddr()) {
					return false
				}
				ln.close()
				closed++
				return true
			})
			for _, pc := range servedPackets(l) {
				if same(pc.local, nil) {
					pc.Close()
					closed++
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if closed == 0 {
		return fmt.Errorf("loop: CloseListener %s %s: %w", addr.Network(), addr, net.ErrClosed)
	}
	if err := e.awaitHandoffs(); err != nil {
		return err
	}
	e.mu.Lock()
	e.addrs = slices.DeleteFunc(e.addrs, func(a net.Addr) bool { return same(a, nil) })
	e.mu.Unlock()
	return nil
}

// sameAddr says whether a and b name the same listening address: the
// same network, and for IP addresses the same port and IP, any wildcard
// (no IP, 0.0.0.0, ::) matching any other, as Listen(":port") binds the
// dual-stack "[::]:port".
func sameAddr(a, b net.Addr) bool {
	if a.Network() != b.Network() {
		return false
	}
	ipPort := func(x net.Addr) (net.IP, int, bool) {
		switch x := x.(type) {
		case *net.TCPAddr:
			return x.IP, x.Port, true
		case *net.UDPAddr:
			return x.IP, x.Port, true
		}
		return nil, 0, false
	}
	aIP, aPort, aOK := ipPort(a)
	bIP, bPort, bOK := ipPort(b)
	if !aOK || !bOK {
		return a.String() == b.String()
	}
	if aPort != bPort {
		return false
	}
	anyIP := func(ip net.IP) bool { return len(ip) == 0 || ip.IsUnspecified() }
	if anyIP(aIP) || anyIP(bIP) {
		return anyIP(aIP) && anyIP(bIP)
	}
	return aIP.Equal(bIP)
}

// listenControl is Options.ListenControl wrapped to record whether it
// refused a socket: a Listen that failed for that must not be tried again
// without SO_REUSEPORT, which is for a system without it, as that would
// call the function again and, were it to accept the second time, leave
// the address with one acceptor for no reason the caller could see.
func (o *Options) listenControl() (evsel.ControlFunc, *bool) {
	refused := new(bool)
	if o.ListenControl == nil {
		return nil, refused
	}
	return func(network, address string, c syscall.RawConn) error {
		err := o.ListenControl(network, address, c)
		if err != nil {
			*refused = true
		}
		return err
	}, refused
}
