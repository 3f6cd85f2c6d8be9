package loop

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// batchConn holds what a client writes until it reads or flush is called,
// so that bytes written one after another reach the peer in one write.
type batchConn struct {
	net.Conn
	mu  sync.Mutex
	buf []byte
}

func (b *batchConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (b *batchConn) flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, err := b.Conn.Write(b.buf)
	b.buf = nil
	return err
}

// closeWriteAndRead ends c's side, over b, with what b holds in the same
// segment as the close_notify, and reads to the server's end.
func (b *batchConn) closeWriteAndRead(t *testing.T, c *tls.Conn) []byte {
	t.Helper()
	require.NoError(t, c.CloseWrite())
	require.NoError(t, b.SetWriteDeadline(time.Time{})) // CloseWrite set one
	require.NoError(t, b.flush())
	require.NoError(t, c.SetReadDeadline(time.Now().Add(20*time.Second)))
	got, err := io.ReadAll(c)
	require.NoError(t, err)
	return got
}

func (b *batchConn) Read(p []byte) (int, error) {
	if err := b.flush(); err != nil {
		return 0, err
	}
	return b.Conn.Read(p)
}

// TestOnEOFWithHandshakeEnd: a TLS 1.3 client whose Finished, request and
// close_notify reach the server in one segment. The close_notify is found
// with the end of the handshake; OnEOF is called, and the connection must
// stay open for the answer written later, the reason io.EOF, not
// ErrTLSNoCloseNotify.
func TestOnEOFWithHandshakeEnd(t *testing.T) {
	pki := getPKI(t)
	reasons := make(chan error, 1)
	_, addr := startTLS(t, endDelimited(t, reasons), Options{}, pki.serverConfig())
	bc := &batchConn{Conn: dial(t, addr)}
	cfg := pki.clientConfig()
	cfg.MinVersion = tls.VersionTLS13
	c := tls.Client(bc, cfg)
	require.NoError(t, c.Handshake())
	_, err := c.Write([]byte("request"))
	require.NoError(t, err)
	got := bc.closeWriteAndRead(t, c)
	require.True(t, bytes.Equal([]byte("requestlate"), got), "got %q", got)
	require.Equal(t, io.EOF, <-reasons)
}

// holdProxy relays one connection between a client and the engine at
// target; once hold is called, what the engine sends is kept from the
// client, and shut is closed when the engine's side of the stream ends.
type holdProxy struct {
	addr string
	held atomic.Bool
	shut chan struct{}
}

func startHoldProxy(t *testing.T, target string) *holdProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	p := &holdProxy{addr: ln.Addr().String(), shut: make(chan struct{})}
	go func() {
		client, err := ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", target)
		if err != nil {
			client.Close()
			return
		}
		t.Cleanup(func() { client.Close(); server.Close() })
		go func() {
			// Hidden types: no splice(2), whose pipes Go keeps in a pool
			// that the descriptor leak check would report.
			io.Copy(struct{ io.Writer }{server}, struct{ io.Reader }{client})
			server.(*net.TCPConn).CloseWrite()
		}()
		buf := make([]byte, 64<<10)
		for {
			n, err := server.Read(buf)
			if n > 0 && !p.held.Load() {
				client.Write(buf[:n])
			}
			if err != nil {
				close(p.shut)
				return
			}
		}
	}()
	return p
}

// TestCloseWriteTLSKeyUpdate: after the server's CloseWrite (close_notify,
// then the socket's shutdown) a TLS 1.3 client goes on sending, and asks
// for a KeyUpdate (openssl s_client's K). Nothing may be sent after the
// close_notify: crypto/tls's answer, written to a socket already shut,
// failed it (EPIPE) and the client's later bytes were lost.
func TestCloseWriteTLSKeyUpdate(t *testing.T) {
	needTool(t, "openssl")
	p := getPKI(t)
	ca, _, _ := p.files(t)
	got := make(chan string, 16)
	reasons := make(chan error, 1)
	_, addr := startTLS(t, Funcs{
		Data: func(c *Conn) {
			in := string(c.Inbound())
			c.Consume(len(in))
			got <- in
			if strings.Contains(in, "close") {
				assert.NoError(t, c.CloseWrite())
			}
		},
		Close: func(c *Conn, err error) { reasons <- err },
	}, Options{Loops: 1}, p.serverConfig())
	proxy := startHoldProxy(t, addr)
	ossl := startPeer(t, "openssl", "s_client", "-connect", proxy.addr, "-CAfile", ca,
		"-servername", "localhost", "-tls1_3", "-verify_return_error")
	ossl.expect(t, "Verify return code: 0 (ok)")
	received := ""
	waitGot := func(s string) {
		t.Helper()
		timeout := time.After(20 * time.Second)
		for !strings.Contains(received, s) {
			select {
			case in := <-got:
				received += in
			case err := <-reasons:
				t.Fatalf("closed (%v) before %q came; got %q", err, s, received)
			case <-timeout:
				t.Fatalf("%q never came; got %q", s, received)
			}
		}
	}
	io.WriteString(ossl.stdin, "hello\n")
	waitGot("hello\n")
	proxy.held.Store(true) // s_client must not see the close_notify and exit
	io.WriteString(ossl.stdin, "close\n")
	waitGot("close\n")
	select {
	case <-proxy.shut:
	case <-time.After(20 * time.Second):
		t.Fatal("the server never ended its side")
	}
	io.WriteString(ossl.stdin, "K\n") // KeyUpdate, update_requested
	ossl.expect(t, "KEYUPDATE")       // s_client drops the rest of a K line's read
	io.WriteString(ossl.stdin, "after\n")
	waitGot("after\n")
	ossl.stdin.Close() // s_client sends close_notify and exits
	err := within(t, reasons, 20*time.Second, "the connection did not close at the client's end")
	require.Equal(t, io.EOF, err)
}

// TestOnEOFWaitsForRepause: the end of a stream held by PauseReading
// waits for the input that came before it. A handler that pauses again in
// the OnData ResumeReading brings, leaving that input in Inbound, gets
// OnEOF only after its next ResumeReading's OnData, not before it.
func TestOnEOFWaitsForRepause(t *testing.T) {
	pki := getPKI(t)
	events := make(chan string, 16)
	resumeLater := func(c *Conn) {
		c.PauseReading()
		go func() {
			time.Sleep(50 * time.Millisecond)
			c.Do(func(c *Conn) { c.ResumeReading() })
		}()
	}
	_, addr := startTLS(t, Funcs{
		Data: func(c *Conn) {
			n, _ := c.Data().(int)
			c.SetData(n + 1)
			events <- "data " + string(c.Inbound())
			switch n {
			case 0: // "ab", with the close_notify behind it
				c.Consume(1)
				resumeLater(c)
			case 1: // "b" again: not yet
				resumeLater(c)
			default:
				c.Consume(len(c.Inbound()))
			}
		},
		EOF: func(c *Conn) {
			events <- "eof " + string(c.Inbound())
			c.Write([]byte("done"))
			c.Close()
		},
	}, Options{}, pki.serverConfig())
	bc := &batchConn{Conn: dial(t, addr)}
	cfg := pki.clientConfig()
	c := tls.Client(bc, cfg)
	require.NoError(t, c.Handshake())
	bc.flush()
	time.Sleep(50 * time.Millisecond) // the handshake's end apart from the rest
	c.Write([]byte("a"))
	c.Write([]byte("b"))
	got := bc.closeWriteAndRead(t, c)
	require.Equal(t, "done", string(got))
	var seen []string
	for len(seen) < 4 {
		select {
		case e := <-events:
			seen = append(seen, e)
		case <-time.After(10 * time.Second):
			t.Fatalf("events: %q", seen)
		}
	}
	require.Equal(t, []string{"data ab", "data b", "data b", "eof "}, seen)
}

// TestCloseWriteDialTLS: CloseWrite on a Dial'd TLS connection before its
// handshake: the bytes written before it, then close_notify, then the
// FIN reach Go's TLS server, whose answer (and close_notify) still come
// back; TLS 1.2 and 1.3.
func TestCloseWriteDialTLS(t *testing.T) {
	p := getPKI(t)
	served := make(chan []byte, 2)
	addr := tlsGoServer(t, p.serverConfig(), func(c *tls.Conn) {
		req, err := io.ReadAll(c) // to the close_notify
		if err != nil {
			served <- nil
			return
		}
		c.Write(append([]byte("re: "), req...))
		c.CloseWrite()
		served <- req
	})
	e := newClientEngine(t)
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(v), func(t *testing.T) {
			answers := make(chan string, 16)
			reasons := make(chan error, 1)
			e.h.(*switchHandler).set(Funcs{
				Data: func(c *Conn) {
					answers <- string(c.Inbound())
					c.Consume(len(c.Inbound()))
				},
				Close: func(c *Conn, err error) { reasons <- err },
			})
			cfg := p.clientConfig()
			cfg.MinVersion, cfg.MaxVersion = v, v
			c, err := e.Dial(context.Background(), "tcp", addr, WithTLS(cfg))
			require.NoError(t, err)
			require.NoError(t, c.Do(func(c *Conn) {
				c.Write([]byte("request"))
				assert.NoError(t, c.CloseWrite())
			}))
			require.Equal(t, []byte("request"), <-served)
			// OnData comes before it
			err = within(t, reasons, 20*time.Second, "the connection did not close")
			require.Equal(t, io.EOF, err)
			var answer string
			for len(answers) > 0 {
				answer += <-answers
			}
			require.Equal(t, "re: request", answer)
		})
	}
}

// TestCloseWriteTLSFile: on TLS, the close_notify and the end follow a
// queued file and what was written behind it; the client's bytes still
// come in afterwards.
func TestCloseWriteTLSFile(t *testing.T) {
	f, content := testFile(t, 1<<20+3)
	pki := getPKI(t)
	got := make(chan string, 4)
	reasons := make(chan error, 1)
	_, addr := startTLS(t, Funcs{
		Open: func(c *Conn) {
			c.Write([]byte("<"))
			assert.NoError(t, c.SendFile(f, 0, -1))
			c.Write([]byte(">"))
			assert.NoError(t, c.CloseWrite())
		},
		Data: func(c *Conn) {
			got <- string(c.Inbound())
			c.Consume(len(c.Inbound()))
		},
		Close: func(c *Conn, err error) { reasons <- err },
	}, Options{HighWater: 64 << 10, SocketWriteBuffer: smallSendBuffer}, pki.serverConfig())
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		cfg := pki.clientConfig()
		cfg.MinVersion, cfg.MaxVersion = v, v
		c := dialTLSSmall(t, addr, cfg)
		time.Sleep(50 * time.Millisecond) // the server meets a full socket (small buffers)
		want := append(append([]byte("<"), content...), '>')
		require.True(t, bytes.Equal(want, readAllTLS(t, c)))
		if v == tls.VersionTLS13 {
			_, err := c.Write([]byte("after"))
			require.NoError(t, err)
			require.Equal(t, "after", <-got)
		}
		require.NoError(t, c.CloseWrite())
		require.Equal(t, io.EOF, <-reasons)
	}
}
