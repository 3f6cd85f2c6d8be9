package loop

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// endDelimited serves a protocol whose request ends where the peer's
// stream does: OnData leaves the bytes in Inbound, and OnEOF answers with
// the request, then, from another goroutine, "late" and a close.
func endDelimited(t *testing.T, reasons chan<- error) Funcs {
	return Funcs{
		Data: func(c *Conn) {}, // the request is whole only at its end
		EOF: func(c *Conn) {
			c.Write(c.Inbound())
			c.Consume(len(c.Inbound()))
			go func() {
				time.Sleep(20 * time.Millisecond)
				assert.NoError(t, c.AsyncWrite([]byte("late")))
				assert.NoError(t, c.AsyncClose(nil))
			}()
		},
		Close: func(c *Conn, err error) { reasons <- err },
	}
}

// TestOnEOFAnswersAfterPeerEnd: a client that sends its request and shuts
// its side down (Go's CloseWrite) gets the answer OnEOF writes, and one
// written later from another goroutine; the connection closes with
// io.EOF when the handler closes it.
func TestOnEOFAnswersAfterPeerEnd(t *testing.T) {
	reasons := make(chan error, 1)
	_, addr := start(t, endDelimited(t, reasons), Options{})
	c := dial(t, addr).(*net.TCPConn)
	req := pattern(300_000) // several reads: the request grows in Inbound
	go func() {
		c.Write(req)
		c.CloseWrite()
	}()
	got := readAll(t, c)
	require.True(t, bytes.Equal(append(req, "late"...), got), "got %d bytes", len(got))
	require.Equal(t, io.EOF, <-reasons)
}

// TestOnEOFPythonClient: the socket HOWTO's exchange with Python's socket
// module as the client: sendall, shutdown(SHUT_WR), then read to the end.
func TestOnEOFPythonClient(t *testing.T) {
	needTool(t, "python3")
	reasons := make(chan error, 1)
	_, addr := start(t, endDelimited(t, reasons), Options{})
	host, port, _ := net.SplitHostPort(addr)
	const script = `
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=20)
req = b"request " * 20000
s.sendall(req)
s.shutdown(socket.SHUT_WR)
got = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    got += b
s.close()
print("ok" if got == req + b"late" else "mismatch %d" % len(got))
`
	py := startPeer(t, "python3", "-c", script, host, port)
	require.NoError(t, py.wait(t), py.output())
	require.Equal(t, "ok", py.output())
	require.Equal(t, io.EOF, <-reasons)
}

// plainHandler is a Handler with no OnEOF.
type plainHandler struct{ reasons chan error }

func (plainHandler) OnOpen(*Conn) {}
func (plainHandler) OnData(c *Conn) {
	c.Write(c.Inbound())
	c.Consume(len(c.Inbound()))
}
func (h plainHandler) OnClose(_ *Conn, err error) { h.reasons <- err }

// TestPeerEndClosesWithoutOnEOF: without an EOFHandler, or with Funcs
// whose EOF is nil, the peer's end closes the connection once what was
// written before it is sent, as before half-closes were served.
func TestPeerEndClosesWithoutOnEOF(t *testing.T) {
	for name, h := range map[string]func(chan error) Handler{
		"Handler": func(r chan error) Handler { return plainHandler{r} },
		"Funcs": func(r chan error) Handler {
			return Funcs{Data: echo.Data, Close: func(_ *Conn, err error) { r <- err }}
		},
	} {
		t.Run(name, func(t *testing.T) {
			reasons := make(chan error, 1)
			_, addr := start(t, h(reasons), Options{})
			c := dial(t, addr).(*net.TCPConn)
			msg := pattern(100_000)
			go func() {
				c.Write(msg)
				c.CloseWrite()
			}()
			require.Equal(t, msg, readAll(t, c))
			require.Equal(t, io.EOF, <-reasons)
		})
	}
}

// TestOnEOFPanic: a panic in OnEOF closes that connection with a
// *PanicError; the engine serves the next.
func TestOnEOFPanic(t *testing.T) {
	reasons := make(chan error, 2)
	_, addr := start(t, Funcs{
		Data:  echo.Data,
		EOF:   func(c *Conn) { panic("eof") },
		Close: func(c *Conn, err error) { reasons <- err },
	}, Options{})
	c := dial(t, addr).(*net.TCPConn)
	require.NoError(t, c.CloseWrite())
	readAll(t, c)
	var perr *PanicError
	require.ErrorAs(t, <-reasons, &perr)
	require.Equal(t, []byte("x"), roundTrip(t, dial(t, addr), []byte("x")))
}

// TestOnEOFAfterResume: an end that comes while the handler has paused
// reading waits for ResumeReading: OnData gets the bytes before it, then
// OnEOF comes.
func TestOnEOFAfterResume(t *testing.T) {
	events := make(chan string, 16)
	_, addr := start(t, Funcs{
		Data: func(c *Conn) {
			events <- "data " + string(c.Inbound())
			c.Consume(len(c.Inbound()))
			if c.Data() == nil {
				c.SetData(true)
				c.PauseReading()
				go func() {
					time.Sleep(100 * time.Millisecond) // the rest and the end arrive
					c.Do(func(c *Conn) { c.ResumeReading() })
				}()
			}
		},
		EOF: func(c *Conn) {
			events <- "eof"
			c.Write([]byte("done"))
			c.Close()
		},
	}, Options{})
	c := dial(t, addr).(*net.TCPConn)
	_, err := c.Write([]byte("a"))
	require.NoError(t, err)
	require.Equal(t, "data a", <-events)
	_, err = c.Write([]byte("b"))
	require.NoError(t, err)
	require.NoError(t, c.CloseWrite())
	require.Equal(t, []byte("done"), readAll(t, c))
	require.Equal(t, "data b", <-events)
	require.Equal(t, "eof", <-events)
}

// TestCloseWrite: the server ends its side after a large answer; the
// client reads all of it, then the end, and its own bytes still reach
// the server, which can no longer write; the client's end then closes
// the connection.
func TestCloseWrite(t *testing.T) {
	answer := pattern(2 << 20)
	got := make(chan string, 4)
	reasons := make(chan error, 1)
	_, addr := start(t, Funcs{
		Open: func(c *Conn) {
			c.Write(answer)
			assert.NoError(t, c.CloseWrite())
			assert.NoError(t, c.CloseWrite()) // again: nothing more
			_, err := c.Write([]byte("no"))
			assert.ErrorIs(t, err, ErrClosed)
		},
		Data: func(c *Conn) {
			got <- string(c.Inbound())
			c.Consume(len(c.Inbound()))
			_, err := c.Write([]byte("no"))
			assert.ErrorIs(t, err, ErrClosed)
		},
		Close: func(c *Conn, err error) { reasons <- err },
	}, Options{})
	c := dial(t, addr)
	require.True(t, bytes.Equal(answer, readAll(t, c)))
	_, err := c.Write([]byte("still here"))
	require.NoError(t, err)
	require.Equal(t, "still here", <-got)
	require.NoError(t, c.(*net.TCPConn).CloseWrite())
	require.Equal(t, io.EOF, <-reasons)
}

// TestCloseWriteAfterFile: the end follows a queued file's bytes.
func TestCloseWriteAfterFile(t *testing.T) {
	f, content := testFile(t, 1<<20+3)
	_, addr := start(t, Funcs{Open: func(c *Conn) {
		assert.NoError(t, c.SendFile(f, 0, -1))
		assert.NoError(t, c.CloseWrite())
		assert.ErrorIs(t, c.SendFile(f, 0, 1), ErrClosed)
	}}, Options{})
	require.True(t, bytes.Equal(content, readAll(t, dial(t, addr))))
}

// TestCloseWriteDial: CloseWrite on a Dial'd connection before it is up
// waits for the connect and the bytes written before it; the server (Go's
// net) reads them and the end, and its answer still comes back.
func TestCloseWriteDial(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	served := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			served <- nil
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		req, _ := io.ReadAll(c)
		c.Write(append([]byte("re: "), req...))
		served <- req
	}()
	answers := make(chan string, 4)
	reasons := make(chan error, 1)
	e := newClientEngine(t)
	e.h.(*switchHandler).set(Funcs{
		Data: func(c *Conn) {
			answers <- string(c.Inbound())
			c.Consume(len(c.Inbound()))
		},
		Close: func(c *Conn, err error) { reasons <- err },
	})
	c, err := e.Dial(context.Background(), "tcp", ln.Addr().String())
	require.NoError(t, err)
	require.NoError(t, c.Do(func(c *Conn) {
		c.Write([]byte("request"))
		assert.NoError(t, c.CloseWrite())
	}))
	require.Equal(t, []byte("request"), <-served)
	var answer string
	for answer != "re: request" {
		answer += <-answers
	}
	require.Equal(t, io.EOF, <-reasons)
}

// TestHalfCloseTLS: with crypto/tls's client, both ways. The client's
// close_notify (its CloseWrite) reaches OnEOF, whose answer the client
// reads; then the server's CloseWrite sends close_notify, which the client
// reads as the end, and TLS 1.3 lets the client write after it.
func TestHalfCloseTLS(t *testing.T) {
	pki := getPKI(t)
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(v), func(t *testing.T) {
			reasons := make(chan error, 1)
			_, addr := startTLS(t, endDelimited(t, reasons), Options{}, pki.serverConfig())
			cfg := pki.clientConfig()
			cfg.MinVersion, cfg.MaxVersion = v, v
			c := dialTLS(t, addr, cfg)
			req := pattern(100_000)
			go func() {
				c.Write(req)
				c.CloseWrite()
			}()
			got := readAllTLS(t, c)
			require.True(t, bytes.Equal(append(req, "late"...), got), "got %d bytes", len(got))
			require.Equal(t, io.EOF, <-reasons)
		})
	}
	t.Run("server CloseWrite", func(t *testing.T) {
		got := make(chan string, 4)
		reasons := make(chan error, 1)
		_, addr := startTLS(t, Funcs{
			Open: func(c *Conn) {
				c.Write([]byte("hello"))
				assert.NoError(t, c.CloseWrite())
			},
			Data: func(c *Conn) {
				got <- string(c.Inbound())
				c.Consume(len(c.Inbound()))
			},
			Close: func(c *Conn, err error) { reasons <- err },
		}, Options{}, pki.serverConfig())
		cfg := pki.clientConfig()
		cfg.MinVersion = tls.VersionTLS13
		c := dialTLS(t, addr, cfg)
		require.Equal(t, []byte("hello"), readAllTLS(t, c))
		_, err := c.Write([]byte("after"))
		require.NoError(t, err)
		require.Equal(t, "after", <-got)
		require.NoError(t, c.CloseWrite())
		require.Equal(t, io.EOF, <-reasons)
	})
}

// TestOnEOFIdleTimeout: a half-closed connection the handler leaves open
// is bounded by the idle timeout like any other.
func TestOnEOFIdleTimeout(t *testing.T) {
	reasons := make(chan error, 1)
	_, addr := start(t, Funcs{
		EOF:   func(c *Conn) {}, // neither answers nor closes
		Close: func(c *Conn, err error) { reasons <- err },
	}, Options{IdleTimeout: 200 * time.Millisecond})
	c := dial(t, addr).(*net.TCPConn)
	require.NoError(t, c.CloseWrite())
	err := within(t, reasons, 10*time.Second, "the half-closed connection was never closed")
	require.True(t, errors.Is(err, ErrIdleTimeout), "%v", err)
	readAll(t, c)
}

// TestCloseWriteRefusals: CloseWrite on a closing connection returns
// ErrClosed; after OnEOF, with both sides then ended, it closes.
func TestCloseWriteRefusals(t *testing.T) {
	reasons := make(chan error, 2)
	_, addr := start(t, Funcs{
		Data: func(c *Conn) {
			c.Consume(len(c.Inbound()))
			assert.NoError(t, c.Close())
			assert.ErrorIs(t, c.CloseWrite(), ErrClosed)
		},
		EOF:   func(c *Conn) { assert.NoError(t, c.CloseWrite()) },
		Close: func(c *Conn, err error) { reasons <- err },
	}, Options{})
	c := dial(t, addr)
	_, err := c.Write([]byte("x"))
	require.NoError(t, err)
	require.Empty(t, readAll(t, c))
	require.NoError(t, <-reasons)

	c = dial(t, addr)
	require.NoError(t, c.(*net.TCPConn).CloseWrite())
	require.Empty(t, readAll(t, c), "OnEOF's CloseWrite closed it")
	require.Equal(t, io.EOF, <-reasons)
}
