package loop

import (
	"io"
	"net"
	"sync/atomic"
	"time"

	"github.com/evsel/evsel"
)

// Conn is one connection owned by a loop.
//
// Methods without "Async" in their name, except Do and Wake, must be called
// on the owning loop: from a Handler callback, a timer, or a function passed
// to Do. The Async methods, Do and Wake are safe from any goroutine.
type Conn struct {
	sock evsel.Socket
	loop *Loop
	// in is the unconsumed input. During OnData it may point into the loop's
	// shared read buffer (flagShared); whatever the handler leaves is copied
	// into a buffer of the connection's own before the next read.
	in     []byte
	out    [][]byte // pending output, oldest first; owned by the connection
	outLen int
	ctx    any
	aux    *connAux // what few connections need, allocated on demand
	active int64    // loop clock (unix ns) of the last read or write, for idle timeouts
	events evsel.Events
	flags  connFlags
	closed atomic.Bool
}

// connAux holds the state of a connection that is dialing, closing with an
// error, or has its own idle timeout. Keeping it out of Conn keeps an idle
// connection in the 128-byte allocation class.
type connAux struct {
	timer   *Timer // dial timeout while connecting
	err     error  // close reason, unless it is io.EOF (flagEOF) or nil
	idle    time.Duration
	idleSet bool // idle overrides Options.IdleTimeout
}

func (c *Conn) extra() *connAux {
	if c.aux == nil {
		c.aux = &connAux{}
	}
	return c.aux
}

// reason is the error OnClose receives: the first error recorded, else
// io.EOF if the peer shut down, else nil.
func (c *Conn) reason() error {
	if c.aux != nil && c.aux.err != nil {
		return c.aux.err
	}
	if c.flags&flagEOF != 0 {
		return io.EOF
	}
	return nil
}

// idleTimeout is the connection's idle timeout, 0 for none.
func (c *Conn) idleTimeout() time.Duration {
	if c.aux != nil && c.aux.idleSet {
		return c.aux.idle
	}
	return c.loop.e.opts.IdleTimeout
}

type connFlags uint16

const (
	flagDialing  connFlags = 1 << iota // connect in progress
	flagOpen                           // OnOpen was called
	flagShared                         // in aliases the loop's read buffer
	flagEOF                            // the peer shut down its side
	flagPaused                         // reading stopped by backpressure
	flagClosing                        // close once output is flushed
	flagCloseNow                       // close at the next settle, dropping output
	flagDirty                          // queued in loop.dirty
)

// Loop returns the loop that owns the connection.
func (c *Conn) Loop() *Loop { return c.loop }

// Socket returns the connection's socket, for options such as SetNoDelay.
// Reading, writing or closing it directly bypasses the engine.
func (c *Conn) Socket() *evsel.Socket { return &c.sock }

// Context returns the user-data slot.
func (c *Conn) Context() any { return c.ctx }

// SetContext sets the user-data slot.
func (c *Conn) SetContext(v any) { c.ctx = v }

// LocalAddr returns the local address, asking the kernel (nil if unknown).
func (c *Conn) LocalAddr() net.Addr {
	a, _ := c.sock.LocalAddr()
	return a
}

// RemoteAddr returns the peer's address, asking the kernel: it is not stored
// per connection, to keep idle connections small (nil if unknown, as after
// a reset).
func (c *Conn) RemoteAddr() net.Addr {
	a, _ := c.sock.RemoteAddr()
	return a
}

// Inbound returns the bytes read and not yet consumed. The slice is valid
// until the callback returns; copy what must outlive it.
func (c *Conn) Inbound() []byte { return c.in }

// Consume discards the first n bytes of Inbound (all of it if n is larger).
// What is not consumed is handed to the next OnData with the bytes that
// follow it.
func (c *Conn) Consume(n int) {
	if n >= len(c.in) {
		c.in = c.in[len(c.in):]
		return
	}
	if n > 0 {
		c.in = c.in[n:]
	}
}

// Buffered returns how many output bytes are waiting for the socket.
func (c *Conn) Buffered() int { return c.outLen }

// Write queues p for sending (the bytes are copied) and returns len(p). The
// writes of one callback, timer or task go to the socket together, with one
// write or writev, as soon as it returns. A large write on an idle connection goes to
// the socket directly, without a copy of what the kernel takes.
func (c *Conn) Write(p []byte) (int, error) {
	if c.flags&(flagClosing|flagCloseNow) != 0 || c.closed.Load() {
		return 0, ErrClosed
	}
	if len(p) == 0 {
		return 0, nil
	}
	l := c.loop
	n := 0
	if c.outLen == 0 && len(p) >= directWrite && c.flags&flagDialing == 0 && c.events&evsel.EventWrite == 0 {
		w, err := c.sock.Write(p)
		switch {
		case err == nil:
			l.stats.writes.Add(1)
			l.stats.bytesOut.Add(int64(w))
			c.active = l.clock
			n = w
		case err != evsel.ErrWouldBlock:
			c.fail(err)
			return 0, err
		}
	}
	if n < len(p) {
		c.queue(p[n:])
	}
	c.markDirty()
	if c.outLen > l.e.opts.MaxOutput {
		c.fail(ErrOutputOverflow)
		return len(p), ErrOutputOverflow
	}
	return len(p), nil
}

// Writev queues the buffers in order, as one Write of their concatenation.
func (c *Conn) Writev(bufs [][]byte) (int, error) {
	total := 0
	for _, b := range bufs {
		n, err := c.Write(b)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// directWrite is the size from which a write on a connection with nothing
// pending skips the copy into the output queue.
const directWrite = 64 << 10

// queue copies p to the end of the output, filling the last chunk first.
func (c *Conn) queue(p []byte) {
	l := c.loop
	c.outLen += len(p)
	if k := len(c.out); k > 0 {
		last := c.out[k-1]
		if free := cap(last) - len(last); free > 0 {
			m := min(free, len(p))
			c.out[k-1] = append(last, p[:m]...)
			p = p[m:]
		}
	}
	if c.out == nil {
		c.out = l.getVec()
	}
	for len(p) > 0 {
		chunk := l.getChunk(len(p))
		m := min(cap(chunk), len(p))
		chunk = append(chunk, p[:m]...)
		c.out = append(c.out, chunk)
		p = p[m:]
	}
}

// advance drops n written bytes from the front of the output. Finished
// chunks are shifted out rather than sliced off, so the list keeps its
// capacity for reuse.
func (c *Conn) advance(n int) {
	c.outLen -= n
	done := 0
	for n > 0 {
		head := c.out[done]
		if n < len(head) {
			c.out[done] = head[n:]
			break
		}
		n -= len(head)
		c.loop.putChunk(head)
		done++
	}
	if done > 0 {
		k := copy(c.out, c.out[done:])
		clear(c.out[k:])
		c.out = c.out[:k]
	}
	if len(c.out) == 0 {
		c.loop.putVec(c.out)
		c.out = nil
	}
}

// Close closes the connection once its pending output is sent. OnClose
// follows with a nil error.
func (c *Conn) Close() error {
	if c.closed.Load() {
		return ErrClosed
	}
	c.closeWith(nil, false)
	return nil
}

// CloseNow closes the connection at once, dropping pending output.
func (c *Conn) CloseNow() error {
	if c.closed.Load() {
		return ErrClosed
	}
	c.closeWith(nil, true)
	return nil
}

// CloseWithError closes the connection after flushing its output, with err
// as the reason OnClose receives.
func (c *Conn) CloseWithError(err error) {
	if !c.closed.Load() {
		c.closeWith(err, false)
	}
}

// fail closes at once with an I/O error: output cannot be sent any more.
func (c *Conn) fail(err error) { c.closeWith(err, true) }

func (c *Conn) closeWith(err error, now bool) {
	// The first error wins; a graceful close (nil) or the peer's EOF, which
	// flagEOF records, leaves room for one.
	if err != nil && err != io.EOF && (c.aux == nil || c.aux.err == nil) {
		c.extra().err = err
	}
	c.flags |= flagClosing
	if now {
		c.flags |= flagCloseNow
	}
	c.markDirty()
}

func (c *Conn) markDirty() {
	if c.flags&flagDirty == 0 {
		c.flags |= flagDirty
		c.loop.dirty = append(c.loop.dirty, c)
	}
}

// SetIdleTimeout closes the connection with ErrIdleTimeout when it has
// neither read nor written anything for d; 0 disables it. The default comes
// from Options.IdleTimeout. The check is coarse: a connection is closed
// between d and 1.5·d after its last activity.
func (c *Conn) SetIdleTimeout(d time.Duration) {
	a := c.extra()
	a.idle, a.idleSet = d, true
	c.active = c.loop.clock
	if d > 0 {
		c.loop.ensureIdleSweep(d)
	}
}

// AsyncWrite queues a copy of p to be written by the owning loop. It is safe
// from any goroutine; writes from one goroutine keep their order, and each is
// written whole. It returns ErrClosed if the connection is known to be
// closed; data queued just before a close is dropped with the connection.
func (c *Conn) AsyncWrite(p []byte) error {
	if c.closed.Load() {
		return ErrClosed
	}
	if len(p) == 0 {
		return nil
	}
	return c.loop.enqueue(task{kind: taskWrite, conn: c, buf: append([]byte(nil), p...)})
}

// AsyncWritev is AsyncWrite of the buffers' concatenation.
func (c *Conn) AsyncWritev(bufs [][]byte) error {
	if c.closed.Load() {
		return ErrClosed
	}
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	if n == 0 {
		return nil
	}
	buf := make([]byte, 0, n)
	for _, b := range bufs {
		buf = append(buf, b...)
	}
	return c.loop.enqueue(task{kind: taskWrite, conn: c, buf: buf})
}

// AsyncClose closes the connection from any goroutine, after the output
// queued before it is flushed; err is the reason OnClose receives.
func (c *Conn) AsyncClose(err error) error {
	if c.closed.Load() {
		return ErrClosed
	}
	return c.loop.enqueue(task{conn: c, fn: func() { c.CloseWithError(err) }})
}

// Do runs fn(c) on the owning loop, unless the connection is closed by then.
// It is safe from any goroutine.
func (c *Conn) Do(fn func(c *Conn)) error {
	if c.closed.Load() {
		return ErrClosed
	}
	return c.loop.enqueue(task{conn: c, fn: func() { fn(c) }})
}

// Wake makes the loop call OnData for this connection even if nothing new
// arrived — for a handler that parked input until some other goroutine
// finished. It is safe from any goroutine. Note that a peer's half-close
// (EOF) closes the connection as soon as its pending output is sent, so an
// answer produced later by another goroutine is lost; a protocol that lets
// peers shut down their side early should answer from the callback.
func (c *Conn) Wake() error {
	if c.closed.Load() {
		return ErrClosed
	}
	return c.loop.enqueue(task{kind: taskWake, conn: c})
}
