package loop

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evsel/evsel/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// badPeerServer serves TLS echo and keeps one well-behaved client
// connected, checked by stillServed after each bad peer.
type badPeerServer struct {
	e    *Engine
	addr string
	good *tls.Conn
	p    *testPKI
	logs *logRecorder
}

func newBadPeerServer(t *testing.T, opts Options) *badPeerServer {
	p := getPKI(t)
	s := &badPeerServer{p: p, logs: &logRecorder{}}
	opts.Logger = slogOf(s.logs)
	s.e, s.addr = startTLS(t, echo, opts, p.serverConfig())
	s.good = dialTLS(t, s.addr, p.clientConfig())
	s.stillServed(t)
	return s
}

func (s *badPeerServer) stillServed(t *testing.T) {
	t.Helper()
	assert.Equal(t, "still here", string(roundTrip(t, s.good, []byte("still here"))))
}

// closedByServer reads from c until the server closes it, and fails the
// test if that takes too long.
func closedByServer(t *testing.T, c net.Conn, within time.Duration) time.Duration {
	t.Helper()
	begin := time.Now()
	c.SetReadDeadline(begin.Add(within))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("server did not close the connection within %v", within)
	}
	return time.Since(begin)
}

// TestTLSSilentProbe: a connection closed without a byte (a port scan, a
// health check) is not logged as a failed handshake.
func TestTLSSilentProbe(t *testing.T) {
	s := newBadPeerServer(t, Options{Loops: 1})
	c := dial(t, s.addr)
	c.Close()
	waitFor(t, "the probe to go", func() bool { return s.e.Stats().Closed == 1 })
	s.stillServed(t)
	assert.Empty(t, s.logs.errors())
	assert.Zero(t, s.e.Stats().TLSHandshakeFailed)
}

func TestTLSBadPeerRandomBytes(t *testing.T) {
	s := newBadPeerServer(t, Options{Loops: 1})
	c := dial(t, s.addr)
	junk := make([]byte, 1024)
	rand.Read(junk)
	junk[0] = 0x42 // not a handshake record
	c.Write(junk)
	closedByServer(t, c, 10*time.Second)
	s.stillServed(t)
	st := s.e.Stats()
	assert.Equal(t, int64(1), st.TLSHandshakes)
	assert.Equal(t, int64(1), st.TLSHandshakeFailed)
	errs := s.logs.errors()
	require.Len(t, errs, 1)
	var rh tls.RecordHeaderError
	assert.ErrorAs(t, errs[0], &rh)
}

// trickleConn writes one byte per Write to the socket, with a pause, while
// on is set.
type trickleConn struct {
	net.Conn
	on atomic.Bool
}

func (c *trickleConn) Write(p []byte) (int, error) {
	if !c.on.Load() {
		return c.Conn.Write(p)
	}
	for i := range p {
		if _, err := c.Conn.Write(p[i : i+1]); err != nil {
			return i, err
		}
		time.Sleep(200 * time.Microsecond)
	}
	return len(p), nil
}

func TestTLSBadPeerClientHelloByteByByte(t *testing.T) {
	// A minute for the handshake, not the default 10 s: a ClientHello of
	// some 1.5 KB (ML-KEM's key share) and the client's last flight, a
	// byte and a pause at a time, took longer than that with GOMAXPROCS=1,
	// where each pause's wake-up waits for the loop's raw wait (up to
	// evsel.MaxRawWait) after the busy iteration that read the last byte.
	// How long a peer may take is not what this test is about.
	const patience = time.Minute
	s := newBadPeerServer(t, Options{Loops: 1, TLSHandshakeTimeout: patience})
	raw := dial(t, s.addr)
	raw.(*net.TCPConn).SetNoDelay(true)
	tc := &trickleConn{Conn: raw}
	tc.on.Store(true)
	c := tls.Client(tc, s.p.clientConfig())
	c.SetDeadline(time.Now().Add(patience))
	require.NoError(t, c.Handshake())
	tc.on.Store(false)
	assert.Equal(t, "slow hello", string(roundTrip(t, c, []byte("slow hello"))))
	s.stillServed(t)
}

func TestTLSBadPeerStallsMidHandshake(t *testing.T) {
	const timeout = 300 * time.Millisecond
	s := newBadPeerServer(t, Options{Loops: 1, TLSHandshakeTimeout: timeout})
	c := dial(t, s.addr)
	// The start of a ClientHello record, and then nothing.
	c.Write([]byte{0x16, 0x03, 0x01, 0x01, 0x00, 0x01, 0x00, 0x00, 0xfc, 0x03, 0x03})
	took := closedByServer(t, c, 10*time.Second)
	assert.GreaterOrEqual(t, took, timeout-50*time.Millisecond, "closed before the handshake timeout")
	s.stillServed(t)
	errs := s.logs.errors()
	require.Len(t, errs, 1)
	assert.ErrorIs(t, errs[0], ErrTLSHandshakeTimeout)
}

// corruptConn flips a bit of the last byte (the record's MAC or AEAD tag)
// of writes while on is set.
type corruptConn struct {
	net.Conn
	on atomic.Bool
}

func (c *corruptConn) Write(p []byte) (int, error) {
	if c.on.Load() && len(p) > 0 {
		q := append([]byte(nil), p...)
		q[len(q)-1] ^= 1
		return c.Conn.Write(q)
	}
	return c.Conn.Write(p)
}

func TestTLSBadPeerBadMAC(t *testing.T) {
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(v), func(t *testing.T) {
			s := newBadPeerServer(t, Options{Loops: 1})
			cc := &corruptConn{Conn: dial(t, s.addr)}
			cfg := s.p.clientConfig()
			cfg.MaxVersion = v
			c := tls.Client(cc, cfg)
			c.SetDeadline(time.Now().Add(10 * time.Second))
			require.NoError(t, c.Handshake())
			assert.Equal(t, "fine", string(roundTrip(t, c, []byte("fine"))))
			cc.on.Store(true)
			c.Write([]byte("tampered"))
			_, err := c.Read(make([]byte, 16))
			require.Error(t, err)
			assert.Contains(t, err.Error(), "bad record MAC", "the server's alert")
			s.stillServed(t)
		})
	}
}

// TestTLSManyHandshakes: 2,000 handshakes at once between two engines,
// each allowed 8 handshake goroutines: all complete, and the process never
// holds more goroutines than the two limits plus a constant.
func TestTLSManyHandshakes(t *testing.T) {
	const limit = 8
	n := 2000
	if testenv.Wine {
		// Wine's server walks every pending poll on each socket call (see
		// internal/testenv): 4,000 sockets would take most of the CI's
		// budget for the package. The bound checked is the same.
		n = 500
	}
	if testing.Short() {
		t.Skip("2,000 handshakes")
	}
	testenv.NeedLocalPorts(t, n)
	patience := testenv.Bound(2 * time.Minute)
	p := getPKI(t)
	base := runtime.NumGoroutine()
	opts := Options{Loops: 2, MaxTLSHandshakes: limit, TLSHandshakeTimeout: patience}
	server, addr := startTLS(t, echo, opts, p.serverConfig())

	var peak atomic.Int64
	stopSampling := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Add(1)
	go func() {
		defer sampler.Done()
		for {
			if g := int64(runtime.NumGoroutine()); g > peak.Load() {
				peak.Store(g)
			}
			select {
			case <-stopSampling:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()

	var opened, echoed atomic.Int64
	var failures sync.Map
	all := make(chan struct{})
	client, err := New(Funcs{
		Open: func(c *Conn) { opened.Add(1); c.Write([]byte("hi")) },
		Data: func(c *Conn) {
			if len(c.Inbound()) >= 2 {
				c.Consume(2)
				if echoed.Add(1) == int64(n) {
					close(all)
				}
			}
		},
		Close: func(c *Conn, err error) {
			if err != nil && err != ErrStopped {
				failures.Store(err.Error(), true)
			}
		},
	}, Options{Loops: 2, MaxTLSHandshakes: limit, TLSHandshakeTimeout: patience, Logger: quietLog})
	require.NoError(t, err)
	t.Cleanup(func() { stop(t, client) })
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	for i := 0; i < n; i++ {
		_, err := client.Dial(ctx, "tcp", addr, WithTLS(p.clientConfig()))
		require.NoError(t, err)
	}
	select {
	case <-all:
	case <-time.After(patience):
		failures.Range(func(k, _ any) bool { t.Log(k); return true })
		t.Fatalf("%d of %d handshakes opened, %d echoed", opened.Load(), n, echoed.Load())
	}
	close(stopSampling)
	sampler.Wait()
	assert.Equal(t, int64(n), server.Stats().TLSHandshakes)
	assert.Equal(t, int64(n), client.Stats().TLSHandshakes)
	// The constant: the sampler, the engines' shutdown watchers and loop
	// goroutines, and runtime helpers that come and go.
	assert.LessOrEqual(t, peak.Load(), int64(base+2*limit+20), "goroutines grew with the handshakes")
	t.Logf("goroutines: %d before, %d at the peak", base, peak.Load())
}

// TestTLSHandshakeInputBounded: a peer that streams data at a handshake
// waiting for a slot gets read up to handshakeInputLimit (plus one read),
// then not at all until the handshake takes it.
func TestTLSHandshakeInputBounded(t *testing.T) {
	p := getPKI(t)
	e, addr := startTLS(t, echo, Options{Loops: 1, MaxTLSHandshakes: 1, ReadBufferSize: 16 << 10}, p.serverConfig())
	// A ClientHello that never ends holds the only handshake slot.
	hello := []byte{0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0x00, 0xff, 0xff}
	stall := dial(t, addr)
	stall.Write(hello)
	waitFor(t, "the stalled handshake to start", func() bool { return e.Stats().Accepted == 1 })

	flood := dial(t, addr)
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait) // runs after dial's cleanup closed flood, which ends the write
	wg.Add(1)
	go func() {
		defer wg.Done()
		junk := make([]byte, 8<<20)
		copy(junk, hello)
		flood.Write(junk)
	}()
	held := func() (n int, full bool) {
		res := make(chan [2]int, 1)
		l := e.Loops()[0]
		l.Do(func() {
			var r [2]int
			for c := range l.fds.all() {
				if c.flags&flagHsFull != 0 {
					r[1] = 1
				}
				if st := c.aux.tls; st != nil && st.tr != nil {
					st.tr.mu.Lock()
					r[0] = max(r[0], len(st.tr.hsIn))
					st.tr.mu.Unlock()
				}
			}
			res <- r
		})
		r := <-res
		return r[0], r[1] == 1
	}
	waitFor(t, "reading to stop", func() bool { _, full := held(); return full })
	time.Sleep(200 * time.Millisecond) // time for reads that should not happen
	n, full := held()
	assert.True(t, full)
	assert.LessOrEqual(t, n, handshakeInputLimit+16<<10, "buffered for the handshake")
}
