package loop

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/evsel/evsel"
)

// Loop is one event loop: a goroutine locked to an OS thread while it
// handles events, one poller, and the connections assigned to it.
type Loop struct {
	e      *Engine
	id     int
	poller evsel.Poller
	events []evsel.Event // what the last Wait reported
	fds    fdTable       // the registered connections, by descriptor
	buf    []byte        // shared read buffer
	plain  []byte        // shared buffer for decrypted TLS input, made on first use
	clock  int64         // unix ns at the start of the current iteration
	now    time.Time

	conns     int        // connections on this loop (dialing ones included)
	dirty     []*Conn    // connections to settle before the next poll
	chunks    [][]byte   // free output chunks
	vecs      [][][]byte // free output lists (Conn.out), so draining and refilling does not allocate
	timers    timerHeap
	listeners []*listener
	resolving map[*Conn]struct{} // dialing connections whose address is being looked up
	idleSweep *Timer
	idleEvery time.Duration
	stopping  bool
	shedNext  int         // where the next shed sample starts in fds.direct
	reserve   *os.File    // spare descriptor for accepting when out of them (shed.go)
	pk        *packetLoop // datagram sockets, nil until the first (packet_io.go)

	memPausedConns []*Conn // connections paused by the memory budget, maybe stale (budget.go)
	memSweep       *Timer
	memClosedAt    int64 // loop clock (so iteration) of the last closeLargest

	tasks taskQueue
	stats loopStats
	gid   atomic.Uint64 // the loop goroutine's id, for Engine.onEngineGoroutine
}

// eventBatch is how many ready descriptors one poll takes at most; the rest
// are reported by the next (readiness is level-triggered).
const eventBatch = 256

func newLoop(e *Engine, id int, p evsel.Poller) *Loop {
	now := time.Now()
	return &Loop{
		e: e, id: id, poller: p, events: make([]evsel.Event, eventBatch),
		buf: make([]byte, e.opts.ReadBufferSize), now: now, clock: now.UnixNano(),
	}
}

// newPoller opens the named backend, or the platform's best for "".
func newPoller(backend string) (evsel.Poller, error) {
	if backend == "" {
		return evsel.NewPoller()
	}
	return evsel.NewPollerNamed(backend)
}

// ID is the loop's index in Engine.Loops.
func (l *Loop) ID() int { return l.id }

// Engine returns the engine the loop belongs to.
func (l *Loop) Engine() *Engine { return l.e }

func (l *Loop) String() string { return fmt.Sprintf("loop %d", l.id) }

// protect runs a callback, turning a panic into the close of c (or a log
// line, for callbacks not tied to a connection) so one bad handler cannot
// take the loop down.
func (l *Loop) protect(c *Conn, fn func()) {
	defer l.recoverPanic(c)
	fn()
}

// callData is protect for OnData, the hot path, without a closure to
// allocate per read.
func (l *Loop) callData(c *Conn) {
	defer l.recoverPanic(c)
	l.e.h.OnData(c)
}

// callOpen and callClose are protect for OnOpen and OnClose, without a
// closure to allocate per connection (it would be garbage left by every
// accept, which an idle server's RSS shows).
func (l *Loop) callOpen(c *Conn) {
	defer l.recoverPanic(c)
	l.e.h.OnOpen(c)
}

func (l *Loop) callClose(c *Conn, err error) {
	defer l.recoverPanic(nil) // the connection is already gone
	l.e.h.OnClose(c, err)
}

func (l *Loop) recoverPanic(c *Conn) {
	if r := recover(); r != nil {
		perr := &PanicError{Value: r, Stack: debug.Stack()}
		l.e.log.Error("loop: handler panic", "loop", l.id, "panic", r, "stack", string(perr.Stack))
		if c != nil && !c.closed.Load() {
			c.fail(perr)
		}
	}
}

// unlockWhileWaiting: on Windows the loop stays on its thread throughout.
// The IOCP backend submits its AFD polls from the loop's thread as a wait
// begins, and Windows ties an I/O request to the thread that issued it.
// The stalls once blamed on unlocking under Wine (2 of 4 runs unlocked, 0 of
// 4 locked) were later found in locked runs too, and came from wineserver's
// cost per socket call (see internal/testenv), so the choice is unmeasured
// on Windows; the saving was measured on Linux only.
const unlockWhileWaiting = runtime.GOOS != "windows"

func (l *Loop) run() {
	l.gid.Store(goid())
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer l.e.wg.Done()
	busy := false // the last iteration had work
	for {
		timeout := l.untilNextTimer()
		if l.tasks.pending() {
			timeout = 0
		}
		n, err := l.poll(timeout, busy)
		busy = n > 0
		l.now = time.Now()
		l.clock = l.now.UnixNano()
		if err != nil {
			l.e.log.Error("loop: poll failed", "loop", l.id, "err", err)
			time.Sleep(10 * time.Millisecond) // never spin on a broken poller
		}
		for _, ev := range l.events[:n] {
			l.dispatch(ev)
		}
		l.runTasks()
		l.runTimers()
		l.settleDirty()
		if l.pk != nil && len(l.pk.dirty) > 0 {
			l.flushPackets()
		}
		if l.stopping && l.conns == 0 {
			break
		}
	}
	l.shutdown()
}

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
func (l *Loop) poll(timeout time.Duration, busy bool) (int, error) {
	if timeout == 0 { // tasks are waiting: just look
		return l.wait(0)
	}
	if busy {
		if n, err := l.wait(0); n > 0 || err != nil {
			return n, err
		}
		// That look may have consumed the wake-up of a task queued since
		// run checked the queue; blocking now would strand the task (and
		// every later one, whose enqueue sees a non-empty queue and does
		// not wake us).
		if l.tasks.pending() {
			return 0, nil
		}
	}
	if unlockWhileWaiting {
		runtime.UnlockOSThread()
		defer runtime.LockOSThread()
	}
	if busy {
		runtime.Gosched()
	}
	return l.wait(timeout)
}

// wait fills l.events from the poller.
func (l *Loop) wait(timeout time.Duration) (int, error) {
	n, err := l.poller.Wait(l.events, timeout)
	if err != nil {
		return 0, err
	}
	return n, nil
}

// dispatch hands one readiness report to its connection or listener.
func (l *Loop) dispatch(ev evsel.Event) {
	if c := l.fds.get(ev.Fd); c != nil {
		// Masked by the interest the connection has now, not when the poll
		// began: one that an earlier entry of this batch closed, or made
		// give up an event, must not act on the stale report.
		if ready := ev.Events & c.events; ready != 0 {
			l.handle(c, ready)
		}
		return
	}
	for _, ln := range l.listeners {
		if ln.fd == ev.Fd && ln.sock != nil && !ln.paused {
			ln.accept()
			return
		}
	}
	if l.pk != nil {
		l.dispatchPacket(ev)
	}
}

// handle serves one readiness report of a connection.
func (l *Loop) handle(c *Conn, ev evsel.Events) {
	if c.closed.Load() {
		return
	}
	if ev&evsel.EventWrite != 0 {
		switch {
		case c.flags&flagDialing != 0:
			l.connected(c)
		case c.flags&flagCloseNow == 0: // Abort drops what is pending
			l.flush(c)
		}
	}
	if ev&evsel.EventRead != 0 && c.flags&(flagCloseNow|flagEOF|flagDialing) == 0 &&
		(l.e.opts.MaxMemory <= 0 || !l.memRefuse(c, len(l.buf))) {
		l.read(c)
	}
	l.settle(c)
}

// read reads once (level-triggered readiness brings us back if more is
// waiting) and hands the input to the handler.
func (l *Loop) read(c *Conn) {
	if c.flags&flagTLS != 0 {
		l.readTLS(c)
		return
	}
	var dst []byte
	if len(c.in) > 0 {
		// A partial message is waiting: read straight behind it.
		if cap(c.in)-len(c.in) < minRead {
			size := max(2*len(c.in), len(c.in)+len(l.buf))
			if l.e.opts.MaxMemory > 0 && l.memRefuse(c, size-cap(c.in)) {
				return
			}
			grown := make([]byte, len(c.in), size)
			copy(grown, c.in)
			c.in = grown
		}
		dst = c.in[len(c.in):cap(c.in)]
	} else {
		dst = l.buf
	}
	n, err := c.sock.Read(dst)
	switch {
	case err == evsel.ErrWouldBlock:
		return
	case err == io.EOF:
		c.flags |= flagEOF
		c.closeWith(io.EOF, false)
		return
	case err != nil:
		c.fail(err)
		return
	}
	l.stats.reads.Add(1)
	l.stats.bytesIn.Add(int64(n))
	c.flags &^= flagAwaitFirst
	c.touch()
	if len(c.in) > 0 {
		c.in = c.in[:len(c.in)+n]
	} else {
		c.in = l.buf[:n]
		c.flags |= flagShared
	}
	l.callData(c)
	l.keepInput(c)
}

// minRead is the least free space a connection's own input buffer must have
// before a read goes into it.
const minRead = 4 << 10

// keepInput makes what the handler left unconsumed the connection's own, so
// the shared read buffer can be reused, and frees the buffer of a drained
// connection so an idle one holds no input memory.
func (l *Loop) keepInput(c *Conn) {
	switch {
	case len(c.in) == 0:
		c.in = nil
	case c.flags&flagShared != 0:
		c.in = append(make([]byte, 0, max(len(c.in)*2, minRead)), c.in...)
	case len(c.in) > l.e.opts.MaxInput:
		c.fail(ErrInputOverflow)
	}
	c.flags &^= flagShared
}

// settle brings a connection's kernel state in line with what its handler
// did: send fresh output, close it if asked, and watch exactly the events it
// needs — WRITE only while output is pending, READ only while not paused by
// backpressure.
func (l *Loop) settle(c *Conn) {
	c.flags &^= flagDirty
	if c.closed.Load() {
		return
	}
	if c.flags&flagCloseNow == 0 && c.outLen > 0 && c.events&evsel.EventWrite == 0 && c.flags&flagDialing == 0 {
		l.flush(c)
	}
	// A closing connection goes once its output is out; a dialing one with
	// nothing to send need not wait for its connect.
	if c.flags&flagCloseNow != 0 || (c.flags&flagClosing != 0 && c.outLen == 0) {
		l.finish(c)
		return
	}
	l.account(c)
	o := &l.e.opts
	switch {
	case c.flags&flagPaused == 0 && c.outLen > o.HighWater:
		c.flags |= flagPaused
	case c.flags&flagPaused != 0 && c.outLen <= o.LowWater:
		c.flags &^= flagPaused
	}
	if c.flags&flagNoSock != 0 {
		return // dialing, its address still being looked up: nothing to watch yet
	}
	var want evsel.Events
	if c.flags&flagDialing != 0 {
		want = evsel.EventWrite
	} else {
		if c.flags&(flagPaused|flagMemPaused|flagClosing|flagEOF|flagHsFull) == 0 { // EOF sets flagClosing, but for a TLS handshake's end
			want |= evsel.EventRead
		}
		if c.outLen > 0 {
			want |= evsel.EventWrite
		}
	}
	// want is empty only for a connection the memory budget paused with
	// nothing to send: a dialing connection wants WRITE, a closing one with
	// nothing to send was finished above, and one paused by backpressure has
	// output pending. Watching nothing is not portable (poll and epoll still
	// report hang-ups, which would spin the loop), so it leaves the poller
	// until it is resumed.
	if want == 0 {
		if c.flags&flagUnwatched == 0 {
			_ = l.poller.Delete(c.fd()) // an error only means it is gone already
			c.flags |= flagUnwatched
			c.events = 0
		}
		return
	}
	if c.flags&flagUnwatched != 0 {
		if err := l.poller.Add(c.fd(), want); err != nil {
			c.fail(err)
			l.finish(c)
			return
		}
		c.flags &^= flagUnwatched
		c.events = want
		return
	}
	if want != c.events {
		if err := l.poller.Modify(c.fd(), want); err != nil {
			c.events = 0
			c.fail(err)
			l.finish(c)
			return
		}
		c.events = want
	}
}

func (l *Loop) settleDirty() {
	// settle may close connections, whose OnClose may dirty others: loop
	// until the list stays empty.
	for len(l.dirty) > 0 {
		batch := l.dirty
		l.dirty = nil
		for i, c := range batch {
			if c.flags&flagDirty != 0 {
				l.settle(c)
			}
			batch[i] = nil
		}
		if l.dirty == nil {
			l.dirty = batch[:0]
		}
	}
}

// watch registers a connection's socket with the poller for ev.
func (l *Loop) watch(c *Conn, ev evsel.Events) error {
	fd := c.fd()
	if err := l.poller.Add(fd, ev); err != nil {
		return err
	}
	l.fds.set(fd, c)
	c.events = ev
	return nil
}

// unwatch removes a connection's socket from the poller, before it is
// closed.
func (l *Loop) unwatch(c *Conn) {
	fd := c.fd()
	l.fds.set(fd, nil)
	// An error only means the kernel forgot the descriptor already.
	_ = l.poller.Delete(fd)
	c.events = 0
}

// adopt counts a connection in as this loop's.
func (l *Loop) adopt(c *Conn) {
	c.active = l.clock
	l.conns++
	l.stats.open.Add(1)
	l.e.open.Add(1)
	d, o := c.idleTimeout(), l.e.opts.shortestDeadline()
	if d <= 0 || (o > 0 && o < d) {
		d = o
	}
	if d > 0 {
		l.ensureIdleSweep(d)
	}
}

// register adds an accepted connection to this loop. c.loop is already l:
// it is set once, before the Conn is shared with any goroutine, and never
// written again.
func (l *Loop) register(c *Conn) {
	if l.stopping {
		c.sock.Close()
		c.closed.Store(true)
		return
	}
	l.makeRoom() // before c is in the table, where it would look idle the longest
	if err := l.watch(c, evsel.EventRead); err != nil {
		c.sock.Close()
		c.closed.Store(true)
		l.e.log.Warn("loop: register failed", "loop", l.id, "err", err)
		return
	}
	if l.e.opts.FirstByteTimeout > 0 {
		c.flags |= flagAwaitFirst
	}
	l.adopt(c)
	l.stats.accepted.Add(1)
	l.open(c)
}

func (l *Loop) open(c *Conn) {
	if c.flags&flagTLS != 0 && !c.aux.tls.done {
		l.tlsStart(c) // OnOpen once the handshake has succeeded
		return
	}
	c.flags |= flagOpen
	l.callOpen(c)
	l.settle(c)
}

// finish closes a connection for good: OnClose first, while the descriptor
// is still open so the handler can ask for addresses, then the descriptor.
func (l *Loop) finish(c *Conn) {
	if c.closed.Swap(true) {
		return
	}
	c.endDial()
	hasSock := c.flags&flagNoSock == 0
	if hasSock {
		l.unwatch(c)
	}
	if c.flags&flagTLS != 0 {
		c.tlsFinish()
	}
	if err := c.reason(); (c.flags&(flagOpen|flagDialing) != 0 || err != nil) &&
		(c.flags&flagTLS == 0 || c.tlsReported()) {
		l.callClose(c, err)
	}
	if hasSock {
		c.sock.Close()
		c.flags |= flagNoSock
	}
	for _, b := range c.out {
		l.putChunk(b)
	}
	if c.out != nil {
		l.putVec(c.out)
	}
	c.out, c.outLen, c.events = nil, 0, 0
	l.memForget(c)
	l.conns--
	l.stats.open.Add(-1)
	l.e.open.Add(-1)
	l.stats.closed.Add(1)
}
