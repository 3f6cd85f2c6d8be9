package loop

import (
	"bytes"
	"crypto/tls"
	"errors"
	"net"
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
