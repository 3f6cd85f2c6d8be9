package loop

import (
	"math"
	"time"
)

// Absolute deadlines, net.Conn's SetDeadline family on a loop. A net.Conn
// deadline fails the Read or Write that waits past it; on a loop nothing
// waits in a Read or a Write, so a deadline that passes closes the
// connection, as nbio's do. The engine's own deadlines (deadline.go) are
// relative and coarse, one sweep per loop; these are exact, and cost a
// connection that uses them two timers in its loop's heap, made on first
// use and reset in place after that, so moving one from every OnData
// allocates nothing. A connection that never sets one carries nothing.

// deadlines are a connection's read and write deadlines. at is the loop
// clock (Loop.clock) at which each passes, 0 while it is not set; the
// timer is armed for it.
type deadlines struct {
	readAt, writeAt int64
	read, write     Timer
}

// SetReadDeadline sets the time by which the handler expects more from the
// peer: when t passes with the deadline still set, c is closed with
// ErrReadDeadline. Nothing moves it but the handler (reads do not), so
// what it bounds is the handler's to say. Moved on from every OnData, it
// closes a peer silent for that long between messages, nbio's keep-alive
// idiom; set once when a request begins and cleared when it is whole, it
// bounds the whole request however the peer trickles it.
//
// The close is graceful, as CloseWithError's: output already queued (the
// answer to an earlier request, say) is still sent, as long as
// Options.LingerTimeout (without one, the idle timeout) or a write
// deadline allows, since the deadline is about the peer not sending, not
// about what it is owed. A write deadline, or Abort from a timer, is what
// drops output.
//
// It acts whether or not c is reading at the time (PauseReading, the
// backpressure of HighWater and the memory budget stop reads without
// stopping it), and does nothing once c is closing or the peer has ended
// its stream (OnEOF): no input is then left to wait for, and the linger
// or write deadline bounds the rest. On a Dial'd connection not yet open
// (connecting, or in its TLS handshake) it aborts the attempt, which then
// ends in OnClose with ErrReadDeadline and no OnOpen: set before OnOpen,
// it bounds the connect as net.Dialer's Deadline does.
//
// t is turned into a time on the monotonic clock when it is set, as net's
// deadlines are: a later step of the wall clock does not move it. The zero
// time clears the deadline. A time already past makes it act when the loop
// next runs its timers, after the calling callback has returned, never
// within the call.
//
// Like the other Conn methods without Async in their name, it must be
// called on c's loop (a goroutine elsewhere calls it through c.Do; the
// check that a call comes from the loop would cost more than the call).
// It returns ErrClosed if c is closed (in OnClose, say), and nil
// otherwise, closing included.
func (c *Conn) SetReadDeadline(t time.Time) error {
	if c.closed.Load() {
		return ErrClosed
	}
	if d := c.deadlines(t); d != nil {
		c.loop.arm(&d.read, &d.readAt, t)
	}
	return nil
}

// SetWriteDeadline sets the time by which c's output must have left for
// the kernel: when t passes with output pending (Buffered's bytes:
// SendFile's files, and on a TLS connection its records and what waits
// for its handshake; on io_uring a send not yet completed too), c is
// aborted, the output dropped, and OnClose reports ErrWriteDeadline. A
// peer that does not take its output holds it, and waiting longer would
// only hold its memory and descriptor; Options.MaxOutput and HighWater
// bound how much it holds, this bounds for how long. On a closing
// connection (Close, then SetWriteDeadline) it bounds the last output, as
// LingerTimeout does for all; the reason then wraps the one it was
// closing for.
//
// If nothing is pending when t passes, the deadline is spent: it is
// cleared, and what is written later is not bounded until one is set
// again. So net's idiom, setting it before each Write that it should
// bound, works unchanged; but unlike net, where a deadline once passed
// fails every later Write, here one that found nothing to bound just
// lapses, since an event loop's writes do not fail on their own. Pending
// is judged when the loop handles t, in its first iteration from t on:
// output written since t that the kernel has not taken by then counts, as
// a net.Conn Write after its deadline would fail.
//
// On a Dial'd connection not yet open it aborts the attempt, as the read
// deadline does. t, the zero time, a time already past and the calling
// rules are as for SetReadDeadline.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	if c.closed.Load() {
		return ErrClosed
	}
	if d := c.deadlines(t); d != nil {
		c.loop.arm(&d.write, &d.writeAt, t)
	}
	return nil
}

// SetDeadline sets both the read and the write deadline to t, as
// net.Conn's does. When both pass at once the write deadline is judged
// first: with output pending c is aborted with ErrWriteDeadline, else it
// closes gracefully with ErrReadDeadline (with nothing left to send, the
// two closes are the same).
func (c *Conn) SetDeadline(t time.Time) error {
	if c.closed.Load() {
		return ErrClosed
	}
	if d := c.deadlines(t); d != nil {
		c.loop.arm(&d.read, &d.readAt, t)
		c.loop.arm(&d.write, &d.writeAt, t)
	}
	return nil
}

// deadlines is c's deadline state, made for a t to set; nil when t clears
// and none was ever set, so that clearing costs a connection nothing.
func (c *Conn) deadlines(t time.Time) *deadlines {
	if c.aux != nil && c.aux.deadlines != nil {
		return c.aux.deadlines
	}
	if t.IsZero() {
		return nil
	}
	// One function for both timers: either judges both deadlines (see
	// deadlinePassed), so one closure serves.
	fn := func() { c.deadlinePassed() }
	d := &deadlines{
		read:  Timer{loop: c.loop, fn: fn, index: -1},
		write: Timer{loop: c.loop, fn: fn, index: -1},
	}
	c.extra().deadlines = d
	return d
}

// arm sets the deadline that at and tm keep to t, or clears it for the
// zero time.
func (l *Loop) arm(tm *Timer, at *int64, t time.Time) {
	if t.IsZero() {
		*at = 0
		tm.Stop()
		return
	}
	when := l.clockAt(t)
	*at = when
	tm.Reset(time.Duration(when - l.clock)) // no overflow: when ≥ 1, clock ≥ 0
}

// clockAt is t on the loop clock: 1 at least, 0 being "not set" (the
// loop clock is past 1 from its first iteration on), math.MaxInt64 at most.
// A t with a monotonic reading (time.Now's, and what Add derives from it)
// is measured on the monotonic clock, as the loop's epoch is. A t without
// one (time.Date, time.Unix, a decoded time, one passed through UTC or
// Round(0)) is measured against the wall clock now, as net measures its
// deadlines, and put that far from now: t.Sub(l.epoch) would measure it
// against the wall clock of when the loop started, and a step of the wall
// clock since (NTP's first sync after boot, a resumed VM) would move it by
// as much, an hour late or passed at once.
func (l *Loop) clockAt(t time.Time) int64 {
	if t == t.Round(0) { // no monotonic reading to strip
		elapsed := int64(time.Since(l.epoch))
		until := int64(t.Sub(wallNow()))
		if until > math.MaxInt64-elapsed {
			return math.MaxInt64
		}
		return max(elapsed+until, 1) // elapsed ≥ 0: no overflow below
	}
	return max(int64(t.Sub(l.epoch)), 1)
}

// deadlinePassed acts on c's deadlines that have passed. Either timer
// calls it, and it judges both, the write deadline first, so that a
// SetDeadline whose two timers fire in one run ends the same way whichever
// the heap gives first.
func (c *Conn) deadlinePassed() {
	if c.closed.Load() || c.flags&flagCloseNow != 0 {
		return // closed, or closing at once, for some other reason
	}
	d, l := c.aux.deadlines, c.loop
	if d.writeAt != 0 && d.writeAt <= l.clock {
		d.writeAt = 0
		d.write.Stop() // when the read timer came first
		// Not open and not closing: still connecting or in the TLS
		// handshake, which the deadline bounds, output or not.
		if c.flags&(flagOpen|flagClosing) == 0 || c.Buffered() > 0 {
			err := ErrWriteDeadline
			if c.flags&flagClosing != 0 {
				err = closingFor(err, c.reason())
				c.extra().err = err // closeWith keeps a reason already given
			}
			c.closeWith(err, true)
			l.stats.writeDeadlineClosed.Add(1)
			return
		}
	}
	if d.readAt != 0 && d.readAt <= l.clock {
		d.readAt = 0
		d.read.Stop()
		switch {
		case c.flags&(flagClosing|flagEOF) != 0:
			// No input left to wait for (see SetReadDeadline).
		case c.flags&flagOpen == 0:
			c.closeWith(ErrReadDeadline, true) // the connect or handshake it bounds
			l.stats.readDeadlineClosed.Add(1)
		default:
			c.closeWith(ErrReadDeadline, false)
			l.stats.readDeadlineClosed.Add(1)
		}
	}
}

// stopDeadlines takes c's deadline timers off the loop as c closes, so
// that none fires into a closed connection nor keeps it reachable.
func (c *Conn) stopDeadlines() {
	if c.aux != nil && c.aux.deadlines != nil {
		d := c.aux.deadlines
		d.read.Stop()
		d.write.Stop()
		d.readAt, d.writeAt = 0, 0
	}
}

// wallNow reads the wall clock for deadlines given without a monotonic
// reading; a variable so that a test can step it.
var wallNow = time.Now
