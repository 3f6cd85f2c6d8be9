package loop

import (
	"crypto/tls"
	"errors"
	"net"
	"sync"
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
	const timeout = 80 * time.Second // stallYield 2 s
	s := newBadPeerServer(t, Options{Loops: 1, MaxTLSHandshakes: 2, TLSHandshakeTimeout: timeout})
	yield := s.e.stallYield()
	// A stalling peer's handshake is a newcomer's but for its last
	// flight: the slower of the two is what a handshake takes on this
	// machine now, under whatever load it has.
	begin := time.Now()
	first := stallingPeer(t, s.addr)
	handshake := time.Since(begin)
	begin = time.Now()
	second := stallingPeer(t, s.addr)
	handshake = max(handshake, time.Since(begin))
	// Both have stalled (the server waits on a peer from before its
	// handshake returns): this is past stallYield for both, and 3/4 of
	// one short of when the first, had it looked again every stallYield,
	// would look again (less the second's handshake).
	time.Sleep(yield + yield/4)
	assert.Empty(t, s.logs.errors(), "a stalled handshake cut while nobody waited")

	begin = time.Now()
	d := &net.Dialer{Timeout: timeout, Deadline: begin.Add(timeout)}
	good, err := tls.DialWithDialer(d, "tcp", s.addr, getPKI(t).clientConfig())
	require.NoError(t, err)
	t.Cleanup(func() { good.Close() })
	took := time.Since(begin)
	// The stalled handshakes are past stallYield and wait on their peers:
	// the newcomer must not wait for one to look again. It takes a
	// handshake, measured above, and the hand-off: well under half a
	// stallYield, where a look again would take 3/4 of one.
	assert.Less(t, took, handshake+yield/2, "the newcomer waited for a stalled handshake to look again (a handshake takes %v)", handshake)
	assert.Equal(t, "in", string(roundTrip(t, good, []byte("in"))))

	waitFor(t, "the yield to be logged", func() bool { return len(s.logs.errors()) > 0 })
	time.Sleep(yield / 2) // time for a second yield, which must not happen
	errs := s.logs.errors()
	require.Len(t, errs, 1, "both stalled handshakes gave their slots up for one newcomer")
	assert.True(t, errors.Is(errs[0], ErrTLSHandshakeStalled), "%v", errs[0])
	s.stillServed(t)
	first.Close()
	second.Close()
	t.Logf("the newcomer's handshake took %v, a stalling peer's %v", took, handshake)
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

// replayedClientHello is a crypto/tls client's first flight, for a flood
// that sends it again and again and never reads the answer: the cheapest
// way to make a server do its part of a handshake and then wait.
func replayedClientHello(t *testing.T) []byte {
	mine, theirs := net.Pipe()
	theirs.Close() // the handshake fails reading, once its first flight is out
	defer mine.Close()
	raw := &recordPeer{Conn: mine, hold: true}
	tls.Client(raw, getPKI(t).clientConfig()).Handshake()
	require.NotEmpty(t, raw.held)
	return raw.held
}

// TestTLSStallFloodDoesNotStarve: a flood of replayed ClientHellos, each
// left to stall, arriving faster than MaxTLSHandshakes slots a quarter of
// the handshake timeout (what made every newcomer wait for the timeout
// before), does not keep good clients from their handshakes: each
// newcomer takes the slot of the oldest stalled one once that has waited
// stallYield.
func TestTLSStallFloodDoesNotStarve(t *testing.T) {
	const (
		slots   = 4
		timeout = 8 * time.Second
		every   = 125 * time.Millisecond // 8 a second: 4 times slots per quarter timeout
		lasting = 3 * time.Second
	)
	s := newBadPeerServer(t, Options{Loops: 1, MaxTLSHandshakes: slots, TLSHandshakeTimeout: timeout})
	hello := replayedClientHello(t)
	var mu sync.Mutex
	var flood []net.Conn
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range flood {
			c.Close()
		}
	})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			c, err := net.DialTimeout("tcp", s.addr, time.Second)
			if err != nil {
				continue
			}
			c.Write(hello)
			mu.Lock()
			flood = append(flood, c)
			mu.Unlock()
		}
	}()
	begin := time.Now()
	var took []time.Duration
	for time.Since(begin) < lasting {
		time.Sleep(lasting / 6)
		start := time.Now()
		d := &net.Dialer{Timeout: timeout, Deadline: start.Add(timeout)}
		good, err := tls.DialWithDialer(d, "tcp", s.addr, getPKI(t).clientConfig())
		require.NoError(t, err, "a good client starved by the flood after %v", time.Since(begin))
		took = append(took, time.Since(start))
		assert.Equal(t, "in", string(roundTrip(t, good, []byte("in"))))
		good.Close()
	}
	close(stop)
	wg.Wait()
	mu.Lock()
	flooded := len(flood)
	mu.Unlock()
	t.Logf("%d stalling peers; good clients' handshakes took %v", flooded, took)
	for _, d := range took {
		assert.Less(t, d, timeout/4, "a good client waited behind the flood")
	}
	assert.GreaterOrEqual(t, flooded, 16, "the flood did not come")
	yielded := 0
	for _, err := range s.logs.errors() {
		if errors.Is(err, ErrTLSHandshakeStalled) {
			yielded++
		}
	}
	assert.Positive(t, yielded, "no stalled handshake gave its slot up")
	s.stillServed(t)
}

// TestStallYield: a fortieth of the handshake timeout, but not under a slow
// link's round trip unless the timeout itself is short.
func TestStallYield(t *testing.T) {
	for timeout, want := range map[time.Duration]time.Duration{
		10 * time.Second:       250 * time.Millisecond, // the default
		40 * time.Second:       time.Second,
		2 * time.Second:        250 * time.Millisecond, // not 50 ms
		400 * time.Millisecond: 100 * time.Millisecond, // a quarter, as before
	} {
		e := &Engine{opts: Options{TLSHandshakeTimeout: timeout}}
		assert.Equal(t, want, e.stallYield(), "timeout %v", timeout)
	}
}
