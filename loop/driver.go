package loop

import (
	"net"
	"time"

	"github.com/evsel/evsel"
	"github.com/evsel/evsel/internal/testdriver"
)

// driver is how a loop talks to the kernel about its sockets. Two exist:
// the readiness driver (driver_poll.go: a Poller says a socket is ready,
// the loop reads and writes it itself) and the completion driver on Linux
// (driver_uring_linux.go: the loop hands receives, sends, accepts and
// connects to io_uring and is told when they are done). Everything above
// the seam is shared: the Conn's input and output buffers, settle's
// decision of what a connection wants (read unless paused, write while
// output is pending), closing, timers, tasks, budgets. The driver only
// moves raw bytes and descriptors.
//
// Every method but wake runs on the loop goroutine.
type driver interface {
	// name is what Engine.Driver reports: "epoll", "poll", ..., "io_uring".
	name() string
	// start runs first on the loop goroutine (which is locked to its thread
	// by then): the completion driver creates its ring there.
	start() error
	// poll waits up to timeout (negative: no limit) for something to do;
	// busy says the last iteration had work. It returns how many events
	// dispatch will serve.
	poll(timeout time.Duration, busy bool) (int, error)
	// dispatch serves the n events the last poll got.
	dispatch(n int)
	// wake makes a concurrent or the next poll return; any goroutine.
	wake() error
	// watch starts serving a new connection's socket: ev is READ for an
	// accepted connection.
	watch(c *Conn, ev evsel.Events) error
	// update makes the kernel side follow what settle decided the
	// connection wants (READ, WRITE, or nothing while paused by the memory
	// budget).
	update(c *Conn, want evsel.Events) error
	// reading reports whether update(c, READ) would change nothing: the
	// kernel side already reads c, and only that (settle's fast path).
	reading(c *Conn) bool
	// flush starts sending the connection's pending output.
	flush(c *Conn)
	// connect starts connecting the new socket s of a dialing connection to
	// a; connectDone follows.
	connect(c *Conn, s *evsel.Socket, a net.Addr) error
	// release stops serving a connection's socket and closes it, once
	// nothing the kernel does on it is still in flight.
	release(c *Conn)
	// listen, pauseListener, resumeListener and closeListener serve a
	// listening socket; closeListener closes its socket s, ln being
	// closed already (ln.sock nil).
	listen(ln *listener) error
	pauseListener(ln *listener)
	resumeListener(ln *listener) error
	closeListener(ln *listener, s *evsel.Socket)
	// addPacket, watchPacket and closePacket serve a datagram socket with
	// readiness (READ, plus WRITE while datagrams wait for room);
	// closePacket also closes it.
	addPacket(pc *PacketConn) error
	watchPacket(pc *PacketConn, want evsel.Events) error
	closePacket(pc *PacketConn) error
	// closing reports whether a descriptor released is still open,
	// waiting for the requests on it to complete (next iteration).
	closing() bool
	// close releases the driver when the loop exits.
	close() error
}

// Driver names (Options.Driver). The readiness drivers are named after
// their pollers (evsel.Backends).
const (
	// DriverIOUring is the completion driver on Linux's io_uring.
	DriverIOUring = "io_uring"
)

// uringRequired are the operations the completion driver needs beyond the
// binding's own (evsel.UringRequiredOps). Tests add one no kernel has to
// force the fallback.
var uringRequired []evsel.UringOp

// chooseDriver decides what the engine's loops run on and logs a fallback
// once.
//
// The default is the readiness driver: io_uring is taken only when asked
// for. The default is to pick io_uring only where the kernel has it and
// the benchmark shows it is not slower; on the machine the benchmark runs
// on (README, Performance) it is 0.86–0.90× of epoll at 8,192 connections
// with 64 B and 1 KiB messages and 0.94× at 1,024 × 64 B, about even at
// 1,024 × 1 KiB and with up to 64 connections, and up to 1.10× with
// 16 KiB messages (1,024 connections), so it is not faster everywhere and
// "" stays epoll. An engine cannot know its connection count or message
// size when it picks.
func (e *Engine) chooseDriver() string {
	name := e.opts.Driver
	if name == "" {
		name = e.opts.Backend
	}
	if name == "" {
		name = testdriver.Name // a test binary running its suite on one driver
	}
	if name != DriverIOUring {
		return name
	}
	if err := evsel.UringAvailable(uringRequired...); err != nil {
		e.log.Warn("loop: io_uring unavailable, falling back to the readiness driver", "err", err)
		return "" // the platform's best poller: epoll on Linux
	}
	return name
}

// newDriver makes a loop's driver; the completion driver's ring is made
// later, by start, on the loop's own thread.
func newDriver(l *Loop, name string) (driver, error) {
	if name == DriverIOUring {
		return newUringDriver(l)
	}
	p, err := newPoller(name)
	if err != nil {
		return nil, err
	}
	return newPollDriver(l, p), nil
}

// newPoller opens the named backend, or the platform's best for "".
func newPoller(backend string) (evsel.Poller, error) {
	if backend == "" {
		return evsel.NewPoller()
	}
	return evsel.NewPollerNamed(backend)
}

// Driver reports what the loops run on: "io_uring", or the name of the
// readiness poller ("epoll", "kqueue", "poll", "iocp"). It differs from
// Options.Driver when the engine fell back (io_uring unavailable) or
// picked the default.
func (e *Engine) Driver() string { return e.loops[0].drv.name() }
