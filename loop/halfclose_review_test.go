package loop

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"sync"
	"testing"
	"time"

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
	raw := dial(t, addr)
	bc := &batchConn{Conn: raw}
	cfg := pki.clientConfig()
	cfg.MinVersion = tls.VersionTLS13
	c := tls.Client(bc, cfg)
	require.NoError(t, c.Handshake())
	_, err := c.Write([]byte("request"))
	require.NoError(t, err)
	require.NoError(t, c.CloseWrite())
	require.NoError(t, raw.SetWriteDeadline(time.Time{})) // CloseWrite set one
	require.NoError(t, bc.flush())
	require.NoError(t, c.SetReadDeadline(time.Now().Add(20*time.Second)))
	got, err := io.ReadAll(c)
	require.NoError(t, err)
	require.True(t, bytes.Equal([]byte("requestlate"), got), "got %q", got)
	require.Equal(t, io.EOF, <-reasons)
}
