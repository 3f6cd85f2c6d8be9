package loop

import "sync"

// handshakePool runs handshakes on at most Options.MaxTLSHandshakes
// goroutines. A connection that finds them all busy waits in a queue,
// holding no goroutine; a goroutine that finishes takes the next one.
type handshakePool struct {
	mu       sync.Mutex
	running  int
	waiting  []*tlsState
	yielding int // running handshakes giving their slots to waiting ones
	// queued is closed when a handshake starts to wait for a slot, to wake
	// the stalled handshakes ready to give theirs up (see arrivals); nil
	// until one asks.
	queued chan struct{}
}

// arrivals returns a channel closed when the next handshake starts to wait
// for a slot.
func (p *handshakePool) arrivals() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.queued == nil {
		p.queued = make(chan struct{})
	}
	return p.queued
}

// claimYield lets a stalled handshake give its slot up (see awaitPeer)
// if a waiting one has no slot promised yet: two stalled handshakes never
// both yield for one newcomer. Waiters whose connection closed are dropped
// from the head of the queue first; one further back may still be counted.
func (p *handshakePool) claimYield() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.waiting) > 0 && p.waiting[0].tr.isClosed() {
		p.pop()
	}
	if len(p.waiting) <= p.yielding {
		return false
	}
	p.yielding++
	return true
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
	if p.queued != nil {
		close(p.queued)
		p.queued = nil
	}
	p.mu.Unlock()
}

// work runs handshakes until none is waiting.
func (p *handshakePool) work(st *tlsState) {
	for st != nil {
		err := st.tc.Handshake()
		c := st.c
		// Dropped with the connection if it closed meanwhile.
		c.loop.enqueue(task{conn: c, fn: func() { c.loop.tlsHandshakeDone(c, err) }})
		st = p.next(st.tr.yielded)
	}
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
