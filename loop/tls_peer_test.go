package loop

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Hostile and broken peers that no one in the project wrote, beyond
// tls_bad_test.go's and tls_hostile_test.go's.

// TestTLSDialRenegotiationRefused: a TLS 1.2 server (openssl s_server)
// asks a WithTLS client for a renegotiation. The loop cannot run a
// handshake after OnOpen, so it is refused whatever the config allows:
// the connection ends with crypto/tls's no_renegotiation error at once.
// Allowed (RenegotiateOnceAsClient), crypto/tls began the handshake inside
// Read, kept the transport's "no more input" as its error and returned it
// from every Read after: the connection hung, the server's bytes dropped.
func TestTLSDialRenegotiationRefused(t *testing.T) {
	needTool(t, "openssl")
	p := getPKI(t)
	_, cert, key := p.files(t)
	ossl := startPeer(t, "openssl", "s_server", "-accept", "127.0.0.1:0", "-cert", cert, "-key", key, "-tls1_2", "-naccept", "1")
	addr := strings.TrimSpace(strings.TrimPrefix(ossl.expect(t, "ACCEPT "), "ACCEPT "))

	e := newClientEngine(t)
	got := make(chan string, 16)
	closed := make(chan error, 1)
	e.h.(*switchHandler).set(Funcs{
		Open: func(c *Conn) { c.Write([]byte("hello\n")) },
		Data: func(c *Conn) {
			got <- string(c.Inbound())
			c.Consume(len(c.Inbound()))
		},
		Close: func(c *Conn, err error) { closed <- err },
	})
	cfg := p.clientConfig()
	cfg.Renegotiation = tls.RenegotiateOnceAsClient
	_, err := e.Dial(context.Background(), "tcp", addr, WithTLS(cfg))
	require.NoError(t, err)
	ossl.expect(t, "hello")
	io.WriteString(ossl.stdin, "before\n")
	select {
	case s := <-got:
		assert.Equal(t, "before\n", s)
	case <-time.After(10 * time.Second):
		t.Fatal("no data from the server")
	}
	io.WriteString(ossl.stdin, "r\n") // s_server sends a HelloRequest
	select {
	case err := <-closed:
		require.Error(t, err)
		assert.Contains(t, err.Error(), "renegotiation")
	case <-time.After(5 * time.Second):
		io.WriteString(ossl.stdin, "after\n")
		select {
		case s := <-got:
			t.Fatalf("neither refused nor closed; then got %q", s)
		case <-time.After(time.Second):
			t.Fatal("renegotiation neither refused nor closed: the connection hangs, the server's bytes dropped")
		}
	}
}

// TestTLSHandshakeInputInBudget: what connections buffer for their
// handshakes counts in the memory budget. Peers that send a first record
// and then junk, while the only handshake slot is taken, each made the
// loop buffer handshakeInputLimit and a read for the handshake timeout,
// unseen by MaxMemory (MemoryHeld said 0 with megabytes held): a crowd of
// them held what it liked. Counted, the budget pauses and closes them as
// it does any connection over its share.
func TestTLSHandshakeInputInBudget(t *testing.T) {
	const budget = 512 << 10
	const n = 16
	p := getPKI(t)
	// stallYield is a fortieth of the handshake timeout: 15 s, past this
	// test (at 20 s, it was half a second, within reach of a slow run).
	e, addr := startTLS(t, echo, Options{Loops: 1, MaxTLSHandshakes: 1, MaxMemory: budget,
		TLSHandshakeTimeout: 10 * time.Minute}, p.serverConfig())
	// A ClientHello that never ends holds the only handshake slot; it
	// yields it only after stallYield, past this test.
	hello := []byte{0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0x00, 0xff, 0xff}
	stall := dial(t, addr)
	_, err := stall.Write(hello)
	require.NoError(t, err)
	waitFor(t, "the stalled handshake to start", func() bool { return e.Stats().Accepted == 1 })

	var wg sync.WaitGroup
	for range n {
		c := dial(t, addr) // its cleanup closes it, which ends the write
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The first record alone, so that the junk comes in reads of
			// their own, which take the connection past its share.
			if _, err := c.Write(hello); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
			c.Write(make([]byte, 256<<10))
		}()
	}
	t.Cleanup(wg.Wait)
	// held is what the handshakes buffer, looked at on the loop.
	held := func() int64 {
		res := make(chan int64, 1)
		l := e.Loops()[0]
		require.NoError(t, l.Do(func() {
			var sum int64
			for c := range l.fds.all() {
				if st := c.aux.tls; st != nil && st.tr != nil {
					sum += int64(st.tr.held())
				}
			}
			res <- sum
		}))
		return <-res
	}
	waitFor(t, "the flood to be accepted", func() bool { return e.Stats().Accepted == n+1 })
	var last int64 = -1
	waitFor(t, "reading to settle", func() bool {
		time.Sleep(100 * time.Millisecond)
		h := held()
		settled := h == last
		last = h
		return settled
	})
	st := e.Stats()
	t.Logf("held for handshakes %d KiB, MemoryHeld %d KiB, paused %d, closed by the budget %d, open %d",
		last>>10, st.MemoryHeld>>10, st.MemoryPaused, st.MemoryClosed, st.Open)
	assert.LessOrEqual(t, last, int64(budget+handshakeInputLimit), "handshake input past the budget")
	assert.GreaterOrEqual(t, st.MemoryHeld, last, "handshake input not counted")
}

// TestTLSHandshakeInputReleased: the count of a handshake's input leaves
// MemoryHeld when the handshake ends, though nothing follows it. A
// server's last handshake read (the client's Finished) is followed by no
// write the loop would settle for, and the count stayed until the
// connection's next event, which then subtracted it from what it held.
func TestTLSHandshakeInputReleased(t *testing.T) {
	p := getPKI(t)
	e, addr := startTLS(t, echo, Options{Loops: 1}, p.serverConfig())
	for i := range 4 {
		dialTLS(t, addr, p.clientConfig()) // TLS 1.3: the client is done before the server
		waitFor(t, "the server's handshake to end", func() bool { return e.Stats().TLSHandshakes == int64(i+1) })
		waitFor(t, "the handshake's input to leave the count", func() bool { return e.Stats().MemoryHeld == 0 })
	}
}

// TestTLSHandshakeReset: a peer that resets the connection during the
// handshake fails it like any other handshake failure. A WithTLS dialer's
// OnClose gets a *TLSHandshakeError, as WithTLS says (it got the bare
// ECONNRESET, which errors.As could not tell from a reset after OnOpen),
// and an accepted connection's failure is logged once and counted; a
// probe that resets before sending a byte is still neither.
func TestTLSHandshakeReset(t *testing.T) {
	reset := func(c net.Conn) {
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
	}
	t.Run("dialed", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer ln.Close()
		go func() {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			c.Read(make([]byte, 4096)) // the ClientHello
			reset(c)
		}()
		e := newClientEngine(t)
		closed := make(chan error, 1)
		e.h.(*switchHandler).set(Funcs{
			Open:  func(c *Conn) { t.Error("opened") },
			Close: func(c *Conn, err error) { closed <- err },
		})
		_, err = e.Dial(context.Background(), "tcp", ln.Addr().String(), WithTLS(getPKI(t).clientConfig()))
		require.NoError(t, err)
		select {
		case err := <-closed:
			var he *TLSHandshakeError
			assert.ErrorAs(t, err, &he, "%v", err)
			assert.NotErrorIs(t, err, os.ErrDeadlineExceeded)
		case <-time.After(10 * time.Second):
			t.Fatal("no OnClose")
		}
		assert.EqualValues(t, 1, e.Stats().TLSHandshakeFailed)
	})
	t.Run("accepted", func(t *testing.T) {
		s := newBadPeerServer(t, Options{Loops: 1})
		probe := dial(t, s.addr)
		reset(probe)
		c := dial(t, s.addr)
		// A whole first record, so that the handshake starts and waits.
		_, err := c.Write([]byte{0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0x00, 0xff, 0xff})
		require.NoError(t, err)
		waitFor(t, "the handshake to start", func() bool { return s.e.Stats().Accepted == 3 })
		time.Sleep(20 * time.Millisecond)
		reset(c)
		waitFor(t, "both to go", func() bool { return s.e.Stats().Closed == 2 })
		s.stillServed(t)
		errs := s.logs.errors()
		require.Len(t, errs, 1, "logged once, the probe not")
		assert.EqualValues(t, 1, s.e.Stats().TLSHandshakeFailed)
	})
}

// TestTLSConfigCallbackPanics: a tls.Config callback that panics on what a
// peer sent (a server name, a certificate, a session ticket) closes that
// connection only, as a handler's panic does. It ran unprotected, on the
// handshake goroutine or, for a ticket that came after the handshake, on
// the loop: the panic took the whole process down.
func TestTLSConfigCallbackPanics(t *testing.T) {
	p := getPKI(t)
	t.Run("GetCertificate", func(t *testing.T) {
		cfg := &tls.Config{GetCertificate: func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
			if h.ServerName == "boom" {
				panic("a server name the application did not expect")
			}
			return &p.server, nil
		}}
		e, addr := startTLS(t, echo, Options{Loops: 1}, cfg)
		ccfg := p.clientConfig()
		ccfg.ServerName = "boom"
		d := &net.Dialer{Timeout: 5 * time.Second}
		_, err := tls.DialWithDialer(d, "tcp", addr, ccfg)
		require.Error(t, err)
		good := dialTLS(t, addr, p.clientConfig())
		assert.Equal(t, "still", string(roundTrip(t, good, []byte("still"))))
		assert.EqualValues(t, 1, e.Stats().TLSHandshakeFailed)
	})
	t.Run("VerifyPeerCertificate", func(t *testing.T) {
		addr := tlsGoServer(t, p.serverConfig(), goEcho)
		e := newClientEngine(t)
		cfg := p.clientConfig()
		cfg.VerifyPeerCertificate = func([][]byte, [][]*x509.Certificate) error {
			panic("a certificate the application did not expect")
		}
		r := dialEcho(t, e, addr, cfg, []byte("x"))
		assert.False(t, r.opened)
		var he *TLSHandshakeError
		var pe *PanicError
		assert.ErrorAs(t, r.err, &he, "%v", r.err)
		require.ErrorAs(t, r.err, &pe, "%v", r.err)
		assert.Equal(t, "a certificate the application did not expect", pe.Value)
	})
	t.Run("ClientSessionCache", func(t *testing.T) {
		// openssl s_server sends its TLS 1.3 session tickets once the
		// client's Finished is in: after the client's handshake, to the
		// loop's read.
		needTool(t, "openssl") // before the files: Wine cannot remove a skipped test's
		_, cert, key := p.files(t)
		ossl := startPeer(t, "openssl", "s_server", "-accept", "127.0.0.1:0", "-cert", cert, "-key", key,
			"-tls1_3", "-naccept", "1")
		addr := strings.TrimSpace(strings.TrimPrefix(ossl.expect(t, "ACCEPT "), "ACCEPT "))
		e := newClientEngine(t)
		cfg := p.clientConfig()
		cfg.ClientSessionCache = panicCache{}
		r := dialEcho(t, e, addr, cfg, []byte("x"))
		var pe *PanicError
		require.ErrorAs(t, r.err, &pe, "%v", r.err)
		assert.Equal(t, "no room for a session", pe.Value)
	})
}

// panicCache is a tls.ClientSessionCache whose Put panics.
type panicCache struct{}

func (panicCache) Get(string) (*tls.ClientSessionState, bool) { return nil, false }
func (panicCache) Put(string, *tls.ClientSessionState)        { panic("no room for a session") }
