package loop

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// tlsTransport is the net.Conn crypto/tls reads and writes. It has two
// modes. During the handshake it is a pipe between the loop and the
// handshake goroutine: the loop feeds the bytes it reads, the goroutine's
// Read waits for them, and its writes are handed to the loop as tasks.
// After the handshake only the loop uses it, without locks: Read gives what
// the current socket read brought and then errTLSWouldBlock, and Write
// queues the records on the connection.
type tlsTransport struct {
	st     *tlsState
	onLoop atomic.Bool // the handshake is over
	in     []byte      // on the loop: received bytes crypto/tls has not taken
	shut   bool        // on the loop: close_notify is sent, nothing may follow

	mu     sync.Mutex // guards hsIn, hsOff, eof and closed during the handshake
	hsIn   []byte
	hsOff  int  // bytes the goroutine took from the front of hsIn's array
	full   bool // the loop stopped reading: hsIn reached handshakeInputLimit
	eof    bool // the peer closed during the handshake
	closed bool
	wake   chan struct{} // a token when hsIn grew or the transport closed

	// The handshake goroutine's own (see awaitPeer).
	waited  time.Duration // time spent waiting on the peer
	yielded bool          // gave its slot up
	// yieldNow: a token when handshakePool.handOff promised this stalled
	// handshake's slot to a newcomer; made by its first stall.
	yieldNow chan struct{}

	local, remote net.Addr
}

// tlsWouldBlock is what the transport's Read says on the loop when it has
// nothing more: crypto/tls keeps its state on a Temporary net.Error.
type tlsWouldBlock struct{}

func (tlsWouldBlock) Error() string   { return "loop: no more TLS input buffered" }
func (tlsWouldBlock) Timeout() bool   { return false }
func (tlsWouldBlock) Temporary() bool { return true }

var errTLSWouldBlock net.Error = tlsWouldBlock{}

// handshakeInputLimit bounds what a connection buffers for its handshake
// goroutine: past it the loop stops reading the socket until the goroutine
// has taken half, so a peer that streams data at a handshake (one waiting
// for a slot, say) cannot make it grow without bound. A peer's flight is
// far smaller; data sent right behind it just waits in the kernel.
const handshakeInputLimit = 64 << 10

// stallYield is how long a server's handshake may wait on its peer, in
// all, before it gives its slot up to a handshake waiting for one (see
// awaitPeer): a fortieth of the handshake timeout, 250 ms by default, and
// never less than 250 ms unless a quarter of the timeout is less. A real
// peer answers within a round trip or two, so a good client loses its
// slot only to a crowd, and only if its round trips are slow; the floor
// keeps a short timeout from making a slow link's round trip a stall. It
// is short because it sets what a flood of ClientHellos left to stall
// must bring to keep newcomers waiting: MaxTLSHandshakes of them every
// stallYield (4,096 a second by default; at 0.16 ms of server CPU each
// with a P-256 certificate, a third of this 2-core machine's CPU), see
// TestTLSStallFloodDoesNotStarve. At a quarter of the timeout, as it was,
// 100 a second did, and every newcomer waited for the timeout.
func (e *Engine) stallYield() time.Duration {
	t := e.opts.TLSHandshakeTimeout
	return max(t/40, min(t/4, stallYieldFloor))
}

// stallYieldFloor is the least stallYield of a handshake timeout of 1 s or
// more: a round trip on a slow mobile or satellite link.
const stallYieldFloor = 250 * time.Millisecond

// maxTLSCiphertext is the longest record crypto/tls accepts before a
// version is agreed (its maxCiphertext: 2^14 bytes and 2,048 of expansion).
// TestTLSHostileOversizedFirstRecord fails if that changes.
const maxTLSCiphertext = 16384 + 2048

// feed passes bytes read by the loop to the handshake goroutine. It
// reports whether a whole record, or what cannot begin one, is buffered:
// enough for a server's handshake to start (see tlsStart); and whether the
// loop must stop reading (see handshakeInputLimit).
func (t *tlsTransport) feed(p []byte) (ready, full bool) {
	t.mu.Lock()
	if len(t.hsIn)+len(p) > cap(t.hsIn) {
		t.hsOff = 0 // append moves it to an array of its own
	}
	t.hsIn = append(t.hsIn, p...)
	b := t.hsIn
	if len(b) > 0 && b[0] != 0x16 {
		ready = true // not a handshake record: crypto/tls will say so at once
	} else if len(b) >= 5 {
		n := int(b[3])<<8 | int(b[4])
		// A length no record may have is refused by crypto/tls from the
		// header alone; waiting for that many bytes would hold the
		// connection until the handshake timeout.
		ready = len(b) >= 5+n || n > maxTLSCiphertext
	}
	if len(b) >= handshakeInputLimit {
		t.full, full = true, true
	}
	t.mu.Unlock()
	t.signal()
	return ready, full
}

// held is what the transport buffers for the handshake goroutine, for the
// memory budget (see holding). The loop counts it when it settles the
// connection; what the goroutine takes meanwhile leaves the count with the
// settle that sends its answer (Write's task), before the peer can reply.
func (t *tlsTransport) held() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.hsOff + cap(t.hsIn) // the whole array, the part read included
}

// drained lets the loop read again once the handshake goroutine has taken
// enough; t.mu is held.
func (t *tlsTransport) drained() {
	if !t.full || len(t.hsIn) > handshakeInputLimit/2 {
		return
	}
	t.full = false
	c := t.st.c
	c.loop.enqueue(task{conn: c, fn: func() {
		c.flags &^= flagHsFull
		c.markDirty()
	}})
}

// signal wakes the handshake goroutine; the loop calls it.
func (t *tlsTransport) signal() {
	select {
	case t.wake <- struct{}{}:
		t.st.c.loop.woke.Store(true)
	default:
	}
}

// feedEOF passes the peer's EOF to the handshake goroutine.
func (t *tlsTransport) feedEOF() {
	t.mu.Lock()
	t.eof = true
	t.mu.Unlock()
	t.signal()
}

// toLoop switches to the loop's mode once the handshake goroutine is done;
// what it did not read stays for crypto/tls to take.
func (t *tlsTransport) toLoop() {
	t.mu.Lock()
	t.in, t.hsIn, t.hsOff = t.hsIn, nil, 0
	t.mu.Unlock()
	t.onLoop.Store(true)
}

// isClosed reports whether close was called.
func (t *tlsTransport) isClosed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.closed
}

// close ends a handshake in progress: its Read and Write fail from now on.
func (t *tlsTransport) close() {
	t.mu.Lock()
	t.closed = true
	t.hsIn, t.hsOff = nil, 0
	t.mu.Unlock()
	t.signal()
}

// Read implements net.Conn for crypto/tls.
func (t *tlsTransport) Read(p []byte) (int, error) {
	if t.onLoop.Load() {
		if len(t.in) == 0 {
			return 0, errTLSWouldBlock
		}
		n := copy(p, t.in)
		t.st.scan.scan(p[:n])
		t.in = t.in[n:]
		return n, nil
	}
	t.mu.Lock()
	for len(t.hsIn) == 0 && !t.closed && !t.eof {
		t.mu.Unlock()
		if err := t.awaitPeer(); err != nil {
			return 0, err
		}
		t.mu.Lock()
	}
	defer t.mu.Unlock()
	if t.closed {
		return 0, net.ErrClosed
	}
	if len(t.hsIn) == 0 {
		return 0, io.EOF
	}
	n := copy(p, t.hsIn)
	t.st.scan.scan(p[:n]) // the loop looks only once the handshake is over
	t.hsIn = t.hsIn[n:]
	t.hsOff += n
	if len(t.hsIn) == 0 {
		t.hsIn, t.hsOff = nil, 0
	}
	t.drained()
	return n, nil
}

// awaitPeer waits for the loop to feed more bytes. A server's handshake
// that has waited on its peer for stallYield in all gives its slot up
// (fails with ErrTLSHandshakeStalled) when another handshake waits for one
// that no other yield has promised it: otherwise MaxTLSHandshakes peers
// that send a ClientHello and then nothing, or a byte now and then, would
// hold every slot, and every new client would wait for the handshake
// timeout. The time counted is the goroutine's between its reads, so it
// includes the loop's delay in sending its flight and feeding the answer,
// not its own work. A client's handshake never yields: it waits on a
// server, perhaps this engine's own, whose queue it would only lengthen.
//
// Past stallYield with nobody to yield to, the handshake waits in the
// pool's stalled list until its peer speaks (or the handshake deadline
// closes the transport, which wakes it too) or a newcomer is promised its
// slot (handOff). No look again is needed: the waiters without a promise
// only grow in submit, which hands them out at once.
func (t *tlsTransport) awaitPeer() error {
	if t.st.client {
		<-t.wake
		return nil
	}
	e := t.st.c.loop.e
	start := time.Now()
	defer func() { t.waited += time.Since(start) }()
	if left := e.stallYield() - t.waited; left > 0 {
		timer := time.NewTimer(left) // a timer never fires early: past it, the threshold is passed
		select {
		case <-t.wake:
			timer.Stop()
			return nil
		case <-timer.C:
		}
	}
	select {
	case <-t.wake: // the peer spoke: a live handshake keeps its slot
		return nil
	default:
	}
	pool := &e.handshakes
	if pool.stall(t) {
		t.yielded = true
		return ErrTLSHandshakeStalled
	}
	select {
	case <-t.wake:
		if pool.unstall(t) {
			pool.release() // promised meanwhile: the promise goes to another
		}
		return nil
	case <-t.yieldNow:
		t.yielded = true
		return ErrTLSHandshakeStalled
	}
}

// Write implements net.Conn for crypto/tls.
func (t *tlsTransport) Write(p []byte) (int, error) {
	c := t.st.c
	if t.onLoop.Load() {
		if t.shut {
			// Nothing follows close_notify, as crypto/tls means by the
			// write deadline it sets after it (a no-op here): CloseWrite's
			// connection goes on reading, and the answer to the peer's
			// KeyUpdate would go out after the close_notify, or fail the
			// connection on the socket already shut (EPIPE). Dropped,
			// not refused: crypto/tls's handleKeyUpdate, when the write
			// of its answer fails, returns before it moves to the peer's
			// new key, and every record after it fails to decrypt.
			return len(p), nil
		}
		return c.writeRaw(p, false)
	}
	t.mu.Lock()
	closed := t.closed
	t.mu.Unlock()
	if closed {
		return 0, net.ErrClosed
	}
	buf := append([]byte(nil), p...)
	if err := c.loop.enqueue(task{conn: c, fn: func() { c.writeRaw(buf, false) }}); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Close implements net.Conn; the loop owns the socket, so crypto/tls
// closing its transport (as HandshakeContext would) only ends the handshake.
func (t *tlsTransport) Close() error {
	t.close()
	return nil
}

// LocalAddr implements net.Conn with the address known when the handshake
// began (the socket belongs to the loop).
func (t *tlsTransport) LocalAddr() net.Addr { return t.local }

// RemoteAddr implements net.Conn, as LocalAddr.
func (t *tlsTransport) RemoteAddr() net.Addr { return t.remote }

// SetDeadline and its kin are no-ops: Options.TLSHandshakeTimeout bounds the
// handshake and the loop's deadlines the rest. crypto/tls sets a write
// deadline around close_notify, which never blocks here, and one of now
// after it, to fail what it would write later: Write drops that (shut).
func (t *tlsTransport) SetDeadline(time.Time) error      { return nil }
func (t *tlsTransport) SetReadDeadline(time.Time) error  { return nil }
func (t *tlsTransport) SetWriteDeadline(time.Time) error { return nil }

var _ net.Conn = (*tlsTransport)(nil)
