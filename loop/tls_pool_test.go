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
// one: a stalled handshake is left alone while a slot is free, and gives
// its slot up to a newcomer once it has waited handshakeStallYield, long
// before the handshake timeout.
func TestTLSStalledHandshakeYields(t *testing.T) {
	const timeout = 20 * time.Second
	s := newBadPeerServer(t, Options{Loops: 1, MaxTLSHandshakes: 2, TLSHandshakeTimeout: timeout})
	first := stallingPeer(t, s.addr)
	time.Sleep(handshakeStallYield + handshakeStallYield/2)
	assert.Empty(t, s.logs.errors(), "a stalled handshake cut while a slot was free")
	stallingPeer(t, s.addr) // now both slots are held

	begin := time.Now()
	d := &net.Dialer{Timeout: 5 * time.Second, Deadline: begin.Add(timeout / 2)}
	good, err := tls.DialWithDialer(d, "tcp", s.addr, getPKI(t).clientConfig())
	require.NoError(t, err, "the newcomer waited for the handshake timeout")
	t.Cleanup(func() { good.Close() })
	took := time.Since(begin)
	assert.Less(t, took, timeout/4, "the newcomer waited for a slot")
	assert.Equal(t, "in", string(roundTrip(t, good, []byte("in"))))

	closedByServer(t, first, 5*time.Second)
	errs := s.logs.errors()
	require.Len(t, errs, 1, "only the longest stalled gave its slot up")
	assert.True(t, errors.Is(errs[0], ErrTLSHandshakeStalled), "%v", errs[0])
	s.stillServed(t)
	t.Logf("the newcomer's handshake took %v", took)
}
