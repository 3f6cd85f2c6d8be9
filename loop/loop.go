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
// handles events, one driver (a poller or an io_uring), and the
// connections assigned to it.
type Loop struct {
	e       *Engine
	id      int
	drv     driver
	fds     fdTable   // the registered connections, by descriptor
	buf     []byte    // shared read buffer
	plain   []byte    // shared buffer for decrypted TLS input, made on first use
	fileBuf []byte    // SendFile's copy buffer, made on first use (sendfile.go)
	epoch   time.Time // when the loop was made; clock counts from it
	clock   int64     // monotonic ns since epoch at the start of the current iteration
	// woke: since it last waited, the loop woke a goroutine that waits
	// for it (a WriteWait caller, a TLS handshake, Woke's): see woken.go.
	// Atomic only so that a Woke from the wrong goroutine is harmless.
	woke atomic.Bool
	// maxprocs is GOMAXPROCS as read at maxprocsAt (clock): see rawwait.go.
	maxprocs   int32
	maxprocsAt int64

	conns     int        // connections on this loop (dialing ones included)
	dirty     []*Conn    // connections to settle before the next poll
	drained   []*Conn    // connections whose OnDrained is due (flow.go)
	chunks    [][]byte   // free output chunks
	vecs      [][][]byte // free output lists (Conn.out), so draining and refilling does not allocate
	stage     []byte     // one connection's output between its writes and its flush (output.go)
	staged    *Conn      // the connection whose output the stage holds, or nil
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
	memStuckSince  int64 // loop clock since which paused connections sit in the dead zone, not draining (0: not)
	memPausedHeld  int64 // what they held at the last sweep

	firingTimers bool // runTimers is running (timer.go)

	tasks taskQueue
	stats loopStats
	gid   atomic.Uint64 // the loop goroutine's id, for Engine.OnLoopGoroutine
	beat  beat          // for the stall watchdog (stall.go)
}

func newLoop(e *Engine, id int) *Loop {
	now := time.Now()
	return &Loop{
		e: e, id: id, buf: make([]byte, e.opts.ReadBufferSize), epoch: now,
	}
}

// tick reads the clock for a new iteration. A monotonic clock does not
// step when the wall clock is set, so an idle deadline measures the time
// that really passed. time.Since reads only that clock, one vDSO call
// where time.Now makes two (the pair was 0.4–0.6% of the server's CPU in
// profiles at 64 connections; the saving did not show in server CPU per
// message, 1,024 × 64 B 4.69 → 4.61 µs, pipelined 0.288 → 0.291). Timers
// count on the same clock, so an iteration makes no time.Time.
func (l *Loop) tick() {
	l.clock = int64(time.Since(l.epoch))
}

// ID is the loop's index in Engine.Loops.
func (l *Loop) ID() int { return l.id }

// Engine returns the engine the loop belongs to.
func (l *Loop) Engine() *Engine { return l.e }

// String names the loop by its ID ("loop 0"), for fmt and debuggers.
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
	if c.flags&flagHeld != 0 {
		return // PauseReading: the input waits for ResumeReading (flow.go)
	}
	// recover in a function literal: deferring recoverPanic(c) went
	// through a compiler-made wrapper as well, a call more per read.
	defer func() {
		if r := recover(); r != nil {
			l.handlerPanicked(c, r)
		}
	}()
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
		l.handlerPanicked(c, r)
	}
}

// handlerPanicked logs a callback's panic and closes c (if any) with it,
// which it returns.
func (l *Loop) handlerPanicked(c *Conn, r any) *PanicError {
	perr := l.panicked("loop: handler panic", r)
	if c != nil && !c.closed.Load() {
		c.closeWith(perr, true) // not fail: the handler's fault, not the handshake's
	}
	return perr
}

// panicked logs r, recovered from the application's code on the loop,
// under msg, with its stack, and returns it as the *PanicError a close or
// a failed attempt reports. Called from the deferred recover, so that the
// stack is the panic's.
func (l *Loop) panicked(msg string, r any) *PanicError {
	perr := &PanicError{Value: r, Stack: debug.Stack()}
	l.e.log.Error(msg, "loop", l.id, "panic", r, "stack", string(perr.Stack))
	return perr
}

// run is the loop goroutine. started gets the driver's start error (nil
// once the loop serves); on error the loop has exited.
func (l *Loop) run(started chan<- error) {
	l.gid.Store(goid())
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer l.e.wg.Done()
	defer l.beat.waiting() // gone: nothing for the watchdog to report
	err := l.drv.start()
	if err != nil && l.drv.name() == DriverIOUring {
		// The probe passed but this ring could not be set up (out of
		// locked memory, descriptors...): serve on epoll rather than not.
		l.e.log.Warn("loop: io_uring setup failed, falling back to the readiness driver", "loop", l.id, "err", err)
		l.drv.close()
		var p evsel.Poller
		if p, err = newPoller(""); err == nil {
			l.drv = newPollDriver(l, p)
		}
	}
	if err != nil {
		l.drv.close()
		l.tasks.close()
		started <- err
		return
	}
	loopsRunning.Add(1)
	defer loopsRunning.Add(-1)
	started <- nil
	busy := false // the last iteration had work
	for {
		timeout := l.untilNextTimer()
		if l.tasks.pending() || len(l.drained) > 0 {
			timeout = 0
		}
		l.beat.waiting()
		n, err := l.drv.poll(timeout, busy)
		l.beat.working()
		busy = n > 0
		l.tick()
		if err != nil {
			l.e.log.Error("loop: poll failed", "loop", l.id, "err", err)
			time.Sleep(10 * time.Millisecond) // never spin on a broken poller
		}
		l.drv.dispatch(n)
		l.runTasks()
		l.runTimers()
		l.settleAll()
		if l.stopping && l.conns == 0 {
			break
		}
	}
	l.shutdown()
}

// dispatchOther serves a readiness report of a listener or a datagram
// socket.
func (l *Loop) dispatchOther(ev evsel.Event) {
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
			if l.e.opts.MaxMemory > 0 {
				var ok bool
				if size, ok = l.inputRoom(c, size, len(c.in)+minRead); !ok {
					return
				}
			}
			grown := make([]byte, len(c.in), size)
			copy(grown, c.in)
			c.in = grown
		}
		dst = c.in[len(c.in):cap(c.in)]
	} else {
		dst = l.buf
	}
	n, err := c.sock.TryRead(dst)
	switch {
	case err == evsel.ErrWouldBlock:
		return
	case err == io.EOF:
		l.peerEOF(c)
		return
	case err != nil:
		c.fail(err)
		return
	}
	l.received(c, n)
	if len(c.in) > 0 {
		c.in = c.in[:len(c.in)+n]
	} else {
		c.in = l.buf[:n]
		c.flags |= flagShared
	}
	l.callData(c)
	l.keepInput(c)
}

// input hands bytes a completion delivered (in a buffer the driver takes
// back once this returns) to the handler: alone, as the shared read
// buffer is, or behind a partial message waiting in the connection's own
// buffer, which grows to size if p does not fit (by doubling if size is
// 0; less where the memory budget has less room: see inputRoom).
func (l *Loop) input(c *Conn, p []byte, size int) {
	l.received(c, len(p))
	if len(c.in) > 0 {
		if cap(c.in)-len(c.in) < len(p) {
			if size == 0 {
				size = inputGrowth(c, len(p))
			}
			grown := make([]byte, len(c.in), size)
			copy(grown, c.in)
			c.in = grown
		}
		c.in = append(c.in, p...)
	} else {
		c.in = p
		c.flags |= flagShared
	}
	l.callData(c)
	l.keepInput(c)
}

// received counts n bytes that arrived on c, by whichever path: the
// statistics, the first-byte deadline, the idle clock.
func (l *Loop) received(c *Conn, n int) {
	l.stats.reads.Add(1)
	l.stats.bytesIn.Add(int64(n))
	c.flags &^= flagAwaitFirst
	c.touch()
}

// inputGrowth is the size a connection's input buffer holding a partial
// message grows to for n more bytes, doubling as read does.
func inputGrowth(c *Conn, n int) int {
	return max(2*len(c.in), len(c.in)+n, len(c.in)+minRead)
}

// minRead is the least free space a connection's own input buffer must have
// before a read goes into it.
const minRead = 4 << 10

// keepInput makes what the handler left unconsumed the connection's own, so
// the shared read buffer can be reused, and frees the buffer of a drained
// connection so an idle one holds no input memory.
func (l *Loop) keepInput(c *Conn) {
	if len(c.in) == 0 { // the usual case, inlined
		c.in = nil
		c.flags &^= flagShared
		return
	}
	l.keepRest(c)
}

// keepRest is keepInput for a connection that left input unconsumed.
func (l *Loop) keepRest(c *Conn) {
	switch {
	case c.flags&flagShared != 0:
		c.in = append(make([]byte, 0, max(len(c.in)*2, minRead)), c.in...)
	case len(c.in) > l.e.opts.MaxInput && c.flags&flagHeld == 0:
		// Not while PauseReading holds it: the handler cannot consume
		// input it has not seen (the completion driver's receive in
		// flight brings up to about HighWater past the pause). It is
		// judged when ResumeReading has handed it over.
		c.fail(ErrInputOverflow)
	}
	c.flags &^= flagShared
}

// noRead are the flags that stop a connection's reads: backpressure, the
// memory budget, a close in progress, the peer's EOF (with flagClosing
// too, unless OnEOF keeps the connection open for writing, or it came
// during a TLS handshake), a full handshake buffer, the handler's
// PauseReading. settle stops watching READ for them,
// and the completion driver's readMore does not read past them.
const noRead = flagPaused | flagMemPaused | flagClosing | flagEOF | flagHsFull | flagHeld

// settle brings a connection's kernel state in line with what its handler
// did: send fresh output, close it if asked, and watch exactly the events it
// needs — WRITE only while output is pending, READ only while not paused by
// backpressure.
func (l *Loop) settle(c *Conn) {
	c.flags &^= flagDirty
	if c.closed.Load() {
		return
	}
	if c.flags&flagFile != 0 && c.flags&(flagCloseNow|flagDialing|flagNoSock) == 0 {
		switch {
		case c.flags&flagTLS == 0 || c.aux.tls.done:
			l.pumpFiles(c)
		case c.flags&flagClosing != 0:
			// A TLS connection closed before its handshake was done, or
			// by its failure: what was written meanwhile is dropped
			// (WithTLS), and the files with it, so that it closes now as
			// one without files does. Pumped, they would be encrypted
			// into tls.pre, or, the handshake done after the close, reach
			// the peer without those writes.
			c.dropFiles()
		}
		// Else the handshake is under way: the files wait for it.
	}
	if c.flushable() {
		l.drv.flush(c)
	}
	if l.staged == c {
		if c.flags&flagCloseNow != 0 {
			l.dropStage() // finish drops the output anyway
		} else {
			// Not flushed now (dialing, its address still being looked
			// up, or waiting to write): free the stage for the others.
			l.unstage(0)
		}
	}
	if c.flags&(flagWantDrained|flagWaiters) != 0 {
		l.drainable(c)
	}
	// A closing connection goes once its output is out; a dialing one with
	// nothing to send need not wait for its connect.
	// The usual end of an event: everything sent, no input kept, nothing
	// counted against the budget, reading on as before. Nothing below
	// would change anything, and skipping it took instructions per
	// message from 954 to 896 (callgrind, 64 × 64 B echo).
	if c.outLen == 0 && c.held == 0 && cap(c.in) == 0 && c.flags&settleBusy == 0 && l.drv.reading(c) {
		return
	}
	if c.flags&(flagWriteShut|flagClosing|flagCloseNow) == flagWriteShut {
		l.shutWrite(c)
	}
	if c.flags&(flagClosing|flagCloseNow|flagFile) == flagClosing && c.outLen == 0 && c.flags&flagDraining == 0 {
		l.startDrain(c)
	}
	if c.flags&flagCloseNow != 0 || (c.flags&(flagClosing|flagFile) == flagClosing && c.outLen == 0 && c.flags&flagDraining == 0) {
		l.finish(c)
		return
	}
	l.account(c)
	o := &l.e.opts
	pending := c.outLen
	if c.flags&(flagFile|flagHandshake) == flagFile {
		// A file's bytes count too (SendFile), once they can go: a Dial'd
		// TLS connection's handshake must read to let them.
		pending = c.Buffered()
	}
	switch {
	case c.flags&flagPaused == 0 && pending > o.HighWater:
		c.flags |= flagPaused
	case c.flags&flagPaused != 0 && pending <= o.LowWater:
		c.flags &^= flagPaused
	}
	if c.flags&flagNoSock != 0 {
		return // dialing, its address still being looked up: nothing to watch yet
	}
	var want evsel.Events
	if c.flags&flagDialing != 0 {
		want = evsel.EventWrite
	} else {
		if c.flags&noRead == 0 || c.flags&flagDraining != 0 {
			want |= evsel.EventRead
		}
		if c.outLen > 0 || c.flags&flagFileWait != 0 {
			want |= evsel.EventWrite
		}
	}
	// want is empty only for a connection with nothing to send that must
	// not read: paused by the memory budget or PauseReading, or at the
	// peer's end (OnEOF); a dialing connection wants WRITE, a closing one
	// with nothing to send was finished above, and one paused by
	// backpressure has output pending.
	if err := l.drv.update(c, want); err != nil {
		c.fail(err)
		l.finish(c)
	}
}

// settleBusy are the flags under which settle has more to do than
// confirm that a connection reads: closing, paused, not yet connected,
// at the end of its input, or TLS (whose held bytes include its record
// layer's).
const settleBusy = flagCloseNow | flagClosing | flagPaused | flagMemPaused | flagNoSock |
	flagDialing | flagEOF | flagHsFull | flagTLS | flagHeld | flagFile | flagWriteShut

// settleAll settles what the iteration touched before the loop waits:
// the connections, then the datagram sockets, whose flush may call
// OnPacketError, and so on while either has more. A connection written to
// there is settled now, not whenever something next wakes the loop.
func (l *Loop) settleAll() {
	l.callDrained() // what it writes is settled next (flow.go)
	l.settleDirty()
	if l.pk == nil {
		return
	}
	l.pk.round++
	for len(l.pk.dirty) > 0 {
		l.flushPackets()
		l.settleDirty()
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

// watch starts serving a connection's socket for ev.
func (l *Loop) watch(c *Conn, ev evsel.Events) error { return l.drv.watch(c, ev) }

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
		l.e.releaseIP(c)
		return
	}
	l.makeRoom() // before c is in the table, where it would look idle the longest
	if err := l.watch(c, evsel.EventRead); err != nil {
		c.sock.Close()
		c.closed.Store(true)
		l.e.releaseIP(c)
		l.e.log.Warn("loop: register failed", "loop", l.id, "err", err)
		return
	}
	c.flags |= flagAwaitFirst // for FirstByteTimeout
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
	if c.flags&flagWakeOnOpen != 0 {
		c.flags &^= flagWakeOnOpen
		if c.flags&(flagClosing|flagCloseNow) == 0 { // OnOpen did not close it (or panic)
			l.callData(c)
			l.keepInput(c)
		}
	}
	l.settle(c)
}

// finish closes a connection for good: OnClose first, while the descriptor
// is still open so the handler can ask for addresses, then the descriptor.
func (l *Loop) finish(c *Conn) {
	if c.closed.Swap(true) {
		return
	}
	c.endDial()
	c.stopDeadlines()
	hasSock := c.flags&flagNoSock == 0
	if hasSock {
		// Out of the descriptor table before OnClose, which may open
		// another connection; the descriptor itself stays open (the
		// driver closes it in release) so the handler can ask for
		// addresses.
		l.fds.set(c.fd(), nil)
	}
	if c.flags&flagTLS != 0 {
		c.tlsFinish()
	}
	if c.flags&flagFile != 0 {
		c.dropFiles()
	}
	if c.flags&flagWaiters != 0 {
		l.failWaiters(c)
	}
	if err := c.reason(); (c.flags&(flagOpen|flagDialing) != 0 || err != nil) &&
		(c.flags&flagTLS == 0 || c.tlsReported()) {
		l.callClose(c, err)
	}
	if hasSock {
		l.drv.release(c)
		c.flags |= flagNoSock
	}
	if c.flags&flagSending == 0 { // else a send in flight may still read them
		c.recycleOut()
	}
	if l.staged == c { // settle frees the stage first; kept as a defence
		l.dropStage()
	}
	c.out, c.outLen, c.events = nil, 0, 0
	l.e.releaseIP(c)
	l.memForget(c)
	l.conns--
	l.stats.open.Add(-1)
	l.e.open.Add(-1)
	l.stats.closed.Add(1)
}
