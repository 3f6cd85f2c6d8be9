package loop

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The engine's guarantees hold for TLS connections as for plaintext ones:
// Stop, idle timeouts, backpressure, AsyncWrite.

func TestTLSStopSendsCloseNotify(t *testing.T) {
	p := getPKI(t)
	e, addr := startTLS(t, echo, Options{Loops: 1}, p.serverConfig())
	c := dialTLS(t, addr, p.clientConfig())
	assert.Equal(t, "x", string(roundTrip(t, c, []byte("x"))))
	stop(t, e)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := c.Read(make([]byte, 1))
	assert.Equal(t, io.EOF, err, "crypto/tls says io.EOF only for close_notify")
}

func TestTLSIdleTimeout(t *testing.T) {
	p := getPKI(t)
	closed := make(chan error, 1)
	h := Funcs{Data: echo.Data, Close: func(c *Conn, err error) { closed <- err }}
	_, addr := startTLS(t, h, Options{Loops: 1, IdleTimeout: 200 * time.Millisecond}, p.serverConfig())
	c := dialTLS(t, addr, p.clientConfig())
	assert.Equal(t, "x", string(roundTrip(t, c, []byte("x"))))
	select {
	case err := <-closed:
		assert.ErrorIs(t, err, ErrIdleTimeout)
	case <-time.After(10 * time.Second):
		t.Fatal("idle TLS connection not closed")
	}
}

// TestTLSBackpressure: a TLS connection whose peer does not read is paused
// above HighWater like any other, and everything arrives once it reads.
func TestTLSBackpressure(t *testing.T) {
	p := getPKI(t)
	const total = 8 << 20
	payload := make([]byte, total)
	rand.Read(payload)
	conns := make(chan *Conn, 1)
	h := Funcs{
		Open: func(c *Conn) {
			c.Write(payload)
			conns <- c
		},
		Data: echo.Data,
	}
	// Small socket buffers: the kernel cannot take the 8 MiB, whatever
	// the system's defaults, and the output reaches HighWater.
	_, addr := startTLS(t, h, Options{Loops: 1, HighWater: 256 << 10, SocketWriteBuffer: smallSendBuffer}, p.serverConfig())
	c := dialTLSSmall(t, addr, p.clientConfig())
	sc := <-conns
	paused := func() bool {
		res := make(chan bool, 1)
		if sc.Do(func(c *Conn) { res <- c.flags&flagPaused != 0 && c.Buffered() > 256<<10 }) != nil {
			return false
		}
		return <-res
	}
	waitFor(t, "the connection to be paused", paused)
	c.SetDeadline(time.Now().Add(20 * time.Second))
	got := make([]byte, total)
	_, err := io.ReadFull(c, got)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(payload, got))
	waitFor(t, "the connection to resume", func() bool { return !paused() })
	assert.Equal(t, "y", string(roundTrip(t, c, []byte("y"))))
}

func TestTLSAsyncWrite(t *testing.T) {
	p := getPKI(t)
	h := Funcs{Open: func(c *Conn) {
		go func() {
			for i := 0; i < 100; i++ {
				c.AsyncWrite([]byte("0123456789"))
			}
		}()
	}}
	_, addr := startTLS(t, h, Options{Loops: 1}, p.serverConfig())
	c := dialTLS(t, addr, p.clientConfig())
	c.SetDeadline(time.Now().Add(10 * time.Second))
	got := make([]byte, 1000)
	_, err := io.ReadFull(c, got)
	require.NoError(t, err)
	assert.Equal(t, bytes.Repeat([]byte("0123456789"), 100), got)
}

// TestTLSStopDuringHandshakes: Stop with handshakes running and queued
// ends them all, leaving no goroutine behind (leakcheck).
func TestTLSStopDuringHandshakes(t *testing.T) {
	p := getPKI(t)
	e, addr := startTLS(t, echo, Options{Loops: 1, MaxTLSHandshakes: 2}, p.serverConfig())
	for i := 0; i < 6; i++ {
		c := dial(t, addr)
		// A whole first record, so that the handshake starts, then silence.
		c.Write([]byte{0x16, 0x03, 0x01, 0x00, 0x01, 0x01})
	}
	waitFor(t, "the connections to be accepted", func() bool { return e.Stats().Accepted == 6 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, e.Stop(ctx))
}
