package loop

import (
	"bytes"
	"context"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSendFileDialBeforeConnect: a plaintext Dial'd connection given a
// file before its connect completes (Dial promises that output queued
// meanwhile is sent once connected). The connect's end must not drop the
// connection's aux record, which holds the file queue while flagFile is
// set: pumpFiles then dereferenced a nil aux and the loop panicked, taking
// the process down, on every driver.
func TestSendFileDialBeforeConnect(t *testing.T) {
	f, content := testFile(t, 300_000)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	received := readOnce(ln)
	reasons := make(chan error, 1)
	e, _ := start(t, Funcs{
		Close: func(c *Conn, err error) { reasons <- err },
	}, Options{})
	dialWithFile(t, e, ln.Addr().String(), f, func(c *Conn) { c.Close() })
	err = within(t, reasons, 10*time.Second, "no OnClose")
	require.NoError(t, err)
	got := <-received
	require.True(t, bytes.Equal(append(append([]byte("<"), content...), '>'), got), "got %d bytes", len(got))
}

// TestDialedConnIsSmall: a plain client, once connected, holds no aux
// record, as an accepted connection does not (endDial drops it when
// nothing but the dial was in it).
func TestDialedConnIsSmall(t *testing.T) {
	_, addr := start(t, echo, Options{})
	opened := make(chan bool, 1)
	e, _ := start(t, Funcs{Open: func(c *Conn) { opened <- c.aux == nil }}, Options{})
	_, err := e.Dial(context.Background(), "tcp", addr)
	require.NoError(t, err)
	small := within(t, opened, 10*time.Second, "no OnOpen")
	assert.True(t, small, "a connected client kept its aux record")
}

// dialWithFile dials addr from e's first loop and, on that loop before the
// connect (and any handshake) is done, queues "<", f whole and ">", then
// calls then(c) if it is not nil.
func dialWithFile(t *testing.T, e *Engine, addr string, f *os.File, then func(c *Conn), opts ...DialOption) {
	t.Helper()
	l := e.Loops()[0]
	require.NoError(t, l.Do(func() {
		c, err := e.Dial(context.Background(), "tcp", addr, append([]DialOption{WithLoop(l)}, opts...)...)
		if !assert.NoError(t, err) {
			return
		}
		c.Write([]byte("<"))
		assert.NoError(t, c.SendFile(f, 0, -1))
		c.Write([]byte(">"))
		if then != nil {
			then(c)
		}
	}))
}
