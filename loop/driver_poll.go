package loop

import (
	"errors"
	"net"
	"runtime"
	"time"

	"github.com/evsel/evsel"
)

// pollDriver is the readiness driver: a Poller reports which sockets are
// ready and the loop reads, writes and accepts itself.
type pollDriver struct {
	l      *Loop
	p      evsel.Poller
	raw    evsel.RawWaiter // p, when it can wait raw (epoll); else nil
	events []evsel.Event   // what the last Wait reported
}

// eventBatch is how many ready descriptors one poll takes at most; the rest
// are reported by the next (readiness is level-triggered).
const eventBatch = 256

func newPollDriver(l *Loop, p evsel.Poller) *pollDriver {
	raw, _ := p.(evsel.RawWaiter)
	l.stage = make([]byte, 0, chunkSize) // its flush writes from the stage (output.go)
	return &pollDriver{l: l, p: p, raw: raw, events: make([]evsel.Event, eventBatch)}
}

func (d *pollDriver) name() string { return d.p.Name() }
func (d *pollDriver) start() error { return nil }
func (d *pollDriver) wake() error  { return d.p.Wake() }
func (d *pollDriver) close() error { return d.p.Close() }

// closing is false: release closes at once.
func (d *pollDriver) closing() bool { return false }

// unlockWhileWaiting: on Windows the loop stays on its thread throughout.
// The IOCP backend submits its AFD polls from the loop's thread as a wait
// begins, and Windows ties an I/O request to the thread that issued it.
// The stalls once blamed on unlocking under Wine (2 of 4 runs unlocked, 0 of
// 4 locked) were later found in locked runs too, and came from wineserver's
// cost per socket call (see internal/testenv), so the choice is unmeasured
// on Windows; the saving was measured on Linux only.
const unlockWhileWaiting = runtime.GOOS != "windows"

// poll waits for readiness. Two measured choices (server CPU per 64-byte
// echo, one loop, GOMAXPROCS=1, quiet 2-core machine; see the commit):
//
// After a busy iteration it first looks without blocking and, finding
// nothing, yields once before blocking, as gnet does. Blocking at once for
// every short gap between a peer's messages costs more: the Go runtime's
// monitor takes the P from a thread blocked in a system call for over ~20µs
// and wakes another thread to hold it (64 connections: 6.86 → 6.40 µs).
//
// The loop goroutine is locked to its OS thread while it handles events,
// but (except on Windows, see unlockWhileWaiting) not while it yields or
// blocks in the kernel: for a locked goroutine
// both make the scheduler park the thread and pass the P to another one
// and back, two futex calls and context switches per wait (1 connection:
// 29.2 µs locked throughout, 24.4 µs unlocked around the wait; gnet 23.8).
//
// After that yield, the wait that follows a busy iteration is raw where
// the poller can (evsel.RawWaiter): the loop keeps its P for up to
// evsel.MaxRawWait, so the runtime's monitor does not take the P back and
// fall into polling every 20 µs, which it otherwise did for good once each
// wait lasted a round trip (one connection, server CPU µs per 64-byte
// echo, 5 interleaved rounds: 26–55 by the monitor's mode, 24.6 raw in
// every round, C 24.4; 1,024 connections 4.16 → 4.19 and pipelined
// 0.259 → 0.260, both noise). A raw wait that times out or is interrupted
// returns nothing, the loop goes round, and the next wait, no longer after
// a busy iteration, is the ordinary one, which gives the P back for as
// long as the loop is idle. The wait is raw only while every loop of the
// process has a P of its own (rawwait.go), and a loop that woke a
// goroutine waiting for it yields twice before it waits (woken.go).
func (d *pollDriver) poll(timeout time.Duration, busy bool) (int, error) {
	if timeout == 0 { // tasks are waiting: just look
		return d.wait(0)
	}
	if busy {
		if n, err := d.wait(0); n > 0 || err != nil {
			return n, err
		}
		// That look may have consumed the wake-up of a task queued since
		// run checked the queue; blocking now would strand the task (and
		// every later one, whose enqueue sees a non-empty queue and does
		// not wake us).
		if d.l.tasks.pending() {
			return 0, nil
		}
	}
	if unlockWhileWaiting {
		runtime.UnlockOSThread()
		defer runtime.LockOSThread()
	}
	if d.l.yieldToWoken() || busy {
		runtime.Gosched()
	}
	if busy && d.raw != nil && d.l.rawWaitFair() {
		return d.raw.WaitRaw(d.events, timeout)
	}
	return d.wait(timeout)
}

func (d *pollDriver) wait(timeout time.Duration) (int, error) {
	n, err := d.p.Wait(d.events, timeout)
	if err != nil {
		return 0, err
	}
	return n, nil
}

// dispatch hands each readiness report to its connection or listener.
func (d *pollDriver) dispatch(n int) {
	l := d.l
	for _, ev := range d.events[:n] {
		if c := l.fds.get(ev.Fd); c != nil {
			// Masked by the interest the connection has now, not when the
			// poll began: one that an earlier entry of this batch closed,
			// or made give up an event, must not act on the stale report.
			if ready := ev.Events & c.events; ready != 0 {
				d.handle(c, ready)
			}
			continue
		}
		l.dispatchOther(ev)
	}
}

// handle serves one readiness report of a connection.
func (d *pollDriver) handle(c *Conn, ev evsel.Events) {
	l := d.l
	if c.closed.Load() {
		return
	}
	if ev&evsel.EventWrite != 0 {
		switch {
		case c.flags&flagDialing != 0:
			err := c.sock.ConnectResult()
			if errors.Is(err, evsel.ErrInProgress) {
				break // spurious wake-up: keep waiting
			}
			l.connectDone(c, err)
		case c.flags&flagCloseNow == 0: // Abort drops what is pending
			d.flush(c)
		}
	}
	if ev&evsel.EventRead != 0 && c.flags&(flagCloseNow|flagEOF|flagDialing|flagDraining|flagHeld) == 0 &&
		(l.e.opts.MaxMemory <= 0 || !l.memRefuse(c, len(l.buf))) {
		// Marked dirty for the read's callback, whose writes then need not
		// list the connection for settleDirty: the settle below is the one
		// it would get.
		c.flags |= flagDirty
		l.read(c)
	} else if ev&evsel.EventRead != 0 && c.flags&(flagDraining|flagCloseNow) == flagDraining {
		l.discardInput(c)
	}
	l.settle(c)
}

// flush writes pending output until it is all sent or the kernel is full.
func (d *pollDriver) flush(c *Conn) {
	l := d.l
	if l.staged == c {
		n, err := c.sock.TryWrite(l.stage)
		switch {
		case err == nil:
			c.wrote(n)
			c.outLen -= n
		case err != evsel.ErrWouldBlock:
			c.fail(err) // closes now: the output goes with the connection
			l.dropStage()
			return
		}
		l.unstage(n) // anything left waits in the connection's chunks
		return
	}
	for c.outLen > 0 {
		var n int
		var err error
		if len(c.out) == 1 {
			n, err = c.sock.TryWrite(c.out[0])
		} else {
			n, err = c.sock.TryWritev(c.out[:min(len(c.out), maxIovec)])
		}
		if err == evsel.ErrWouldBlock {
			return
		}
		if err != nil {
			c.fail(err)
			return
		}
		c.wrote(n)
		full := n < c.outLen && n < batchBytes(c.out)
		c.advance(n)
		if full {
			return // a short write: the next one would only say EAGAIN
		}
	}
}

// maxIovec bounds the chunks one writev is given, and so batchBytes' count
// of what a full write takes: no more than any platform's gather takes in
// one call (TryWritev's 16 on Linux, x/sys's 8 on the stack elsewhere).
const maxIovec = 8

func batchBytes(out [][]byte) int {
	n := 0
	for _, b := range out[:min(len(out), maxIovec)] {
		n += len(b)
	}
	return n
}

func (d *pollDriver) watch(c *Conn, ev evsel.Events) error {
	fd := c.fd()
	if err := d.p.Add(fd, ev); err != nil {
		return err
	}
	d.l.fds.set(fd, c)
	c.events = ev
	return nil
}

// update watches exactly the events the connection wants. Watching
// nothing is not portable (poll and epoll still report hang-ups, which
// would spin the loop), so a connection that wants nothing (paused, or at
// the peer's end of stream after OnEOF, with nothing to send) leaves the
// poller until it wants something again.
func (d *pollDriver) update(c *Conn, want evsel.Events) error {
	if want == 0 {
		if c.flags&flagUnwatched == 0 {
			_ = d.p.Delete(c.fd()) // an error only means it is gone already
			c.flags |= flagUnwatched
			c.events = 0
		}
		return nil
	}
	if c.flags&flagUnwatched != 0 {
		if err := d.p.Add(c.fd(), want); err != nil {
			return err
		}
		c.flags &^= flagUnwatched
		c.events = want
		return nil
	}
	if want != c.events {
		if err := d.p.Modify(c.fd(), want); err != nil {
			c.events = 0
			return err
		}
		c.events = want
	}
	return nil
}

func (d *pollDriver) reading(c *Conn) bool {
	return c.flags&flagUnwatched == 0 && c.events == evsel.EventRead
}

// connect starts a non-blocking connect and watches it for WRITE, which
// says it ended.
func (d *pollDriver) connect(c *Conn, s *evsel.Socket, a net.Addr) error {
	if err := s.Connect(a); err != nil && !errors.Is(err, evsel.ErrInProgress) {
		s.Close()
		return err
	}
	c.sock = *s
	c.flags &^= flagNoSock
	if err := d.watch(c, evsel.EventWrite); err != nil {
		c.sock.Close()
		c.flags |= flagNoSock
		return err
	}
	return nil
}

func (d *pollDriver) release(c *Conn) {
	fd := c.fd()
	d.l.fds.set(fd, nil)
	// An error only means the kernel forgot the descriptor already.
	_ = d.p.Delete(fd)
	c.events = 0
	c.sock.Close()
}

func (d *pollDriver) listen(ln *listener) error { return d.p.Add(ln.fd, evsel.EventRead) }

func (d *pollDriver) pauseListener(ln *listener) { d.p.Delete(ln.fd) }

func (d *pollDriver) resumeListener(ln *listener) error { return d.p.Add(ln.fd, evsel.EventRead) }

func (d *pollDriver) closeListener(ln *listener, s *evsel.Socket) {
	if !ln.paused {
		d.p.Delete(ln.fd)
	}
	s.Close()
}

func (d *pollDriver) addPacket(pc *PacketConn) error { return d.p.Add(pc.fd, pc.events) }

func (d *pollDriver) watchPacket(pc *PacketConn, want evsel.Events) error {
	return d.p.Modify(pc.fd, want)
}

func (d *pollDriver) closePacket(pc *PacketConn) error {
	_ = d.p.Delete(pc.fd)
	return pc.sock.Close()
}
