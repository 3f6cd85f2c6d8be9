package loop

import (
	"crypto/tls"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTLSKeyLogWriterPanic: a tls.Config.KeyLogWriter that panics fails
// its handshake only, like the other callbacks (TestTLSConfigCallbackPanics),
// and later handshakes still complete. crypto/tls calls every KeyLogWriter
// under one process-wide mutex that it unlocks without defer: recovered
// there, the panic left that mutex locked, and every later handshake with
// a key log, in this engine or anywhere in the process, blocked on it for
// ever, holding its handshake goroutine.
func TestTLSKeyLogWriterPanic(t *testing.T) {
	p := getPKI(t)
	cfg := p.serverConfig()
	w := &panicOnceWriter{}
	cfg.KeyLogWriter = w
	e, addr := startTLS(t, echo, Options{Loops: 1, TLSHandshakeTimeout: 3 * time.Second}, cfg)
	d := &net.Dialer{Timeout: 5 * time.Second}
	_, err := tls.DialWithDialer(d, "tcp", addr, p.clientConfig())
	require.Error(t, err, "the handshake whose key log panicked")
	require.True(t, w.panicked.Load())

	done := make(chan error, 1)
	go func() {
		c, err := tls.DialWithDialer(d, "tcp", addr, p.clientConfig())
		if err == nil {
			c.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		assert.NoError(t, err, "a later handshake")
	case <-time.After(5 * time.Second):
		t.Fatal("a later handshake hangs: crypto/tls's key log mutex was left locked")
	}
	assert.EqualValues(t, 1, e.Stats().TLSHandshakeFailed)
}

// panicOnceWriter panics on its first Write.
type panicOnceWriter struct{ panicked atomic.Bool }

func (w *panicOnceWriter) Write(p []byte) (int, error) {
	if !w.panicked.Swap(true) {
		panic("no room for the key log")
	}
	return len(p), nil
}
