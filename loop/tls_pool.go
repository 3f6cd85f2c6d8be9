package loop

import "sync"

// handshakePool runs handshakes on at most Options.MaxTLSHandshakes
// goroutines. A connection that finds them all busy waits in a queue,
// holding no goroutine; a goroutine that finishes takes the next one.
type handshakePool struct {
	mu      sync.Mutex
	running int
	waiting []*tlsState
}

// crowded reports whether handshakes wait for a slot.
func (p *handshakePool) crowded() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.waiting) > 0
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
	p.mu.Unlock()
}

// work runs handshakes until none is waiting.
func (p *handshakePool) work(st *tlsState) {
	for st != nil {
		err := st.tc.Handshake()
		c := st.c
		// Dropped with the connection if it closed meanwhile.
		c.loop.enqueue(task{conn: c, fn: func() { c.loop.tlsHandshakeDone(c, err) }})
		st = p.next()
	}
}

// next takes the next waiting handshake whose connection is still there,
// or gives the goroutine's slot back.
func (p *handshakePool) next() *tlsState {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.waiting) > 0 {
		st := p.waiting[0]
		p.waiting[0] = nil
		p.waiting = p.waiting[1:]
		if len(p.waiting) == 0 {
			p.waiting = nil // let a burst's backing array go
		}
		st.tr.mu.Lock()
		closed := st.tr.closed
		st.tr.mu.Unlock()
		if !closed {
			return st
		}
	}
	p.running--
	return nil
}
