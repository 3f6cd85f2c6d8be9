package loop

import (
	"context"
	"slices"
)

// WriteWait: backpressure for writers on other goroutines. AsyncWrite
// never waits, so a goroutine that produces faster than the peer reads
// (a feed pushed to slow subscribers) grows the connection's output until
// MaxOutput closes it; the only way to hold back was to ask Buffered
// through Do and guess. WriteWait is the goroutine-per-connection
// program's blocking Write: it queues the bytes once there is room, and
// makes its caller wait until then, so the producer runs at the peer's
// pace and the memory held is the output bound plus what the waiting
// callers hold themselves.

// writeWaiters are a connection's waiting WriteWait calls, first first
// (behind a pointer, which keeps connAux comparable: see endDial).
type writeWaiters struct{ list []*waiter }

// WriteWait queues p for sending, as AsyncWrite does, once c's pending
// output (Buffered: SendFile's files included, and on a Dial'd TLS
// connection what waits for its handshake) is at or below
// Options.HighWater, and waits until then; it returns when p is
// queued, not sent. While the output is above HighWater, callers wait in
// the order they came, and are let in again when it has drained to
// LowWater; the bytes of one goroutine's calls stay in their order. ctx
// bounds the wait: when it ends first, p is not written and ctx's error
// is returned. Without a ctx deadline, a peer that never reads keeps the
// caller waiting until Options.IdleTimeout (if set) closes the
// connection, as net.Conn's Write without a deadline would. It returns ErrClosed if c closes (or ends its side with
// CloseWrite) before p is queued, ErrStopped if its loop has exited, and
// the error of the write (say
// ErrOutputOverflow, for a p larger than MaxOutput) otherwise. p is
// copied when it is queued, so the caller may reuse it once WriteWait
// returns. It is for goroutines other than the loops: on a loop goroutine
// (any of the engine's) it would wait for itself or block a loop, and
// returns ErrOnLoop at once.
func (c *Conn) WriteWait(ctx context.Context, p []byte) error {
	if c.closed.Load() {
		return ErrClosed
	}
	if err := c.loop.e.mayWait(ctx); err != nil {
		return err
	}
	w := newWaiter()
	w.p = p
	// A taskAdmit runs even once c is closed, and when the loop stops
	// (shutdown answers it), so the waiter always hears.
	return w.wait(ctx, c.loop, task{kind: taskAdmit, conn: c, waiter: w})
}

// admitWaiter writes w's bytes now if there is room and nobody waits
// before it, and lists it otherwise.
func (l *Loop) admitWaiter(c *Conn, w *waiter) {
	if c.closed.Load() || c.flags&(flagClosing|flagCloseNow|flagWriteShut) != 0 {
		w.answer(l, ErrClosed)
		return
	}
	if c.flags&flagWaiters == 0 && c.Buffered() <= l.e.opts.HighWater {
		w.write(c)
		return
	}
	a := c.extra()
	if a.waiters == nil {
		a.waiters = &writeWaiters{}
	}
	q := a.waiters
	if len(q.list) == cap(q.list) {
		// Callers that gave up (ctx) stay listed, with their bytes, until
		// the output drains; on a peer that never reads, a producer that
		// retries with a timeout would grow the list without bound. Drop
		// them before it grows, so it holds at most twice the callers
		// that still wait.
		q.list = slices.DeleteFunc(q.list, func(w *waiter) bool { return w.state.Load() == waiterAbandoned })
	}
	q.list = append(q.list, w)
	c.flags |= flagWaiters
	c.markDirty()
}

// admitWaiters lets the waiting writers in, first come first, while the
// output stays at or below HighWater. settle calls it once the output has
// drained to LowWater.
func (l *Loop) admitWaiters(c *Conn) {
	q := c.aux.waiters
	for len(q.list) > 0 && c.Buffered() <= l.e.opts.HighWater && !c.closed.Load() &&
		c.flags&(flagClosing|flagCloseNow|flagWriteShut) == 0 {
		w := q.list[0]
		q.list[0] = nil
		q.list = q.list[1:]
		w.write(c) // may close c (ErrOutputOverflow)
	}
	switch {
	case len(q.list) == 0:
		c.aux.waiters = nil
		c.flags &^= flagWaiters
	case c.closed.Load() || c.flags&(flagClosing|flagCloseNow|flagWriteShut) != 0:
		l.failWaiters(c)
	}
}

// failWaiters answers every waiting writer with ErrClosed: c is closing,
// or has closed its sending side.
func (l *Loop) failWaiters(c *Conn) {
	for _, w := range c.aux.waiters.list {
		w.answer(l, ErrClosed)
	}
	c.aux.waiters = nil
	c.flags &^= flagWaiters
}

// write queues w's bytes on c, unless its caller gave up meanwhile.
func (w *waiter) write(c *Conn) {
	if w.take() {
		_, err := c.Write(w.p)
		w.reply(c.loop, err)
	}
}
