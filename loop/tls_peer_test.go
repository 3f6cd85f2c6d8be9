package loop

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"os"
	"strings"
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
