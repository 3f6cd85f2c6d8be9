package loop

import (
	"runtime/debug"
	"slices"
	"sync"
)

// handshakePool runs handshakes on at most Options.MaxTLSHandshakes
// goroutines. A connection that finds them all busy waits in a queue,
// holding no goroutine; a goroutine that finishes takes the next one.
type handshakePool struct {
	mu       sync.Mutex
	running  int
	waiting  []*tlsState
	yielding int // running handshakes giving their slots to waiting ones
	// stalled: running handshakes past their stallYield that found no
	// waiter to give their slot to, oldest first. A newcomer wakes the
	// first of them only (handOff), not all: under a flood of newcomers
	// behind MaxTLSHandshakes stalled peers, waking every one per arrival
	// would cost a lock round per stalled handshake per arrival.
	stalled []*tlsTransport
}

// stall lets the stalled handshake of t give its slot up (see awaitPeer)
// if a waiting one has no slot promised yet, and reports whether it must:
// two stalled handshakes never both yield for one newcomer. Otherwise t
// joins stalled, and handOff tells it (t.yieldNow) when a newcomer comes.
func (p *handshakePool) stall(t *tlsTransport) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dropClosed()
	if len(p.waiting) > p.yielding {
		p.yielding++
		return true
	}
	if t.yieldNow == nil {
		t.yieldNow = make(chan struct{}, 1)
	}
	p.stalled = append(p.stalled, t)
	return false
}

// unstall takes t, whose peer spoke, out of stalled, and reports whether
// handOff had already promised its slot to a newcomer (the caller then
// passes the promise on with release).
func (p *handshakePool) unstall(t *tlsTransport) (promised bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if i := slices.Index(p.stalled, t); i >= 0 {
		p.stalled = slices.Delete(p.stalled, i, i+1)
		return false
	}
	select {
	case <-t.yieldNow: // not taken by awaitPeer: drained for the next stall
	default:
	}
	return true
}

// release gives back a slot promised to a newcomer by a handshake that
// keeps it after all (its peer spoke), for another stalled one to yield.
func (p *handshakePool) release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.yielding--
	p.handOff()
}

// handOff promises each waiter no yield is promised to yet the slot of the
// oldest stalled handshake, and tells it; p.mu is held.
func (p *handshakePool) handOff() {
	p.dropClosed()
	for len(p.waiting) > p.yielding && len(p.stalled) > 0 {
		t := p.stalled[0]
		p.stalled = slices.Delete(p.stalled, 0, 1)
		p.yielding++
		t.yieldNow <- struct{}{} // room: one send per stall, drained before the next
	}
}

// dropClosed drops waiters whose connection closed from the head of the
// queue; one further back may still be counted. p.mu is held.
func (p *handshakePool) dropClosed() {
	for len(p.waiting) > 0 && p.waiting[0].tr.isClosed() {
		p.pop()
	}
}

func (p *handshakePool) submit(e *Engine, st *tlsState) {
	p.mu.Lock()
	if p.running < e.opts.MaxTLSHandshakes {
		p.running++
		p.mu.Unlock()
		go p.work(st)
		return
	}
	p.waiting = append(p.waiting, st)
	p.handOff()
	p.mu.Unlock()
}

// work runs handshakes until none is waiting.
func (p *handshakePool) work(st *tlsState) {
	for st != nil {
		err := handshake(st)
		c := st.c
		// Dropped with the connection if it closed meanwhile.
		c.loop.enqueue(task{conn: c, fn: func() { c.loop.tlsHandshakeDone(c, err) }})
		st = p.next(st.tr.yielded)
	}
}

// handshake runs st's handshake. The tls.Config's callbacks
// (GetCertificate, GetConfigForClient, VerifyPeerCertificate,
// VerifyConnection...) are the application's code, run here on a goroutine
// it does not own, on what the peer chose (its server name, its
// certificates): a panic in one fails that handshake with a *PanicError,
// logged with its stack by tlsFailed, as a handler's panic closes only its
// connection (and net/http's server recovers it too), instead of crashing
// the process.
func handshake(st *tlsState) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	return st.tc.Handshake()
}

// next takes the next waiting handshake whose connection is still there,
// or gives the goroutine's slot back; yielded says the last one gave its
// slot up for it.
func (p *handshakePool) next(yielded bool) *tlsState {
	p.mu.Lock()
	defer p.mu.Unlock()
	if yielded {
		p.yielding--
	}
	for len(p.waiting) > 0 {
		if st := p.pop(); !st.tr.isClosed() {
			return st
		}
	}
	p.running--
	return nil
}

// pop takes the head of the queue; p.mu is held.
func (p *handshakePool) pop() *tlsState {
	st := p.waiting[0]
	p.waiting[0] = nil
	p.waiting = p.waiting[1:]
	if len(p.waiting) == 0 {
		p.waiting = nil // let a burst's backing array go
	}
	return st
}
