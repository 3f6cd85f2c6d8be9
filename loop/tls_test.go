package loop

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTLSEchoGoClient: Go's crypto/tls client against ListenTLS, TLS 1.2
// and 1.3, with ALPN, small and 1 MiB messages; OnOpen sees the state.
func TestTLSEchoGoClient(t *testing.T) {
	p := getPKI(t)
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(v), func(t *testing.T) {
			states := make(chan tls.ConnectionState, 1)
			h := Funcs{
				Open: func(c *Conn) {
					st, ok := c.TLS()
					assert.True(t, ok)
					states <- st
				},
				Data: echo.Data,
			}
			cfg := p.serverConfig()
			cfg.NextProtos = []string{"evsel/1", "h2"}
			_, addr := startTLS(t, h, Options{Loops: 2}, cfg)
			ccfg := p.clientConfig()
			ccfg.MinVersion, ccfg.MaxVersion = v, v
			ccfg.NextProtos = []string{"evsel/1"}
			c := dialTLS(t, addr, ccfg)
			st := <-states
			assert.Equal(t, v, st.Version)
			assert.Equal(t, "evsel/1", st.NegotiatedProtocol)
			assert.Equal(t, "evsel/1", c.ConnectionState().NegotiatedProtocol)

			assert.Equal(t, []byte("hello"), roundTrip(t, c, []byte("hello")))
			big := make([]byte, 1<<20)
			rand.Read(big)
			assert.True(t, bytes.Equal(big, roundTrip(t, c, big)), "1 MiB echo differs")
		})
	}
}

// tlsGoServer runs a goroutine-per-connection crypto/tls echo server and
// returns its address; the handshake states go to states if not nil.
func tlsGoServer(t *testing.T, cfg *tls.Config, serve func(c *tls.Conn)) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	require.NoError(t, err)
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(20 * time.Second))
				serve(c.(*tls.Conn))
			}()
		}
	}()
	return ln.Addr().String()
}

func goEcho(c *tls.Conn) { io.Copy(c, c) }

// clientResult is what a test's dialed TLS connection reported.
type clientResult struct {
	state  tls.ConnectionState
	opened bool
	got    []byte
	err    error
}

// dialEcho dials addr with WithTLS(cfg), sends msg once open, waits until
// as many bytes came back, closes and reports.
func dialEcho(t *testing.T, e *Engine, addr string, cfg *tls.Config, msg []byte) clientResult {
	t.Helper()
	done := make(chan clientResult, 1)
	var res clientResult
	h := e.h.(*switchHandler)
	h.set(Funcs{
		Open: func(c *Conn) {
			res.opened = true
			res.state, _ = c.TLS()
			c.Write(msg)
		},
		Data: func(c *Conn) {
			res.got = append(res.got, c.Inbound()...)
			c.Consume(len(c.Inbound()))
			if len(res.got) >= len(msg) {
				c.Close()
			}
		},
		Close: func(c *Conn, err error) {
			res.err = err
			done <- res
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := e.Dial(ctx, "tcp", addr, WithTLS(cfg))
	require.NoError(t, err)
	select {
	case r := <-done:
		return r
	case <-time.After(20 * time.Second):
		t.Fatal("dialed TLS connection never closed")
		return res
	}
}

// switchHandler lets one engine serve a test's successive handlers.
type switchHandler struct {
	mu sync.Mutex
	h  Handler
}

func (s *switchHandler) set(h Handler) { s.mu.Lock(); s.h = h; s.mu.Unlock() }
func (s *switchHandler) get() Handler  { s.mu.Lock(); defer s.mu.Unlock(); return s.h }

func (s *switchHandler) OnOpen(c *Conn)             { s.get().OnOpen(c) }
func (s *switchHandler) OnData(c *Conn)             { s.get().OnData(c) }
func (s *switchHandler) OnClose(c *Conn, err error) { s.get().OnClose(c, err) }

func newClientEngine(t *testing.T) *Engine {
	return newClientEngineWith(t, Options{})
}

// newClientEngineWith is newClientEngine with opts (Loops and Logger set).
func newClientEngineWith(t *testing.T, opts Options) *Engine {
	opts.Loops, opts.Logger = 1, quietLog
	e, err := New(&switchHandler{h: Funcs{}}, opts)
	require.NoError(t, err)
	t.Cleanup(func() { stop(t, e) })
	return e
}

// echoPeerHighWater is the HighWater of a client engine that sends 1 MiB
// at once (dialEcho) to a peer that echoes as it reads (goEcho, Python's
// server): with the default, 1 MiB, the record overhead takes the output
// past it, the client stops reading until the output is down to LowWater,
// and the peer, blocked writing its echo, reads on only while the kernel's
// buffers take that echo: some 770 KiB, which they did with this machine's
// defaults and not with tcp_rmem/tcp_wmem of 16 KiB (128 KiB at most).
// Above the message, the client reads throughout, on any machine.
const echoPeerHighWater = 4 << 20

// TestTLSDialGoServer: WithTLS against Go's crypto/tls server, TLS 1.2 and
// 1.3, 1 MiB both ways, ALPN, session resumption (which in TLS 1.3 rides on
// NewSessionTicket, a post-handshake message the loop handles), and the
// close_notify the server answers ours with.
func TestTLSDialGoServer(t *testing.T) {
	p := getPKI(t)
	scfg := p.serverConfig()
	scfg.NextProtos = []string{"evsel/1"}
	addr := tlsGoServer(t, scfg, goEcho)
	e := newClientEngineWith(t, Options{HighWater: echoPeerHighWater})
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(v), func(t *testing.T) {
			cfg := p.clientConfig()
			cfg.ServerName = "" // WithTLS takes it from the address
			cfg.MinVersion, cfg.MaxVersion = v, v
			cfg.NextProtos = []string{"evsel/1"}
			cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
			big := make([]byte, 1<<20)
			rand.Read(big)
			r := dialEcho(t, e, addr, cfg, big)
			require.True(t, r.opened, "handshake failed: %v", r.err)
			assert.NoError(t, r.err)
			assert.Equal(t, v, r.state.Version)
			assert.Equal(t, "evsel/1", r.state.NegotiatedProtocol)
			assert.False(t, r.state.DidResume)
			assert.True(t, bytes.Equal(big, r.got), "1 MiB echo differs")

			r = dialEcho(t, e, addr, cfg, []byte("again"))
			require.True(t, r.opened, "handshake failed: %v", r.err)
			assert.True(t, r.state.DidResume, "session not resumed")
			assert.Equal(t, "again", string(r.got))
		})
	}
}

// TestTLSMutual: client certificates both ways round, and a client without
// one refused with an error crypto/tls's types explain.
func TestTLSMutual(t *testing.T) {
	p := getPKI(t)
	scfg := p.serverConfig()
	scfg.ClientAuth = tls.RequireAndVerifyClientCert
	scfg.ClientCAs = p.pool
	peers := make(chan int, 1)
	h := Funcs{Open: func(c *Conn) {
		st, _ := c.TLS()
		peers <- len(st.PeerCertificates)
	}, Data: echo.Data}
	_, addr := startTLS(t, h, Options{Loops: 1}, scfg)

	ccfg := p.clientConfig()
	ccfg.Certificates = []tls.Certificate{p.client}
	c := dialTLS(t, addr, ccfg)
	assert.Equal(t, "mutual", string(roundTrip(t, c, []byte("mutual"))))
	assert.Equal(t, 1, <-peers)

	// evsel as the client of a Go server that wants a certificate.
	gaddr := tlsGoServer(t, scfg, goEcho)
	e := newClientEngine(t)
	r := dialEcho(t, e, gaddr, ccfg, []byte("mtls"))
	assert.Equal(t, "mtls", string(r.got))
	// Without a certificate: the server says so with an alert (TLS 1.2,
	// where the client learns it during the handshake).
	ccfg = p.clientConfig()
	ccfg.MaxVersion = tls.VersionTLS12
	r = dialEcho(t, e, gaddr, ccfg, []byte("x"))
	assert.False(t, r.opened)
	var herr *TLSHandshakeError
	require.ErrorAs(t, r.err, &herr)
	var opErr *net.OpError
	assert.ErrorAs(t, r.err, &opErr, "the remote alert, as crypto/tls reports it")
}

// TestTLSBadCertificate: a client that does not trust the server fails its
// handshake with *tls.CertificateVerificationError.
func TestTLSBadCertificate(t *testing.T) {
	p := getPKI(t)
	addr := tlsGoServer(t, p.serverConfig(), goEcho)
	e := newClientEngine(t)
	r := dialEcho(t, e, addr, &tls.Config{ServerName: "localhost"}, []byte("x"))
	assert.False(t, r.opened)
	var verr *tls.CertificateVerificationError
	assert.ErrorAs(t, r.err, &verr)
}

// TestTLSCloseNotify: close_notify both ways, and a peer that closes TCP
// without one.
func TestTLSCloseNotify(t *testing.T) {
	p := getPKI(t)
	closed := make(chan error, 1)
	h := Funcs{
		Data: func(c *Conn) {
			if string(c.Inbound()) == "bye" {
				c.Write([]byte("ok"))
				c.Close()
			}
			c.Consume(len(c.Inbound()))
		},
		Close: func(c *Conn, err error) { closed <- err },
	}
	_, addr := startTLS(t, h, Options{Loops: 1}, p.serverConfig())

	t.Run("server closes", func(t *testing.T) {
		c := dialTLS(t, addr, p.clientConfig())
		c.SetDeadline(time.Now().Add(10 * time.Second))
		c.Write([]byte("bye"))
		got, err := io.ReadAll(c) // io.EOF only on close_notify
		assert.NoError(t, err)
		assert.Equal(t, "ok", string(got))
		assert.NoError(t, <-closed)
	})
	t.Run("client closes", func(t *testing.T) {
		c := dialTLS(t, addr, p.clientConfig())
		c.SetDeadline(time.Now().Add(10 * time.Second))
		require.NoError(t, c.CloseWrite()) // close_notify, socket still open
		assert.Equal(t, io.EOF, <-closed)
		// The engine answers with its own close_notify.
		_, err := c.Read(make([]byte, 1))
		assert.Equal(t, io.EOF, err)
	})
	t.Run("client drops TCP", func(t *testing.T) {
		c := dialTLS(t, addr, p.clientConfig())
		c.Write([]byte("partial"))
		c.NetConn().Close() // no close_notify
		err := <-closed
		assert.ErrorIs(t, err, ErrTLSNoCloseNotify)
		assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	})
}

// TestTLSDialWritesBeforeOpen: what a client writes before its handshake
// finishes goes out, encrypted, once it has.
func TestTLSDialWritesBeforeOpen(t *testing.T) {
	p := getPKI(t)
	addr := tlsGoServer(t, p.serverConfig(), goEcho)
	e := newClientEngine(t)
	got := make(chan string, 1)
	var buf []byte
	e.h.(*switchHandler).set(Funcs{Data: func(c *Conn) {
		buf = append(buf, c.Inbound()...)
		c.Consume(len(c.Inbound()))
		if len(buf) == 5 {
			got <- string(buf)
			c.Close()
		}
	}})
	c, err := e.Dial(context.Background(), "tcp", addr, WithTLS(p.clientConfig()))
	require.NoError(t, err)
	require.NoError(t, c.AsyncWrite([]byte("early")))
	select {
	case s := <-got:
		assert.Equal(t, "early", s)
	case <-time.After(10 * time.Second):
		t.Fatal("no echo")
	}
}

// TestTLSHandshakeErrorsUnwrap: a plaintext client fails the server's
// handshake with tls.RecordHeaderError, visible through errors.As in the
// one log line; the handler hears nothing of it.
func TestTLSHandshakeErrorsUnwrap(t *testing.T) {
	p := getPKI(t)
	var mu sync.Mutex
	var events []string
	h := Funcs{
		Open:  func(c *Conn) { mu.Lock(); events = append(events, "open"); mu.Unlock() },
		Close: func(c *Conn, err error) { mu.Lock(); events = append(events, "close"); mu.Unlock() },
	}
	logs := &logRecorder{}
	e, addr := startTLS(t, h, Options{Loops: 1, Logger: slog.New(logs)}, p.serverConfig())
	c := dial(t, addr)
	c.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	io.Copy(io.Discard, c) // the engine closes it
	waitFor(t, "the connection to go", func() bool { return e.Stats().Open == 0 })
	mu.Lock()
	assert.Empty(t, events)
	mu.Unlock()
	errs := logs.errors()
	require.Len(t, errs, 1, "logged once")
	var rh tls.RecordHeaderError
	assert.ErrorAs(t, &TLSHandshakeError{Err: errs[0]}, &rh)
}

// logRecorder is a slog.Handler keeping the "err" of every record.
type logRecorder struct {
	mu   sync.Mutex
	errs []error
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	rec.Attrs(func(a slog.Attr) bool {
		if err, ok := a.Value.Any().(error); ok && a.Key == "err" {
			r.mu.Lock()
			r.errs = append(r.errs, err)
			r.mu.Unlock()
		}
		return true
	})
	return nil
}
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *logRecorder) WithGroup(string) slog.Handler      { return r }

func (r *logRecorder) errors() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]error(nil), r.errs...)
}

func slogOf(h slog.Handler) *slog.Logger { return slog.New(h) }

// TestTLSDialOwnListenerOneSlot: with one handshake slot, a connection
// dialed with TLS to the engine's own TLS listener opens on both sides.
// Had the client's handshake, waiting on its server, held the only slot,
// the server's would have waited for it until TLSHandshakeTimeout.
func TestTLSDialOwnListenerOneSlot(t *testing.T) {
	p := getPKI(t)
	events := make(chan error, 4)
	h := Funcs{
		Open:  func(c *Conn) { events <- nil },
		Close: func(c *Conn, err error) { events <- err },
	}
	e, addr := startTLS(t, h, Options{Loops: 1, MaxTLSHandshakes: 1, TLSHandshakeTimeout: 30 * time.Second}, p.serverConfig())
	require.NoError(t, e.Loops()[0].Do(func() {
		if _, err := e.Dial(context.Background(), "tcp", addr, WithTLS(p.clientConfig())); err != nil {
			events <- err
		}
	}))
	for range 2 { // the dialed side and the accepted one
		select {
		case err := <-events:
			require.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Fatal("the handshakes wait on each other's slot")
		}
	}
}

// TestTLSEOFAfterClose: the peer's end of stream without close_notify,
// taken after the engine began closing (the io_uring driver's receive can
// complete then), does not make the close's reason ErrTLSNoCloseNotify:
// nothing that came after the close was wanted, so nothing was truncated.
func TestTLSEOFAfterClose(t *testing.T) {
	p := getPKI(t)
	closed := make(chan error, 1)
	h := Funcs{
		Data: func(c *Conn) {
			c.Consume(len(c.Inbound()))
			c.Close()
			// What the completion driver may deliver next: the peer's EOF.
			c.loop.tlsReceived(c, nil, io.EOF)
		},
		Close: func(c *Conn, err error) { closed <- err },
	}
	_, addr := startTLS(t, h, Options{Loops: 1}, p.serverConfig())
	c := dialTLS(t, addr, p.clientConfig())
	c.Write([]byte("bye"))
	err := <-closed
	assert.NotErrorIs(t, err, ErrTLSNoCloseNotify)
}
