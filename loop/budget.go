package loop

import "time"

// Memory budget (Options.MaxMemory). Every per-connection limit lets memory
// grow with the number of peers, so the engine also counts what all its
// connections hold together: a connection's own input buffer (its capacity;
// input still in the loop's shared read buffer is the loop's, not the
// connection's), its pending output, and on TLS the record crypto/tls is
// assembling (tls_record.go; what crypto/tls keeps between records is out
// of sight and not counted) or, during the handshake, the input buffered
// for the handshake goroutine (up to handshakeInputLimit and a read, for as
// long as TLSHandshakeTimeout: peers that send a first record and then
// junk while the handshakes wait for slots held that much each, unseen).
// The count is brought up to date in
// settle, after every event, with one atomic add and only when the holding
// changed, so a connection that holds nothing costs nothing.
//
// Policy, while the total is above the budget:
//
//  1. A connection holding more than its share (the budget over the open
//     connections, at least memShareFloor) is paused: it is not read, as
//     with backpressure, so it cannot make the total grow. So is one whose
//     next read (a read buffer's worth, or the least larger input buffer
//     that holds it: a partial message's buffer grows by what room there
//     is, inputRoom) would take it past its share and the total past the
//     budget: checked before the bytes are taken. A paused connection is
//     read again once the total falls under 7/8 of the budget, or its own
//     holding under half its share (at once when its output drains, else
//     at the next sweep).
//  2. If pausing is not enough (output that never drains because the peer
//     never reads, input the handler keeps), each loop with paused
//     connections closes its paused connections holding the most, largest
//     first, with ErrMemoryBudget, until the total is under the budget:
//     every memSweepEvery, and at most once an iteration when its reads find
//     the engine over budget. Each loop closes only its own, so loops doing
//     it at once may close a few more than strictly needed. A connection is
//     held to its share when it is settled, so one that passed its share
//     while the total was under the budget and has had no event since is
//     found by the sweep, which a loop also runs while it sees the engine
//     over budget with nothing paused: it pauses the loop's connections
//     over their share, then closes as above (sweepSoon, pauseOverShare).
//  3. Between 7/8 of the budget and the budget, paused connections are
//     neither resumed nor closed. Peers uploading messages larger than
//     their share, which the handler keeps until complete, could all sit
//     there for ever, none able to finish. So a loop whose paused
//     connections stay in that dead zone for memStuckAfter without what
//     they hold falling (slow readers taking their output make progress)
//     closes its largest paused holders, those holding more than half
//     their share, until the total is under 7/8 of the budget, and the
//     others resume.
//
// A connection that stays within its share is never paused or closed by
// the budget. The total can pass the budget by what such connections read
// in the iteration before the paused ones are closed, and by output that
// handlers write from timers or other goroutines, which is never refused.

const (
	// memShareFloor is the least share of the budget a connection gets, so
	// that with many connections each may still buffer a message or two.
	memShareFloor = 64 << 10
	// memSweepEvery is how often a loop with paused connections looks again.
	memSweepEvery = 20 * time.Millisecond
	// memCloseBatch bounds the connections one sweep closes.
	memCloseBatch = 64
	// memStuckAfter is how long paused connections may sit in the dead
	// zone (policy 3) before the largest are closed.
	memStuckAfter = time.Second
)

// holding is what c holds now: its own input buffer, its pending output,
// and on a TLS connection the record crypto/tls is assembling or, during
// the handshake, the input waiting for the handshake goroutine.
func (c *Conn) holding() int64 {
	n := int64(c.outLen)
	if c.flags&flagFile != 0 {
		n += int64(c.aux.files.bytes)
	}
	if c.flags&flagShared == 0 {
		n += int64(cap(c.in))
	}
	if c.flags&flagTLS != 0 {
		if st := c.aux.tls; st.done {
			n += int64(st.scan.pending())
		} else if st.tr != nil {
			n += int64(st.tr.held())
		}
	}
	return n
}

// account brings c's part of the engine's count up to date and applies the
// budget to it.
func (l *Loop) account(c *Conn) {
	if h := c.holding(); h != c.held {
		l.e.memHeld.Add(h - c.held)
		c.held = h
	}
	if l.e.opts.MaxMemory > 0 && (c.held > 0 || c.flags&flagMemPaused != 0) {
		l.budget(c)
	}
}

// memShare is one connection's fair share of the budget.
func (e *Engine) memShare() int64 {
	return max(e.opts.MaxMemory/max(e.open.Load(), 1), memShareFloor)
}

// budget pauses c if the engine is over budget and c over its share, and
// resumes it once either has fallen back (see the policy above).
func (l *Loop) budget(c *Conn) {
	e := l.e
	if c.flags&flagMemPaused == 0 {
		if e.memHeld.Load() > e.opts.MaxMemory {
			if c.held > e.memShare() {
				l.memPause(c)
				l.overBudget()
			} else {
				l.sweepSoon()
			}
		}
		return
	}
	// Output drained: resume at once, unless the next read would be refused
	// again, which would only spin the loop on a readable socket. A
	// connection paused with input waits for the sweep likewise.
	if len(c.in) == 0 && c.held <= e.memShare()/2 && l.memFits(c, len(l.buf)) {
		l.memResume(c)
	}
}

// memFits tells whether c may take grow more bytes: it stays within its
// share, or the engine within its budget.
func (l *Loop) memFits(c *Conn, grow int) bool {
	e := l.e
	return c.held+int64(grow) <= e.memShare() || e.memHeld.Load()+int64(grow) <= e.opts.MaxMemory
}

// memRefuse tells the read path whether taking grow more bytes (a read's
// worth, or a larger input buffer) could pass the budget with c over its
// share; if so c is paused instead. Checking before the bytes are taken,
// not after, keeps the total within about one read of the budget however
// many connections are read in one iteration.
func (l *Loop) memRefuse(c *Conn, grow int) bool {
	if l.memFits(c, grow) {
		return false
	}
	if c.flags&flagMemPaused == 0 {
		l.memPause(c)
	}
	c.markDirty()
	l.overBudget()
	return true
}

// inputRoom is the size c's input buffer, holding a partial message, may
// grow to: want (the doubling) if the budget lets c take that much more;
// else as much as it does let c take, if that is at least least (the
// next read's room); else none, and c is paused (memRefuse), reporting
// least and false. Asking for the doubling alone deadlocked: two uploads
// of 6 MiB under a 16 MiB budget, each stopped just short of its end
// with a 5.7 MiB buffer, could neither double it (the total would pass the
// budget) nor finish, and at 11.5 MiB they sat below the dead zone of
// policy 3, paused, resumed and paused again by every sweep, for ever
// (TestMemoryBudgetNoDeadlock, with the small socket buffers of
// tcp_wmem=4096 16384 131072). Growing by less copies the message again
// more often, but only while the budget is tight.
func (l *Loop) inputRoom(c *Conn, want, least int) (int, bool) {
	if l.memFits(c, want-cap(c.in)) {
		return want, true
	}
	e := l.e
	room := max(e.memShare()-c.held, e.opts.MaxMemory-e.memHeld.Load())
	if fit := int64(cap(c.in)) + room; fit >= int64(least) {
		return int(min(fit, int64(want))), true
	}
	l.memRefuse(c, least-cap(c.in))
	return least, false
}

func (l *Loop) memPause(c *Conn) {
	c.flags |= flagMemPaused
	l.stats.memPaused.Add(1)
	if c.flags&flagMemListed == 0 {
		c.flags |= flagMemListed
		l.memPausedConns = append(l.memPausedConns, c)
	}
	if l.memSweep == nil {
		l.memSweep = l.Every(memSweepEvery, l.sweepMemory)
	}
}

func (l *Loop) memResume(c *Conn) {
	c.flags &^= flagMemPaused
	l.stats.memPaused.Add(-1)
	c.markDirty()
}

// memForget drops a closed connection from the budget's count.
func (l *Loop) memForget(c *Conn) {
	if c.flags&flagMemPaused != 0 {
		c.flags &^= flagMemPaused
		l.stats.memPaused.Add(-1)
	}
	if c.held != 0 {
		l.e.memHeld.Add(-c.held)
		c.held = 0
	}
}

// sweepMemory closes the paused connections holding the most while the
// engine is over budget, resumes those the budget no longer holds back,
// and stops ticking once the loop has none paused. Its work is bounded by
// the loop's paused connections, not all of them.
func (l *Loop) sweepMemory() {
	e := l.e
	budget := e.opts.MaxMemory
	total := l.closeLargest(budget, 0)
	if total > budget && l.pauseOverShare() {
		total = l.closeLargest(budget, 0)
	}
	resumeBelow := budget / 8 * 7
	share := e.memShare()
	inZone := total > resumeBelow && len(l.memPausedConns) > 0
	var held int64
	if inZone {
		held = l.pausedHeld()
	}
	if l.stuck(inZone, held) {
		// Only holders that would not be resumed anyway.
		total = l.closeLargest(resumeBelow, share/2)
	}
	for _, c := range l.memPausedConns {
		if c.flags&(flagMemPaused|flagCloseNow) == flagMemPaused && (total <= resumeBelow || c.held <= share/2) {
			l.memResume(c)
		}
	}
	if len(l.memPausedConns) == 0 {
		l.memSweep.Stop()
		l.memSweep = nil
		if total > budget {
			// The excess is another loop's: have it look (each loop
			// pauses and closes only its own).
			for _, o := range e.loops {
				if o != l {
					o.Do(o.sweepSoon)
				}
			}
		}
	}
}

// sweepSoon starts the sweep of a loop that saw the engine over budget
// while settling a connection within its share. A connection is checked
// against its share only when it is settled, so one that went over its
// share while the engine was under budget, and has had no event since
// (a peer that neither reads nor sends any more), would otherwise hold its
// excess for ever; the sweep finds it (pauseOverShare).
func (l *Loop) sweepSoon() {
	if l.memSweep == nil && l.e.memHeld.Load() > l.e.opts.MaxMemory {
		l.memSweep = l.Every(memSweepEvery, l.sweepMemory)
	}
}

// pauseOverShare pauses the loop's connections that hold more than their
// share, for closeLargest to close while the engine is over budget, and
// reports whether it found any. It looks at every connection of the loop,
// which the sweep does only while the engine is over budget with nothing
// paused to close.
func (l *Loop) pauseOverShare() bool {
	if len(l.memPausedConns) > 0 {
		return false // closeLargest had paused ones to close
	}
	share, found := l.e.memShare(), false
	for c := range l.fds.all() {
		if c.flags&(flagMemPaused|flagCloseNow) == 0 && !c.closed.Load() && c.held > share {
			l.memPause(c)
			found = true
		}
	}
	return found
}

// overBudget is called when the read path finds the engine over budget:
// rather than wait for the sweep, close the largest paused holders now, at
// most once per loop iteration (bounded work), so the total cannot run far
// past the budget while connections within their share keep reading.
func (l *Loop) overBudget() {
	if l.clock != l.memClosedAt && l.e.memHeld.Load() > l.e.opts.MaxMemory {
		l.closeLargest(l.e.opts.MaxMemory, 0)
	}
}

// stuck keeps policy 3's clock: inZone says the loop has paused
// connections while the total is in the dead zone, held what they hold.
// It reports when they have sat there for memStuckAfter without what they
// hold falling (slow readers taking their output are making progress, and
// the clock starts again), and starts over.
func (l *Loop) stuck(inZone bool, held int64) bool {
	defer func() { l.memPausedHeld = held }()
	switch {
	case !inZone:
		l.memStuckSince = 0
	case l.memStuckSince == 0 || held < l.memPausedHeld:
		l.memStuckSince = l.clock
	case time.Duration(l.clock-l.memStuckSince) >= memStuckAfter:
		l.memStuckSince = 0
		return true
	}
	return false
}

// pausedHeld is what the loop's paused connections hold together.
func (l *Loop) pausedHeld() int64 {
	var n int64
	for _, c := range l.memPausedConns {
		if c.flags&flagMemPaused != 0 {
			n += c.held
		}
	}
	return n
}

// closeLargest drops the connections no longer paused from the loop's list,
// then closes the paused ones holding the most (more than floor), largest
// first, while the engine holds more than limit. It returns the total left
// once they are gone.
func (l *Loop) closeLargest(limit, floor int64) int64 {
	l.memClosedAt = l.clock
	kept := l.memPausedConns[:0]
	for _, c := range l.memPausedConns {
		if c.flags&flagMemPaused != 0 && !c.closed.Load() {
			kept = append(kept, c)
		} else {
			c.flags &^= flagMemListed
		}
	}
	clear(l.memPausedConns[len(kept):])
	l.memPausedConns = kept

	total := l.e.memHeld.Load()
	for n := 0; total > limit && n < memCloseBatch; n++ {
		var worst *Conn
		for _, c := range kept {
			if c.flags&flagCloseNow == 0 && c.held > floor && (worst == nil || c.held > worst.held) {
				worst = c
			}
		}
		if worst == nil {
			break
		}
		worst.closeWith(ErrMemoryBudget, true)
		l.stats.memClosed.Add(1)
		// Off the count now, not at its finish later in the iteration, so
		// that the next look does not close more for the same excess; its
		// output is dropped and its input never read again. Other loops
		// may have moved the total meanwhile.
		l.memForget(worst)
		total = l.e.memHeld.Load()
	}
	return total
}
