package loop

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/evsel/evsel"
	"github.com/evsel/evsel/selector"
)

// Loop is one event loop: a goroutine locked to an OS thread while it
// handles events, one selector, and the connections assigned to it.
type Loop struct {
	e     *Engine
	id    int
	sel   *selector.Selector
	buf   []byte // shared read buffer
	clock int64  // unix ns at the start of the current iteration
	now   time.Time

	conns     int        // connections registered here (dialing ones included)
	dirty     []*Conn    // connections to settle before the next Select
	chunks    [][]byte   // free output chunks
	vecs      [][][]byte // free output lists (Conn.out), so draining and refilling does not allocate
	timers    timerHeap
	listeners []*listener
	idleSweep *Timer
	idleEvery time.Duration
	stopping  bool

	mu     sync.Mutex // guards tasks and exited
	tasks  []task
	spare  []task
	exited bool

	stats loopStats
}

type loopStats struct {
	open, accepted, dialed, closed   atomic.Int64
	bytesIn, bytesOut, reads, writes atomic.Int64
}

// task is work queued to a loop from another goroutine.
type task struct {
	kind taskKind
	conn *Conn
	buf  []byte // taskWrite's payload
	fn   func() // taskFunc's function
}

type taskKind uint8

const (
	taskFunc     taskKind = iota // run fn (on behalf of conn, if set)
	taskWrite                    // write buf to conn
	taskWake                     // call OnData for conn
	taskRegister                 // take over conn from another loop's acceptor
)

// ID is the loop's index in Engine.Loops.
func (l *Loop) ID() int { return l.id }

// Engine returns the engine the loop belongs to.
func (l *Loop) Engine() *Engine { return l.e }

// Do runs fn on the loop. It is safe from any goroutine; it returns
// ErrStopped if the loop has exited.
func (l *Loop) Do(fn func()) error { return l.enqueue(task{fn: fn}) }

func (l *Loop) enqueue(t task) error {
	l.mu.Lock()
	if l.exited {
		l.mu.Unlock()
		return ErrStopped
	}
	first := len(l.tasks) == 0
	l.tasks = append(l.tasks, t)
	l.mu.Unlock()
	if first {
		// Later tasks find the loop already woken; Wake also coalesces. A
		// Wake failing because the loop exited meanwhile is no error: the
		// exiting loop took the task with the rest (see shutdown).
		l.sel.Wake()
	}
	return nil
}

// runTasks runs the queued tasks, swapping buffers so producers are not
// blocked while the tasks run.
func (l *Loop) runTasks() {
	l.mu.Lock()
	tasks := l.tasks
	l.tasks, l.spare = l.spare[:0], nil
	l.mu.Unlock()
	for i := range tasks {
		t := &tasks[i]
		switch c := t.conn; {
		case c == nil:
			l.protect(nil, t.fn)
		case t.kind == taskRegister:
			l.register(c)
		case c.closed.Load():
			// The connection went away after the task was queued.
		case t.kind == taskWrite:
			c.Write(t.buf)
		case t.kind == taskWake:
			l.callData(c)
			l.keepInput(c)
		default:
			l.protect(c, t.fn)
		}
		tasks[i] = task{}
	}
	l.spare = tasks[:0]
}

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
// begins, and under Wine polls submitted from a thread the goroutine has
// since left stall (TestManyConnections stalled in 2 of 4 runs unlocked, 0
// of 4 locked). The saving was measured on Linux only anyway.
const unlockWhileWaiting = runtime.GOOS != "windows"

func (l *Loop) hasTasks() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.tasks) > 0
}

func (l *Loop) run() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer l.e.wg.Done()
	busy := false // the last iteration had work
	for {
		timeout := l.untilNextTimer()
		if l.hasTasks() {
			timeout = 0
		}
		ready, err := l.poll(timeout, busy)
		busy = len(ready) > 0
		l.now = time.Now()
		l.clock = l.now.UnixNano()
		if err != nil {
			l.e.log.Error("loop: select failed", "loop", l.id, "err", err)
			time.Sleep(10 * time.Millisecond) // never spin on a broken poller
		}
		for _, r := range ready {
			switch v := r.Key.Data.(type) {
			case *Conn:
				l.handle(v, r.Events)
			case *listener:
				v.accept()
			}
		}
		l.runTasks()
		l.runTimers()
		l.settleDirty()
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
func (l *Loop) poll(timeout time.Duration, busy bool) ([]selector.Ready, error) {
	if timeout == 0 { // tasks are waiting: just look
		return l.sel.Select(0)
	}
	if busy {
		if ready, err := l.sel.Select(0); len(ready) > 0 || err != nil {
			return ready, err
		}
		// That look may have consumed the wake-up of a task queued since
		// run checked the queue; blocking now would strand the task (and
		// every later one, whose enqueue sees a non-empty queue and does
		// not wake us).
		if l.hasTasks() {
			return nil, nil
		}
	}
	if unlockWhileWaiting {
		runtime.UnlockOSThread()
		defer runtime.LockOSThread()
	}
	if busy {
		runtime.Gosched()
	}
	return l.sel.Select(timeout)
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
		case c.flags&flagCloseNow == 0: // CloseNow drops what is pending
			l.flush(c)
		}
	}
	if ev&evsel.EventRead != 0 && c.flags&(flagCloseNow|flagEOF|flagDialing) == 0 {
		l.read(c)
	}
	l.settle(c)
}

// read reads once (level-triggered readiness brings us back if more is
// waiting) and hands the input to the handler.
func (l *Loop) read(c *Conn) {
	var dst []byte
	if len(c.in) > 0 {
		// A partial message is waiting: read straight behind it.
		if cap(c.in)-len(c.in) < minRead {
			grown := make([]byte, len(c.in), max(2*len(c.in), len(c.in)+len(l.buf)))
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
	c.active = l.clock
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

// flush writes pending output until it is all sent or the kernel is full.
func (l *Loop) flush(c *Conn) {
	for c.outLen > 0 {
		var n int
		var err error
		if len(c.out) == 1 {
			n, err = c.sock.Write(c.out[0])
		} else {
			n, err = c.sock.Writev(c.out[:min(len(c.out), maxIovec)])
		}
		if err == evsel.ErrWouldBlock {
			return
		}
		if err != nil {
			c.fail(err)
			return
		}
		l.stats.writes.Add(1)
		l.stats.bytesOut.Add(int64(n))
		c.active = l.clock
		full := n < c.outLen && n < batchBytes(c.out)
		c.advance(n)
		if full {
			return // a short write: the next one would only say EAGAIN
		}
	}
}

// maxIovec bounds one writev; x/sys builds up to 8 iovecs on the stack.
const maxIovec = 8

func batchBytes(out [][]byte) int {
	n := 0
	for _, b := range out[:min(len(out), maxIovec)] {
		n += len(b)
	}
	return n
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
	o := &l.e.opts
	switch {
	case c.flags&flagPaused == 0 && c.outLen > o.HighWater:
		c.flags |= flagPaused
	case c.flags&flagPaused != 0 && c.outLen <= o.LowWater:
		c.flags &^= flagPaused
	}
	var want evsel.Events
	if c.flags&flagDialing != 0 {
		want = evsel.EventWrite
	} else {
		if c.flags&(flagPaused|flagClosing) == 0 { // EOF always sets flagClosing
			want |= evsel.EventRead
		}
		if c.outLen > 0 {
			want |= evsel.EventWrite
		}
	}
	// want is never empty here: a dialing connection wants WRITE, a closing
	// one with nothing to send was finished above, and a paused one has
	// output pending.
	if want != c.events {
		if _, err := l.sel.Modify(&c.sock, want, c); err != nil {
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

// register adds a connection (accepted, or dialing) to this loop.
// c.loop is already l: it is set once, before the Conn is shared with any
// goroutine (Dial returns it at once), and never written again.
func (l *Loop) register(c *Conn) {
	c.active = l.clock
	want := evsel.EventRead
	if c.flags&flagDialing != 0 {
		want = evsel.EventWrite
	}
	if l.stopping {
		c.sock.Close()
		c.closed.Store(true)
		l.e.deliverClose(c, ErrStopped)
		return
	}
	if _, err := l.sel.Register(&c.sock, want, c); err != nil {
		c.sock.Close()
		c.closed.Store(true)
		l.e.log.Warn("loop: register failed", "loop", l.id, "err", err)
		l.e.deliverClose(c, err)
		return
	}
	c.events = want
	l.conns++
	l.stats.open.Add(1)
	if d := c.idleTimeout(); d > 0 {
		l.ensureIdleSweep(d)
	}
	if c.flags&flagDialing == 0 {
		l.stats.accepted.Add(1)
		l.open(c)
	}
}

func (l *Loop) open(c *Conn) {
	c.flags |= flagOpen
	l.callOpen(c)
	l.settle(c)
}

// connected completes a Dial once the socket is writable.
func (l *Loop) connected(c *Conn) {
	err := c.sock.ConnectResult()
	if errors.Is(err, evsel.ErrInProgress) {
		return // spurious wake-up: keep waiting
	}
	if c.aux != nil && c.aux.timer != nil {
		c.aux.timer.Stop()
		c.aux.timer = nil
	}
	c.flags &^= flagDialing
	if err != nil {
		c.fail(err)
		return
	}
	l.stats.dialed.Add(1)
	if c.flags&flagClosing != 0 {
		// Closed before it connected: what was written before the close is
		// still sent, but the handler is not told of an open it gave up on.
		c.flags |= flagOpen
		return
	}
	l.open(c)
}

// finish closes a connection for good: OnClose first, while the descriptor
// is still open so the handler can ask for addresses, then the descriptor.
func (l *Loop) finish(c *Conn) {
	if c.closed.Swap(true) {
		return
	}
	if c.aux != nil && c.aux.timer != nil {
		c.aux.timer.Stop()
		c.aux.timer = nil
	}
	l.sel.Unregister(&c.sock)
	if err := c.reason(); c.flags&(flagOpen|flagDialing) != 0 || err != nil {
		l.callClose(c, err)
	}
	c.sock.Close()
	for _, b := range c.out {
		l.putChunk(b)
	}
	if c.out != nil {
		l.putVec(c.out)
	}
	c.out, c.outLen, c.events = nil, 0, 0
	l.conns--
	l.stats.open.Add(-1)
	l.stats.closed.Add(1)
}

// Output chunks are recycled per loop so a busy connection does not
// allocate for every response.
const chunkSize = 16 << 10

func (l *Loop) getChunk(n int) []byte {
	if n > chunkSize {
		return make([]byte, 0, n)
	}
	if k := len(l.chunks); k > 0 {
		b := l.chunks[k-1]
		l.chunks = l.chunks[:k-1]
		return b
	}
	return make([]byte, 0, chunkSize)
}

func (l *Loop) putChunk(b []byte) {
	if cap(b) == chunkSize && len(l.chunks) < 1024 {
		l.chunks = append(l.chunks, b[:0])
	}
}

// getVec and putVec recycle connections' output lists: a connection holds
// one only while it has output pending, so idle ones cost nothing.
func (l *Loop) getVec() [][]byte {
	if k := len(l.vecs); k > 0 {
		v := l.vecs[k-1]
		l.vecs = l.vecs[:k-1]
		return v
	}
	return make([][]byte, 0, 4)
}

func (l *Loop) putVec(v [][]byte) {
	if cap(v) <= 64 && len(l.vecs) < 1024 {
		clear(v[:cap(v)])
		l.vecs = append(l.vecs, v[:0])
	}
}

// ensureIdleSweep starts the timer that closes idle connections, checking at
// half the shortest idle timeout in use.
func (l *Loop) ensureIdleSweep(d time.Duration) {
	every := max(d/2, time.Millisecond)
	if l.idleSweep != nil && l.idleEvery <= every {
		return
	}
	if l.idleSweep != nil {
		l.idleSweep.Stop()
	}
	l.idleEvery = every
	l.idleSweep = l.Every(every, l.sweepIdle)
}

func (l *Loop) sweepIdle() {
	if l.conns == 0 {
		// Nothing to sweep: stop ticking; register starts it again.
		l.idleSweep.Stop()
		l.idleSweep, l.idleEvery = nil, 0
		return
	}
	for k := range l.sel.Map().All() {
		c, ok := k.Data.(*Conn)
		// A closing connection is swept too: one whose peer never takes its
		// last output would otherwise hold its descriptor until Stop.
		if !ok || c.flags&flagCloseNow != 0 {
			continue
		}
		if d := c.idleTimeout(); d > 0 && l.clock-c.active > int64(d) {
			c.closeWith(ErrIdleTimeout, true)
		}
	}
}

// beginStop stops accepting and asks every connection to close once its
// output is flushed.
func (l *Loop) beginStop() {
	l.stopping = true
	for _, ln := range l.listeners {
		ln.close()
	}
	l.listeners = nil
	for k := range l.sel.Map().All() {
		if c, ok := k.Data.(*Conn); ok {
			c.closeWith(ErrStopped, c.flags&flagDialing != 0)
		}
	}
}

// forceStop closes every connection now.
func (l *Loop) forceStop() {
	l.beginStop()
	for k := range l.sel.Map().All() {
		if c, ok := k.Data.(*Conn); ok {
			c.closeWith(ErrStopped, true)
		}
	}
}

// shutdown runs when the loop exits: refuse new tasks, drop queued ones
// (their connections are closed), release the selector.
func (l *Loop) shutdown() {
	l.mu.Lock()
	l.exited = true
	tasks := l.tasks
	l.tasks = nil
	l.mu.Unlock()
	for _, t := range tasks {
		// Connection tasks die with their (closed) connections; loop tasks,
		// such as handing over an accepted socket, run so they can see the
		// loop is stopping and release what they hold.
		switch {
		case t.conn == nil:
			l.protect(nil, t.fn)
		case t.kind == taskRegister:
			t.conn.sock.Close()
		}
	}
	l.timers = nil
	if err := l.sel.Close(); err != nil {
		l.e.log.Warn("loop: closing selector", "loop", l.id, "err", err)
	}
}

// acceptBackoff is how long a listener rests after the process ran out of
// descriptors, so that EMFILE does not spin a core.
const acceptBackoff = 100 * time.Millisecond

// listener is a listening socket served by one loop.
type listener struct {
	loop   *Loop
	sock   *evsel.Socket
	paused bool
}

func (ln *listener) accept() {
	l, e := ln.loop, ln.loop.e
	for i := 0; i < 64 && !ln.paused; i++ {
		s, err := ln.sock.AcceptSocket()
		if err == evsel.ErrWouldBlock {
			return
		}
		if err != nil {
			if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
				errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM) {
				e.log.Warn("loop: accept: out of resources, pausing the listener",
					"loop", l.id, "err", err, "pause", acceptBackoff)
				ln.pause()
				return
			}
			e.log.Warn("loop: accept failed", "loop", l.id, "err", err)
			return
		}
		if e.opts.NoDelay {
			s.SetNoDelay(true)
		}
		target := e.pick(l)
		c := &Conn{sock: s, loop: target}
		if target == l {
			l.register(c)
		} else if err := target.enqueue(task{kind: taskRegister, conn: c}); err != nil {
			c.sock.Close()
		}
	}
}

// pause stops watching the listener for a while; the pending connections
// wait in the kernel's backlog until descriptors are free again.
func (ln *listener) pause() {
	ln.paused = true
	ln.loop.sel.Unregister(ln.sock)
	ln.loop.AfterFunc(acceptBackoff, func() {
		if ln.sock == nil { // closed meanwhile (Stop)
			return
		}
		ln.paused = false
		if _, err := ln.loop.sel.Register(ln.sock, evsel.EventRead, ln); err != nil {
			ln.loop.e.log.Error("loop: re-registering listener", "err", err)
		}
	})
}

func (ln *listener) close() {
	if ln.sock == nil {
		return
	}
	if !ln.paused {
		ln.loop.sel.Unregister(ln.sock)
	}
	ln.sock.Close()
	ln.sock = nil
}

func (l *Loop) String() string { return fmt.Sprintf("loop %d", l.id) }
