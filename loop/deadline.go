package loop

import (
	"errors"
	"time"
)

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

// idleTimeout is the connection's idle timeout, 0 for none.
func (c *Conn) idleTimeout() time.Duration {
	if c.aux != nil && c.aux.idleSet {
		return c.aux.idle
	}
	return c.loop.e.opts.IdleTimeout
}

// touch records activity for the idle and first-byte deadlines. Once a
// close is asked for, c.active holds the time of that request instead, so
// that a peer taking the last output a byte at a time cannot push the
// linger deadline back; without a linger deadline activity still counts,
// as the idle timeout then guards closing connections.
func (c *Conn) touch() {
	c.flags &^= flagUntouched
	if c.flags&flagClosing == 0 || c.loop.e.opts.LingerTimeout <= 0 {
		c.active = c.loop.clock
	}
}

// shortestDeadline is the shortest of the engine-wide deadlines in use, 0
// for none: the sweep must tick at least twice within it.
func (o *Options) shortestDeadline() time.Duration {
	var d time.Duration
	for _, x := range [...]time.Duration{o.IdleTimeout, o.FirstByteTimeout, o.LingerTimeout} {
		if x > 0 && (d == 0 || x < d) {
			d = x
		}
	}
	return d
}

// ensureIdleSweep starts the timer that enforces the deadlines, checking at
// half the shortest one in use. One coarse timer per loop, rather than one
// per connection, keeps an idle connection free of timer state.
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

// sweepIdle closes the connections past one of their deadlines: a closing
// one past the linger deadline, counted from the close request; an accepted
// one that has sent nothing past the first-byte deadline; any past its idle
// timeout.
func (l *Loop) sweepIdle() {
	if l.conns == 0 {
		// Nothing to sweep: stop ticking; adopt starts it again.
		l.idleSweep.Stop()
		l.idleSweep, l.idleEvery = nil, 0
		return
	}
	o := &l.e.opts
	for c := range l.fds.all() {
		if c.flags&flagCloseNow != 0 {
			continue
		}
		since := time.Duration(l.clock - c.active)
		switch {
		case c.flags&flagDraining != 0:
			if since > drainTimeout {
				c.closeWith(nil, true) // its output is in the kernel: nothing is dropped
			}
		case c.flags&flagClosing != 0 && o.LingerTimeout > 0:
			if since > o.LingerTimeout {
				c.extra().err = closingFor(ErrLingerTimeout, c.reason())
				c.closeWith(nil, true)
				l.stats.lingerClosed.Add(1)
			}
		case c.flags&flagAwaitFirst != 0 && o.FirstByteTimeout > 0 && since > o.FirstByteTimeout:
			c.closeWith(ErrFirstByteTimeout, true)
			l.stats.firstByteClosed.Add(1)
		default:
			// Without a linger deadline a closing connection is swept by its
			// idle timeout: one whose peer never takes its last output
			// would otherwise hold its descriptor until Stop.
			if d := c.idleTimeout(); d > 0 && since > d {
				c.closeWith(ErrIdleTimeout, true)
				l.stats.idleClosed.Add(1)
			}
		}
	}
}

// closingFor is the close reason of a closing connection cut short by a
// deadline (ErrLingerTimeout, ErrWriteDeadline): the deadline's error,
// with the reason it was closing for, if any, so that neither is lost.
func closingFor(limit, cause error) error {
	if cause == nil {
		return limit
	}
	return &closingError{limit: limit, cause: cause}
}

// closingError is closingFor's error: it reads "limit; closing for:
// cause", matches both with errors.Is, and reports its limit's Timeout,
// as a net.OpError reports its cause's, so that os.IsTimeout and a
// net.Error check know it for a timeout.
type closingError struct{ limit, cause error }

func (e *closingError) Error() string   { return e.limit.Error() + "; closing for: " + e.cause.Error() }
func (e *closingError) Unwrap() []error { return []error{e.limit, e.cause} }
func (e *closingError) Timeout() bool   { return timesOut(e.limit) }
func (e *closingError) Temporary() bool { return timesOut(e.limit) }

// timesOut reports whether err, or an error it wraps, reports Timeout.
func timesOut(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}
