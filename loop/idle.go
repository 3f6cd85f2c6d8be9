package loop

import "time"

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
		// Nothing to sweep: stop ticking; adopt starts it again.
		l.idleSweep.Stop()
		l.idleSweep, l.idleEvery = nil, 0
		return
	}
	for c := range l.fds.all() {
		// A closing connection is swept too: one whose peer never takes its
		// last output would otherwise hold its descriptor until Stop.
		if c.flags&flagCloseNow != 0 {
			continue
		}
		if d := c.idleTimeout(); d > 0 && l.clock-c.active > int64(d) {
			c.closeWith(ErrIdleTimeout, true)
		}
	}
}
