package loop

import (
	"crypto/tls"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMaxConnsPerIP: past the bound, a peer address's new connections are
// closed at once and counted; another address is served; a connection
// that goes makes room for one more.
func TestMaxConnsPerIP(t *testing.T) {
	e, addr := start(t, echo, Options{MaxConnsPerIP: 2})
	from := func(ip string) net.Conn {
		d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
		c, err := d.Dial("tcp", addr)
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		return c
	}
	a1, a2 := from("127.0.0.1"), from("127.0.0.1")
	assert.Equal(t, []byte("1"), roundTrip(t, a1, []byte("1")))
	assert.Equal(t, []byte("2"), roundTrip(t, a2, []byte("2")))

	refused := from("127.0.0.1")
	assert.True(t, closedWithin(refused, 5*time.Second), "the third from one address was served")
	assert.EqualValues(t, 1, e.Stats().RefusedPerIP)
	assert.EqualValues(t, 2, e.Stats().Accepted)

	other := from("127.0.0.2")
	assert.Equal(t, []byte("o"), roundTrip(t, other, []byte("o")), "another address was refused")

	a1.Close()
	waitFor(t, "the close", func() bool { return e.Stats().Open == 2 })
	again := from("127.0.0.1")
	assert.Equal(t, []byte("3"), roundTrip(t, again, []byte("3")), "no room made by a close")

	// Closes, by the client or by the server (a reset), give every count
	// back: one at a time, the bound is never reached.
	again.Close()
	waitFor(t, "the close", func() bool { return e.Stats().Open == 2 })
	for i := range 20 {
		c := from("127.0.0.1")
		assert.Equal(t, []byte("n"), roundTrip(t, c, []byte("n")), "connection %d", i)
		if i%2 == 0 {
			c.Close()
		} else {
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}
		waitFor(t, "the close", func() bool { return e.Stats().Open == 2 })
	}
	assert.EqualValues(t, 1, e.Stats().RefusedPerIP)
}

// TestIPCountsKey: an IPv4 peer counts alike on an IPv4 and a dual-stack
// listener; IPv6 peers count by their /64.
func TestIPCountsKey(t *testing.T) {
	p := newIPCounts()
	k := func(s string) uint32 { return p.key(netip.MustParseAddr(s)) }
	assert.Equal(t, k("192.0.2.1"), k("::ffff:192.0.2.1"))
	assert.NotEqual(t, k("192.0.2.1"), k("192.0.2.2"))
	assert.Equal(t, k("2001:db8:1:2::1"), k("2001:db8:1:2:ffff::9"))
	assert.NotEqual(t, k("2001:db8:1:2::1"), k("2001:db8:1:3::1"))
	assert.NotZero(t, k("0.0.0.0"))
}

// TestMaxConnsPerIPBoundsStallFlood: one address that stalls TLS
// handshakes (a replayed ClientHello, then nothing) holds at most
// MaxConnsPerIP of the MaxTLSHandshakes slots, so a client from another
// address is served at once instead of waiting for stalled ones to yield
// their slots (5 s each with this TLSHandshakeTimeout; without the bound
// the good client here was still waiting after 10 s).
func TestMaxConnsPerIPBoundsStallFlood(t *testing.T) {
	const timeout = 200 * time.Second
	e, addr := startTLS(t, echo, Options{Loops: 1, MaxTLSHandshakes: 4, MaxConnsPerIP: 2, TLSHandshakeTimeout: timeout},
		getPKI(t).serverConfig())
	require.Equal(t, 5*time.Second, e.stallYield())
	hello := replayedClientHello(t)
	for range 8 {
		c := dial(t, addr)
		_, err := c.Write(hello)
		require.NoError(t, err)
	}
	waitFor(t, "the flood refused past the bound", func() bool { return e.Stats().RefusedPerIP == 6 })
	begin := time.Now()
	d := &net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
	good, err := tls.DialWithDialer(d, "tcp", addr, getPKI(t).clientConfig())
	require.NoError(t, err)
	defer good.Close()
	assert.Less(t, time.Since(begin), e.stallYield()/2, "the good client waited behind the flood")
	assert.Equal(t, "in", string(roundTrip(t, good, []byte("in"))))
}
