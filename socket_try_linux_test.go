package evsel_test

import (
	"testing"

	"github.com/evsel/evsel"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTryOnBlockingSocket: on Linux the Try methods do not wait even on a
// socket in blocking mode (MSG_DONTWAIT), so a file description another
// holder switched to blocking cannot stall an event loop.
func TestTryOnBlockingSocket(t *testing.T) {
	client, server := tcpPair(t)
	require.NoError(t, server.SetBlocking(true))
	require.NoError(t, client.SetBlocking(true))
	_, err := server.TryRead(make([]byte, 8))
	assert.Equal(t, evsel.ErrWouldBlock, err)

	require.NoError(t, client.SetWriteBuffer(16<<10))
	chunk := make([]byte, 64<<10)
	for i := 0; ; i++ {
		require.Less(t, i, 10000, "the send buffer never filled")
		if _, err := client.TryWrite(chunk); err != nil {
			require.Equal(t, evsel.ErrWouldBlock, err)
			break
		}
	}
	_, err = client.TryWritev([][]byte{chunk, chunk})
	assert.Equal(t, evsel.ErrWouldBlock, err)
}

// TestBatchOnBlockingSocket: RecvBatch does not wait on Linux either, even
// on a datagram socket in blocking mode.
func TestBatchOnBlockingSocket(t *testing.T) {
	_, server := udpPair(t, "127.0.0.1")
	require.NoError(t, server.SetBlocking(true))
	in := evsel.NewBatch(4)
	for i := range in.Msgs {
		in.Msgs[i].Buf = make([]byte, 64)
	}
	_, err := server.RecvBatch(in)
	assert.Equal(t, evsel.ErrWouldBlock, err)
}
