package loop

import (
	"os"
	"time"
)

// Shedding policy. A server that refuses every new client once its
// descriptor table or Options.MaxConns is full lets anyone who opens enough
// silent connections lock everyone else out. Instead, a loop about to pass
// MaxConns, or whose accept fails with EMFILE or ENFILE, closes (ErrShed)
// the connection that has been idle the longest, preferring one that has
// sent nothing since it was accepted, and admits the new one.
// "Longest" is judged on a sample (shedSample connections of the loop,
// from a cursor that moves on each time, as Redis samples for LRU
// eviction) so that shedding under a flood costs a bounded scan rather
// than one of every connection; among few connections the sample is all
// of them. A loop sheds its own connections; with none of its own to shed
// it asks the loop holding the most to shed one, since both the count
// MaxConns bounds and the descriptor table are the whole process's.
//
// When the process is out of descriptors and nothing can be shed, each
// accepting loop keeps a reserve descriptor (an open os.DevNull): it closes
// it, accepts one pending connection and closes that at once, so the peer
// gets a prompt close instead of waiting in the backlog, then reopens the
// reserve, as nginx and libuv do; then the listener rests for
// acceptBackoff.

// shedSample bounds the connections one shed decision looks at.
const shedSample = 256

// shedGrace is how long a connection that has sent nothing counts as a
// newcomer rather than a silent one. A client that connects and sends at
// once is accepted before its bytes are read, and those arrive up to a
// round trip later: shedding it as silent would refuse the very newcomer
// a shed admits, and a burst of newcomers at the limit would shed each
// other (a hostile pass: 2 to 4 of 20 served, while idle clients that had
// spoken 300 ms earlier were kept). A quarter of a second covers a round
// trip across the world; a flood of silent connections still sheds its
// own members once they are that old. The price: a flood that fills the
// table faster than that sheds idle clients that have spoken, until its
// members are old enough to count as silent. A variable only so that a
// test can widen it (TestShedSparesNewcomers).
var shedGrace = int64(250 * time.Millisecond)

// oldestIdle returns the connection to shed among a sample of the loop's,
// or nil if it has none that may be shed: a draining one (drain.go) before
// any other, then one accepted at least shedGrace ago with nothing read or
// written since, and the one idle the longest among those. A flood of
// silent connections then sheds its own members rather than a client that
// spoke a moment before them; a connection the server writes to (a
// subscriber to pushed data that never speaks) or one adopted from
// elsewhere is not taken for a member.
func (l *Loop) oldestIdle() *Conn {
	var best *Conn
	var bestSince int64
	bestSilent := false
	seen := 0
	consider := func(c *Conn) {
		seen++
		if c.flags&(flagCloseNow|flagDialing) != 0 || c.closed.Load() {
			return
		}
		if c.flags&flagDraining != 0 {
			// Closed already but for the drain, which frees its
			// descriptor soonest and costs nobody anything.
			if best == nil || best.flags&flagDraining == 0 {
				best = c
			}
			return
		}
		if best != nil && best.flags&flagDraining != 0 {
			return
		}
		since := l.clock - c.active
		silent := c.flags&flagUntouched != 0 && since >= shedGrace
		if best == nil || (silent && !bestSilent) || (silent == bestSilent && since > bestSince) {
			best, bestSince, bestSilent = c, since, silent
		}
	}
	t := &l.fds
	if k := len(t.direct); k > 0 {
		i := 0
		for ; i < k && i < 4*shedSample && seen < shedSample; i++ {
			if c := t.direct[(l.shedNext+i)%k]; c != nil {
				consider(c)
			}
		}
		l.shedNext = (l.shedNext + i) % k
	}
	for _, c := range t.far { // map order is random: a sample already
		if seen >= shedSample {
			break
		}
		consider(c)
	}
	return best
}

// shedOne closes the loop's longest-idle connection now, freeing its
// descriptor before it returns. It reports whether there was one.
func (l *Loop) shedOne() bool {
	c := l.oldestIdle()
	if c == nil {
		return false
	}
	if c.flags&flagDraining != 0 {
		c.closeWith(nil, true) // the end of its drain: closing for its own reason
	} else {
		c.closeWith(ErrShed, true)
		l.stats.shed.Add(1)
	}
	l.settle(c)
	return true
}

// makeRoom sheds a connection if admitting one more would pass
// Options.MaxConns.
func (l *Loop) makeRoom() {
	e := l.e
	if e.opts.MaxConns <= 0 || e.open.Load() < int64(e.opts.MaxConns) {
		return
	}
	if l.shedOne() {
		return
	}
	if o := l.fullestOther(); o != nil {
		o.Do(func() { o.shedOne() })
	}
}

// fullestOther returns the other loop holding the most connections, or nil
// if none holds any.
func (l *Loop) fullestOther() *Loop {
	var best *Loop
	var most int64
	for _, o := range l.e.loops {
		if n := o.stats.open.Load(); o != l && n > most {
			best, most = o, n
		}
	}
	return best
}

// openReserve keeps a spare descriptor for the accept of last resort
// (see the policy above); failing to get one is not an error.
func (l *Loop) openReserve() {
	if l.reserve == nil {
		if f, err := os.Open(os.DevNull); err == nil {
			l.reserve = f
		}
	}
}

func (l *Loop) closeReserve() {
	if l.reserve != nil {
		l.reserve.Close()
		l.reserve = nil
	}
}

// shedResult is what outOfDescriptors did.
type shedResult uint8

const (
	shedNone  shedResult = iota // nothing to shed: the caller pauses the listener
	shedNow                     // a connection was shed and its descriptor is free: accept again
	shedLater                   // shed, but its descriptor is freed only next iteration
	shedAway                    // another loop was asked to shed: the listener waits for its answer
)

// outOfDescriptors handles an accept that failed with EMFILE or ENFILE. A
// connection shed frees a descriptor: at once on the readiness driver,
// and on the completion driver once the requests it cancelled have
// completed, in the next iteration, where the listener's (level-triggered)
// poll brings the accept back. With none of its own to shed the loop asks
// another (shedElsewhere); with none anywhere it refuses one pending
// connection with the reserve descriptor, and the caller pauses the
// listener.
//
// A shed whose descriptor the accept did not get (another thread, or for
// ENFILE another process, took it first) is not followed by another at
// once: the loop refuses one newcomer and backs off, as with nothing to
// shed, so that such a race costs at most one connection per
// acceptBackoff rather than draining the engine one shed at a time.
func (ln *listener) outOfDescriptors() shedResult {
	l := ln.loop
	if ln.shedUnused {
		ln.shedUnused = false
		ln.refuseOne()
		return shedNone
	}
	if l.shedOne() {
		if l.drv.closing() {
			ln.resumeAfterShed()
			return shedLater
		}
		ln.shedUnused = true
		return shedNow
	}
	if ln.shedElsewhere() {
		return shedAway
	}
	ln.refuseOne()
	return shedNone
}

// resumeAfterShed stops watching the listener until the descriptor of the
// connection just shed is closed, one iteration later on the completion
// driver: an accept in the meantime would fail again and shed another.
func (ln *listener) resumeAfterShed() {
	l := ln.loop
	ln.unwatch()
	// A task queued from a task runs in the next iteration, after the
	// completions that close the descriptor (as in shedElsewhere).
	l.Do(func() {
		l.Do(func() {
			if ln.sock != nil && ln.paused {
				ln.shedUnused = true
				ln.resume()
			}
		})
	})
}

// refuseOne accepts one pending connection with the reserve descriptor and
// closes it at once.
func (ln *listener) refuseOne() {
	l := ln.loop
	if l.reserve != nil {
		l.closeReserve()
		if s, err := ln.sock.AcceptSocket(); err == nil {
			s.Close()
		}
		l.openReserve()
	}
}

// shedElsewhere asks the loop holding the most connections to shed its
// longest-idle one, for this loop has none: accepted connections are dealt
// to every loop, so without this the accepting loop, once its own are
// gone, would refuse newcomers while the others stay full of idle ones.
// The listener is not watched until the answer comes back, after the
// descriptor is closed, so that one shortage sheds one connection rather
// than one per iteration while the request is on its way: only the answer
// resumes the listener, so one request at most is out. It reports whether
// it asked.
func (ln *listener) shedElsewhere() bool {
	l := ln.loop
	o := l.fullestOther()
	if o == nil {
		return false
	}
	answer := func(shed bool) { l.Do(func() { ln.shedAnswered(shed) }) }
	err := o.Do(func() {
		switch {
		case !o.shedOne():
			answer(false)
		case !o.drv.closing():
			answer(true)
		case o.Do(func() { answer(true) }) != nil:
			// Queued from a task, the answer waits for the next iteration,
			// where the descriptor is closed; a stopping loop answers now.
			answer(true)
		}
	})
	if err != nil {
		return false // that loop is stopping, and so is the engine
	}
	ln.unwatch()
	return true
}

// shedAnswered resumes the listener once another loop has shed a
// connection for it, or refuses a newcomer and backs off if that loop
// had none left to shed.
func (ln *listener) shedAnswered(shed bool) {
	if ln.sock == nil || !ln.paused {
		return // closed meanwhile (Stop), or resumed already
	}
	if !shed {
		ln.refuseOne()
		ln.resumeAfter(acceptBackoff)
		return
	}
	ln.shedUnused = true
	ln.resume()
}
