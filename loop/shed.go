package loop

import (
	"os"
)

// Shedding policy. A server that refuses every new client once its
// descriptor table or Options.MaxConns is full lets anyone who opens enough
// silent connections lock everyone else out. Instead, a loop about to pass
// MaxConns, or whose accept fails with EMFILE or ENFILE, closes (ErrShed)
// the connection that has been idle the longest and admits the new one.
// "Longest" is judged on a sample (shedSample connections of the loop,
// from a cursor that moves on each time, as Redis samples for LRU
// eviction) so that shedding under a flood costs a bounded scan rather
// than one of every connection; among few connections the sample is all
// of them. A loop sheds its own connections; with MaxConns reached and
// none of its own to shed, it asks the fullest loop to shed one.
//
// When the process is out of descriptors and nothing can be shed, each
// accepting loop keeps a reserve descriptor (an open os.DevNull): it closes
// it, accepts one pending connection and closes that at once, so the peer
// gets a prompt close instead of waiting in the backlog, then reopens the
// reserve, as nginx and libuv do; then the listener rests for
// acceptBackoff.

// shedSample bounds the connections one shed decision looks at.
const shedSample = 256

// oldestIdle returns the connection idle the longest among a sample of
// the loop's, or nil if it has none that may be shed.
func (l *Loop) oldestIdle() *Conn {
	var best *Conn
	var bestSince int64
	seen := 0
	consider := func(c *Conn) {
		seen++
		if c.flags&(flagCloseNow|flagDialing) != 0 || c.closed.Load() {
			return
		}
		if since := l.clock - c.active; best == nil || since > bestSince {
			best, bestSince = c, since
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
	c.closeWith(ErrShed, true)
	l.stats.shed.Add(1)
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
	fullest := l
	for _, o := range e.loops {
		if o.stats.open.Load() > fullest.stats.open.Load() {
			fullest = o
		}
	}
	if fullest != l {
		fullest.Do(func() { fullest.shedOne() })
	}
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
)

// outOfDescriptors handles an accept that failed with EMFILE or ENFILE. A
// connection shed frees a descriptor: at once on the readiness driver,
// and on the completion driver once the requests it cancelled have
// completed, in the next iteration, where the listener's (level-triggered)
// poll brings the accept back. With nothing to shed it refuses one pending
// connection with the reserve descriptor, and the caller pauses the
// listener.
func (ln *listener) outOfDescriptors() shedResult {
	l := ln.loop
	if l.shedOne() {
		if l.drv.closing() {
			return shedLater
		}
		return shedNow
	}
	if l.reserve != nil {
		l.closeReserve()
		if s, err := ln.sock.AcceptSocket(); err == nil {
			s.Close()
		}
		l.openReserve()
	}
	return shedNone
}
