package loop

import (
	"crypto/tls"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stallingPeer completes its side of a TLS 1.3 handshake but never sends
// its last flight (everything after the ClientHello is dropped), so the
// server's handshake waits on it until something ends it.
func stallingPeer(t *testing.T, addr string) net.Conn {
	raw := &recordPeer{Conn: dial(t, addr)}
	c := tls.Client(raw, getPKI(t).clientConfig())
	c.SetDeadline(time.Now().Add(10 * time.Second))
	sent := 0
	raw.write = func(b []byte) (int, error) {
		if sent++; sent > 1 {
			return len(b), nil
		}
		return raw.Conn.Write(b)
	}
	require.NoError(t, c.Handshake())
	return raw.Conn
}

// TestTLSStalledHandshakeYields: peers that stall their handshakes after
// the ClientHello hold the handshake slots only while no one else needs
// one: stalled handshakes are left alone while nobody waits, and once a
// newcomer does, one of them (not both) gives its slot up to it, long
// before the handshake timeout.
func TestTLSStalledHandshakeYields(t *testing.T) {
	const timeout = 8 * time.Second
	s := newBadPeerServer(t, Options{Loops: 1, MaxTLSHandshakes: 2, TLSHandshakeTimeout: timeout})
	yield := s.e.stallYield()
	first := stallingPeer(t, s.addr)
	second := stallingPeer(t, s.addr)
	time.Sleep(yield + yield/2)
	assert.Empty(t, s.logs.errors(), "a stalled handshake cut while nobody waited")

	begin := time.Now()
	d := &net.Dialer{Timeout: timeout, Deadline: begin.Add(timeout)}
	good, err := tls.DialWithDialer(d, "tcp", s.addr, getPKI(t).clientConfig())
	require.NoError(t, err)
	t.Cleanup(func() { good.Close() })
	took := time.Since(begin)
	// The stalled handshakes are past stallYield and look again every
	// quarter of it: the newcomer must not wait for that look.
	assert.Less(t, took, yield/8, "the newcomer waited for a stalled handshake to look again")
	assert.Equal(t, "in", string(roundTrip(t, good, []byte("in"))))

	waitFor(t, "the yield to be logged", func() bool { return len(s.logs.errors()) > 0 })
	time.Sleep(yield / 2) // time for a second yield, which must not happen
	errs := s.logs.errors()
	require.Len(t, errs, 1, "both stalled handshakes gave their slots up for one newcomer")
	assert.True(t, errors.Is(errs[0], ErrTLSHandshakeStalled), "%v", errs[0])
	s.stillServed(t)
	first.Close()
	second.Close()
	t.Logf("the newcomer's handshake took %v", took)
}

// TestHandshakePoolHandOff: a newcomer wakes the oldest stalled handshake
// only, promising it its slot; one whose peer speaks before it yields
// passes the promise on to the next; and a stall with a waiter nobody has
// a promise for yields at once.
func TestHandshakePoolHandOff(t *testing.T) {
	var p handshakePool
	newcomer := func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.waiting = append(p.waiting, &tlsState{tr: &tlsTransport{}})
		p.handOff()
	}
	a, b := &tlsTransport{}, &tlsTransport{}
	require.False(t, p.stall(a), "nobody waits: a keeps its slot")
	require.False(t, p.stall(b))

	newcomer()
	assert.Len(t, a.yieldNow, 1, "the oldest stalled handshake is told")
	assert.Empty(t, b.yieldNow, "and only it")
	assert.Equal(t, 1, p.yielding)

	// a's peer spoke before a took the token: a keeps its slot, b gets the promise.
	require.True(t, p.unstall(a), "the promise was made")
	assert.Empty(t, a.yieldNow, "drained for a's next stall")
	p.release()
	assert.Len(t, b.yieldNow, 1)
	assert.Equal(t, 1, p.yielding)
	<-b.yieldNow // b yields

	require.False(t, p.stall(a), "the one waiter has its promise")
	require.False(t, p.unstall(a), "nothing was promised to a")
	newcomer()
	assert.Equal(t, 1, p.yielding, "no stalled handshake to tell")
	assert.True(t, p.stall(a), "a waiter without a promise: yield at once")
	assert.Equal(t, 2, p.yielding)
}
