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
	held   int64 // bytes counted in Engine.memHeld for this connection (budget.go)
	data   any
	aux    *connAux // what few connections need, allocated on demand
	active int64    // loop clock (monotonic ns) of the last read or write, or of the close request (see touch)
	events evsel.Events
	flags  connFlags
	closed atomic.Bool
	ipKey  uint32 // the peer address's count under MaxConnsPerIP, 0 if none (perip.go)
}

// connAux holds the state of a connection that is dialing, closing with an
// error, or has its own idle timeout or deadlines. Keeping it out of Conn keeps an idle
// connection in the 128-byte allocation class.
type connAux struct {
	dial    *dialState // while dialing
	err     error      // close reason, unless it is io.EOF (flagEOF) or nil
	idle    time.Duration
	idleSet bool // idle overrides Options.IdleTimeout

	tls *tlsState // a TLS connection's state (tls.go)

	remote net.Addr // the peer's address, once RemoteAddr asked

	files *fileQueue // SendFile's files and what waits behind them (sendfile.go)

	// PauseReading's (flow.go).
	heldEnd            heldEnd // the stream's end, which came while reading was paused
	heldWake           bool    // a Wake came while reading was paused
	resuming           bool    // ResumeReading's task is queued
	holdAfterHandshake bool    // PauseReading during the TLS handshake: held once it ends

	writeShut bool // CloseWrite's shutdown is done (halfclose.go)

	waiters *writeWaiters // WriteWait callers waiting for room (writewait.go)

	resetOnClose bool // SetLinger(0): a close resets, without the drain (sockopt.go)

	deadlines *deadlines // SetReadDeadline's and SetWriteDeadline's, once one is set (deadline_abs.go)
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

type connFlags uint32

const (
	flagDialing     connFlags = 1 << iota // connect in progress
	flagNoSock                            // no socket: dialing before an attempt, or closed
	flagOpen                              // OnOpen was called
	flagShared                            // in aliases the loop's read buffer
	flagEOF                               // the peer shut down its side
	flagPaused                            // reading stopped by backpressure
	flagClosing                           // close once output is flushed
	flagCloseNow                          // close at the next settle, dropping output
	flagDirty                             // queued in loop.dirty, or being read by pollDriver.handle, which settles it
	flagAwaitFirst                        // accepted or adopted, no byte read yet (Options.FirstByteTimeout)
	flagUntouched                         // accepted, no byte read or written yet (shedding prefers these)
	flagMemPaused                         // reading stopped by the memory budget (Options.MaxMemory)
	flagMemListed                         // in Loop.memPausedConns
	flagUnwatched                         // out of the poller: not reading (paused, the peer's end) with nothing to send
	flagTLS                               // records are decrypted and encrypted (tls.go)
	flagHandshake                         // TLS handshake in progress
	flagHsFull                            // not read: the handshake goroutine has enough input waiting (tls_transport.go)
	flagSending                           // io_uring: a send of out is in flight (out's bytes are pinned), or one given back with EAGAIN waits for room (awaitRoom)
	flagRecv                              // io_uring: a receive is in flight
	flagWakeOnOpen                        // woken before OnOpen: OnData follows it
	flagDraining                          // closing, output sent and shut down: reading to the peer's EOF (drain.go)
	flagHeld                              // reading stopped by the handler: PauseReading (flow.go)
	flagWantDrained                       // NotifyDrained: OnDrained once output is at LowWater (flow.go)
	flagFile                              // SendFile: files are queued behind the output (sendfile.go)
	flagFileWait                          // SendFile: sendfile(2) found the socket full; WRITE is watched
	flagWriteShut                         // CloseWrite: no more writes; the sending side shuts once the output is out (halfclose.go)
	flagWaiters                           // WriteWait callers wait for room (writewait.go)
)

// fd is the socket's descriptor, as the poller knows it.
func (c *Conn) fd() int { return int(c.sock.Fd()) }

// Loop returns the loop that owns the connection.
func (c *Conn) Loop() *Loop { return c.loop }

// Data returns the value the application attached to the connection with
// SetData or Dial's WithData.
func (c *Conn) Data() any { return c.data }

// SetData attaches v to the connection, typically the handler's
// per-connection state.
func (c *Conn) SetData(v any) { c.data = v }

// Close closes the connection once its pending output is sent. OnClose
// follows with a nil reason. If the peer is still sending then, the close
// lingers up to 2 s for the peer to end its side, reading and dropping its
// bytes, since closing with them unread would reset the connection and
// lose the output the peer has not yet read (not after SetLinger(0),
// which asks for that reset). It returns ErrClosed if the connection is
// already closed.
func (c *Conn) Close() error { return c.CloseWithError(nil) }

// CloseWithError is Close with err as the reason OnClose receives (the
// first reason given wins).
func (c *Conn) CloseWithError(err error) error {
	if c.closed.Load() {
		return ErrClosed
	}
	c.closeWith(err, false)
	return nil
}

// Abort closes the connection now, dropping pending output; OnClose
// follows with err (nil is allowed). It returns ErrClosed if the
// connection is already closed. Abort also cuts short a graceful close
// still waiting for its output to go out.
func (c *Conn) Abort(err error) error {
	if c.closed.Load() {
		return ErrClosed
	}
	c.closeWith(err, true)
	return nil
}

// AsyncClose is CloseWithError from any goroutine: the connection closes
// after the output queued before it is flushed.
func (c *Conn) AsyncClose(err error) error {
	if c.closed.Load() {
		return ErrClosed
	}
	return c.loop.enqueue(task{conn: c, fn: func() { c.CloseWithError(err) }})
}

// fail closes at once with an I/O error: output cannot be sent any more.
// During a TLS handshake the handshake failed with it (tlsBroke).
func (c *Conn) fail(err error) {
	if c.flags&flagHandshake != 0 {
		c.loop.tlsBroke(c, err)
		return
	}
	c.closeWith(err, true)
}

func (c *Conn) closeWith(err error, now bool) {
	// The first error wins; a graceful close (nil) or the peer's EOF, which
	// flagEOF records, leaves room for one.
	if err != nil && err != io.EOF && (c.aux == nil || c.aux.err == nil) {
		c.extra().err = err
	}
	if c.flags&flagClosing == 0 {
		// The linger deadline counts from the close request (see touch).
		c.flags |= flagClosing
		if c.loop.e.opts.LingerTimeout > 0 {
			c.active = c.loop.clock
		}
		if c.flags&(flagTLS|flagFile) == flagTLS && !now {
			c.tlsCloseNotify() // else once the files are out (pumpFiles)
		}
	}
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
// finished. It is safe from any goroutine. On a connection not yet open (a
// Dial's, connecting or in its TLS handshake) the call comes right after
// OnOpen, and not at all if it never opens; on a closing connection, which
// is not read any more, it does nothing. Note that without an EOFHandler a
// peer's half-close (EOF) closes the connection as soon as its pending
// output is sent, so an answer produced later by another goroutine is
// lost; a protocol that lets peers end their side early wants OnEOF
// (halfclose.go). After OnEOF, Wake still calls OnData.
func (c *Conn) Wake() error {
	if c.closed.Load() {
		return ErrClosed
	}
	return c.loop.enqueue(task{kind: taskWake, conn: c})
}
