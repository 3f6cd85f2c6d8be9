package loop

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Hostile TLS peers beyond tls_bad_test.go's: records crypto/tls refuses
// by their header, and what a peer does after the handshake.

// TestTLSHostileOversizedFirstRecord: a first record whose header claims
// more than any TLS record may hold is refused at once, as crypto/tls
// refuses it, instead of holding the connection and its buffered bytes
// until the handshake timeout.
func TestTLSHostileOversizedFirstRecord(t *testing.T) {
	const timeout = 5 * time.Second
	s := newBadPeerServer(t, Options{Loops: 1, TLSHandshakeTimeout: timeout})
	c := dial(t, s.addr)
	junk := make([]byte, 5+1024)
	copy(junk, []byte{0x16, 0x03, 0x01, 0xff, 0xff})
	_, err := c.Write(junk)
	require.NoError(t, err)
	took := closedByServer(t, c, 2*timeout)
	assert.Less(t, took, timeout/2, "held until the handshake timeout")
	s.stillServed(t)
	errs := s.logs.errors()
	require.Len(t, errs, 1)
	var rh tls.RecordHeaderError
	assert.True(t, errors.As(errs[0], &rh), "crypto/tls's own error: %v", errs[0])
}

// TestTLSHostileAfterHandshake: after a good handshake, a record header
// claiming too much, and raw bytes after close_notify, each close that
// connection only; the handler hears of each close once.
func TestTLSHostileAfterHandshake(t *testing.T) {
	for _, tc := range []struct {
		name string
		act  func(c *tls.Conn, raw net.Conn)
	}{
		{"oversized record", func(c *tls.Conn, raw net.Conn) {
			raw.Write([]byte{0x17, 0x03, 0x03, 0xff, 0xff, 1, 2, 3})
		}},
		{"data after close_notify", func(c *tls.Conn, raw net.Conn) {
			c.CloseWrite()
			raw.Write(bytes.Repeat([]byte{0x17, 0x03, 0x03, 0x00, 0x10}, 100))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := getPKI(t)
			closes := make(chan error, 4)
			h := Funcs{Data: echo.Data, Close: func(c *Conn, err error) { closes <- err }}
			_, addr := startTLS(t, h, Options{Loops: 1, TLSHandshakeTimeout: 5 * time.Second}, p.serverConfig())
			good := dialTLS(t, addr, p.clientConfig())
			raw := dial(t, addr)
			c := tls.Client(raw, p.clientConfig())
			c.SetDeadline(time.Now().Add(10 * time.Second))
			require.NoError(t, c.Handshake())
			assert.Equal(t, "ok", string(roundTrip(t, c, []byte("ok"))))
			tc.act(c, raw)
			closedByServer(t, raw, 5*time.Second)
			select {
			case <-closes:
			case <-time.After(5 * time.Second):
				t.Fatal("no OnClose")
			}
			assert.Equal(t, "still", string(roundTrip(t, good, []byte("still"))))
			select {
			case err := <-closes:
				t.Fatalf("a second OnClose: %v", err)
			case <-time.After(50 * time.Millisecond):
			}
		})
	}
}

// coalescingConn gathers writes until flush, so that the server reads
// many records at once.
type coalescingConn struct {
	net.Conn
	mu  sync.Mutex // the handshake writes on a goroutine of its own
	buf []byte
}

func (c *coalescingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf = append(c.buf, p...)
	return len(p), nil
}

func (c *coalescingConn) flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, err := c.Conn.Write(c.buf)
	c.buf = c.buf[:0]
	return err
}

func (c *coalescingConn) buffered() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.buf)
}

// TestTLSHostileTinyRecords: thousands of one-byte records in one burst
// are all decrypted and handed over, in order.
func TestTLSHostileTinyRecords(t *testing.T) {
	p := getPKI(t)
	_, addr := startTLS(t, echo, Options{Loops: 1}, p.serverConfig())
	raw := dial(t, addr)
	cc := &coalescingConn{Conn: raw}
	c := tls.Client(cc, p.clientConfig())
	c.SetDeadline(time.Now().Add(20 * time.Second))
	hs := make(chan error, 1)
	go func() { hs <- c.Handshake() }()
	// The client's flights pass through cc: push them out as they come.
	for done := false; !done; {
		select {
		case err := <-hs:
			require.NoError(t, err)
			done = true
		case <-time.After(5 * time.Millisecond):
		}
		require.NoError(t, cc.flush())
	}
	const n = 5000
	want := make([]byte, n)
	for i := range want {
		want[i] = byte('a' + i%26)
		_, err := c.Write(want[i : i+1]) // one record each
		require.NoError(t, err)
	}
	require.Greater(t, cc.buffered(), n*20, "one record a byte")
	// The echo comes back while the burst (110 KB) goes out: with small
	// socket buffers a client that read only afterwards would leave both
	// directions' windows shut, the server's sends unread and its own stuck
	// behind them (seen with 4 KiB buffers: the server had read all the
	// kernel held, and closed on the record left incomplete).
	flushed := make(chan error, 1)
	go func() { flushed <- cc.flush() }()
	got := make([]byte, n)
	_, err := io.ReadFull(c, got)
	require.NoError(t, <-flushed)
	require.NoError(t, err)
	assert.Equal(t, want, got)
}

// TestTLSHostileUnreadClose: a server that closes with megabytes of
// records queued to a peer that never reads is cut at the linger deadline,
// close_notify and all, like a plaintext connection.
func TestTLSHostileUnreadClose(t *testing.T) {
	p := getPKI(t)
	h := Funcs{Open: func(c *Conn) {
		c.Write(make([]byte, 4<<20))
		c.Close()
	}}
	// Small socket buffers: the kernel cannot take the 4 MiB, whatever
	// the system's defaults.
	e, addr := startTLS(t, h, Options{Loops: 1, LingerTimeout: 300 * time.Millisecond, SocketWriteBuffer: smallSendBuffer}, p.serverConfig())
	dialTLSSmall(t, addr, p.clientConfig()) // and never read
	waitFor(t, "the linger cut", func() bool { return e.Stats().LingerClosed == 1 })
	waitFor(t, "the connection to go", func() bool { return e.Stats().Open == 0 })
}
