package loop

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evsel/evsel/internal/sockettest"
)

// TestSendFileLowWaterIsHighWater: Options allow LowWater == HighWater.
// The copy path (io_uring's; TLS adds record overhead that happens to step
// past HighWater) fills the output to HighWater and then, with a send in
// flight or the socket full, must wait for it; it must not spin on the
// loop.
func TestSendFileLowWaterIsHighWater(t *testing.T) {
	f, content := testFile(t, 4<<20)
	_, addr := start(t, fileServer(t, f, 0, -1, nil),
		Options{HighWater: 64 << 10, LowWater: 64 << 10, SocketWriteBuffer: smallSendBuffer})
	c := dialSmall(t, addr) // the socket fills whatever the system's defaults
	_, err := c.Write([]byte("a\nbye\n"))
	require.NoError(t, err)
	time.Sleep(100 * time.Millisecond) // the socket fills
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	got, err := io.ReadAll(c)
	require.NoError(t, err, "got %d of %d bytes", len(got), len(content)+2)
	require.True(t, bytes.Equal(append(append([]byte("<"), content...), '>'), got))
}

// TestSendFileDialTLSBeforeOpen: a Dial'd TLS connection given a file
// before its handshake is done (Dial promises that writes made before
// then are sent once it is) must still complete its handshake, which
// needs to read; then the file follows what was written before it.
func TestSendFileDialTLSBeforeOpen(t *testing.T) {
	f, content := testFile(t, 300_000)
	pki := getPKI(t)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", pki.serverConfig())
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	received := readOnce(ln)
	reasons := make(chan error, 1)
	// The file passes HighWater: its bytes must not pause the reads the
	// handshake needs.
	e, _ := start(t, Funcs{
		Open:  func(c *Conn) { c.Close() },
		Close: func(c *Conn, err error) { reasons <- err },
	}, Options{TLSHandshakeTimeout: 3 * time.Second, HighWater: 64 << 10})
	dialWithFile(t, e, ln.Addr().String(), f, nil, WithTLS(pki.clientConfig()))
	err = within(t, reasons, 10*time.Second, "no OnClose")
	require.NoError(t, err)
	got := <-received
	require.True(t, bytes.Equal(append(append([]byte("<"), content...), '>'), got), "got %d bytes", len(got))
}

// TestSendFileNotifyDrained: Buffered counts a queued file, and
// NotifyDrained promises OnDrained once the pending output is at or below
// LowWater, so a handler that pauses another side at a mark of Buffered
// (flow.go's proxy) must not be told "drained" while the file is all
// still to send.
func TestSendFileNotifyDrained(t *testing.T) {
	f, _ := testFile(t, 8<<20)
	const lowWater = 64 << 10
	drained := make(chan int, 4)
	_, addr := start(t, Funcs{
		Open: func(c *Conn) { c.SetWriteBuffer(16 << 10) },
		Data: func(c *Conn) {
			c.Consume(len(c.Inbound()))
			assert.NoError(t, c.SendFile(f, 0, -1))
			c.NotifyDrained()
		},
		Drained: func(c *Conn) { drained <- c.Buffered() },
	}, Options{HighWater: 256 << 10, LowWater: lowWater})
	c := dialSmall(t, addr) // with the 16 KiB send buffer, the kernel cannot take the 8 MiB
	_, err := c.Write([]byte("x"))
	require.NoError(t, err)
	select {
	case n := <-drained:
		t.Fatalf("OnDrained with %d bytes still buffered (LowWater %d), the peer not reading", n, lowWater)
	case <-time.After(500 * time.Millisecond):
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		io.CopyN(io.Discard, c, 8<<20)
	}()
	n := within(t, drained, 20*time.Second, "no OnDrained")
	require.LessOrEqual(t, n, lowWater)
	<-done
}

// TestSendFileWriteBehindNotOverflow: a Write made behind a file is
// accepted (MaxOutput counts what is pending in memory), so moving it to
// the output once the file is out must not close the connection with
// ErrOutputOverflow: the bytes Write took would be lost. The copy path
// (TLS here, io_uring always) leaves up to HighWater of the file pending
// when the file ends.
func TestSendFileWriteBehindNotOverflow(t *testing.T) {
	f, content := testFile(t, 60<<10)
	after := bytes.Repeat([]byte("z"), 70<<10)
	pki := getPKI(t)
	reasons := make(chan error, 1)
	_, addr := startTLS(t, Funcs{
		Open: func(c *Conn) { c.SetWriteBuffer(4096) },
		Data: func(c *Conn) {
			c.Consume(len(c.Inbound()))
			assert.NoError(t, c.SendFile(f, 0, -1))
			_, err := c.Write(after)
			assert.NoError(t, err)
			c.Close()
		},
		Close: func(c *Conn, err error) { reasons <- err },
	}, Options{HighWater: 64 << 10, LowWater: 16 << 10, MaxOutput: 100 << 10}, pki.serverConfig())
	c, err := tls.DialWithDialer(sockettest.SmallBufferDialer(), "tcp", addr, pki.clientConfig())
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	_, err = c.Write([]byte("x"))
	require.NoError(t, err)
	time.Sleep(200 * time.Millisecond) // the socket fills
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	got, err := io.ReadAll(c)
	assert.NoError(t, err)
	require.NoError(t, <-reasons)
	require.True(t, bytes.Equal(append(append([]byte(nil), content...), after...), got), "got %d bytes", len(got))
}

// TestSendFileDialTLSClosedDuringHandshake: a Dial'd TLS connection
// closed while its handshake is under way drops what was written
// meanwhile (WithTLS says so); the file queued between two such writes
// must go with them, not reach the peer without the bytes written before
// it, and it closes at once, as it does without a file. The server
// answers the handshake only after the close.
func TestSendFileDialTLSClosedDuringHandshake(t *testing.T) {
	f, _ := testFile(t, 300_000)
	pki := getPKI(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	received := make(chan []byte, 1)
	closed := make(chan struct{}) // the client's Close has been called
	go func() {
		raw, err := ln.Accept()
		if err != nil {
			received <- nil
			return
		}
		select {
		case <-closed:
		case <-time.After(10 * time.Second):
		}
		sc := tls.Server(raw, pki.serverConfig())
		defer sc.Close()
		sc.SetReadDeadline(time.Now().Add(10 * time.Second))
		got, _ := io.ReadAll(sc) // no close_notify: an error, and what came
		received <- got
	}()
	reasons := make(chan error, 1)
	e, _ := start(t, Funcs{Close: func(c *Conn, err error) { reasons <- err }},
		Options{TLSHandshakeTimeout: 20 * time.Second})
	dialWithFile(t, e, ln.Addr().String(), f, func(c *Conn) {
		c.Loop().AfterFunc(100*time.Millisecond, func() {
			assert.NotZero(t, c.flags&flagHandshake, "the handshake is under way")
			c.Close()
			close(closed)
		})
	}, WithTLS(pki.clientConfig()))
	// A connection closed before OnOpen gets no OnClose (nil reason, never
	// open): the server's end of stream says it is gone, which must come
	// with the close, not at TLSHandshakeTimeout (20 s).
	got := within(t, received, 10*time.Second, "the connection was not closed by Close")
	require.Empty(t, got, "the peer got %d bytes of a connection closed before it opened", len(got))
	select {
	case err := <-reasons:
		t.Fatalf("OnClose(%v) for a Dial closed before OnOpen", err)
	default:
	}
}

// TestSendFileDialTLSHandshakeFails: a Dial'd TLS connection with a file
// queued whose handshake fails (the server's certificate is not trusted)
// closes with crypto/tls's error as soon as it fails, not at
// TLSHandshakeTimeout, and its file's descriptor is closed (the leak
// check).
func TestSendFileDialTLSHandshakeFails(t *testing.T) {
	f, _ := testFile(t, 300_000)
	pki := getPKI(t)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", pki.serverConfig())
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		sc, err := ln.Accept()
		if err != nil {
			return
		}
		defer sc.Close()
		sc.SetDeadline(time.Now().Add(10 * time.Second))
		io.Copy(io.Discard, sc)
	}()
	reasons := make(chan error, 1)
	e, _ := start(t, Funcs{Close: func(c *Conn, err error) { reasons <- err }},
		Options{TLSHandshakeTimeout: 8 * time.Second})
	l := e.Loops()[0]
	require.NoError(t, l.Do(func() {
		c, err := e.Dial(context.Background(), "tcp", ln.Addr().String(), WithLoop(l),
			WithTLS(&tls.Config{ServerName: "localhost"})) // the system roots: not the test CA
		if !assert.NoError(t, err) {
			return
		}
		assert.NoError(t, c.SendFile(f, 0, -1))
	}))
	err = within(t, reasons, 5*time.Second, "no OnClose within 5 s of a handshake that fails at once")
	var he *TLSHandshakeError
	require.ErrorAs(t, err, &he)
	require.NotErrorIs(t, err, ErrTLSHandshakeTimeout)
}
