package evsel_test

import (
	"bytes"
	"errors"
	"io"
	"syscall"
	"testing"

	"github.com/evsel/evsel"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTry: the Try methods read, write and gather as Read, Write and Writev
// do, answer ErrWouldBlock unwrapped instead of waiting, and see the peer's
// shutdown as io.EOF.
func TestTry(t *testing.T) {
	client, server := tcpPair(t)
	buf := make([]byte, 64)
	_, err := server.TryRead(buf)
	assert.Equal(t, evsel.ErrWouldBlock, err, "nothing has arrived")

	n, err := client.TryWrite([]byte("ping"))
	require.NoError(t, err)
	assert.Equal(t, 4, n)
	waitOnce(t, server, evsel.EventRead)
	n, err = server.TryRead(buf)
	require.NoError(t, err)
	assert.Equal(t, "ping", string(buf[:n]))

	// More buffers than one call gathers: a short count, in order.
	var bufs [][]byte
	var all bytes.Buffer
	for i := range 40 {
		b := bytes.Repeat([]byte{byte('a' + i%26)}, i+1)
		bufs = append(bufs, b, nil)
		all.Write(b)
	}
	sent := 0
	for sent < all.Len() {
		n, err := client.TryWritev(skip(bufs, sent))
		require.NoError(t, err)
		require.Positive(t, n)
		sent += n
	}
	assert.Equal(t, all.Bytes(), readFull(t, server, all.Len()))
	n, err = client.TryWritev(nil)
	require.NoError(t, err)
	assert.Zero(t, n)

	require.NoError(t, client.Shutdown(evsel.ShutWrite))
	waitOnce(t, server, evsel.EventRead)
	_, err = server.TryRead(buf)
	assert.Equal(t, io.EOF, err, "the peer shut its side down")

	require.NoError(t, client.Close())
	_, err = client.TryRead(buf)
	assert.ErrorIs(t, err, evsel.ErrClosed)
	_, err = client.TryWrite(buf)
	assert.ErrorIs(t, err, evsel.ErrClosed)
	_, err = client.TryWritev([][]byte{buf})
	assert.ErrorIs(t, err, evsel.ErrClosed)
}

// skip drops the first n bytes of bufs.
func skip(bufs [][]byte, n int) [][]byte {
	for len(bufs) > 0 && n >= len(bufs[0]) {
		n -= len(bufs[0])
		bufs = bufs[1:]
	}
	if len(bufs) == 0 {
		return nil
	}
	return append([][]byte{bufs[0][n:]}, bufs[1:]...)
}

// TestTryPeerReset: a reset reaches the Try calls as an error with its
// errno reachable: ECONNRESET on the read that meets it, and on the writes
// after it ECONNRESET or EPIPE (an error, not a SIGPIPE: MSG_NOSIGNAL on
// Linux).
func TestTryPeerReset(t *testing.T) {
	client := resetByPeer(t)
	_, err := client.TryRead(make([]byte, 8))
	skipResetReadAsEOF(t, err)
	assert.ErrorIs(t, err, syscall.ECONNRESET)
	for name, write := range map[string]func() (int, error){
		"TryWrite":  func() (int, error) { return client.TryWrite([]byte("x")) },
		"TryWritev": func() (int, error) { return client.TryWritev([][]byte{[]byte("x"), []byte("y")}) },
	} {
		n, err := write()
		require.Error(t, err, name)
		assert.Zero(t, n, name)
		assert.True(t, errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE), "%s: %v", name, err)
	}
}
