package evsel_test

import (
	"errors"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"

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

// TestWriteRaisesNoSIGPIPE: Write and Writev to a peer that has gone fail
// with EPIPE and raise no SIGPIPE, as the Try calls, so a program that
// asks for the signal does not get one per write to a dead connection.
func TestWriteRaisesNoSIGPIPE(t *testing.T) {
	sig := make(chan os.Signal, 8)
	signal.Notify(sig, syscall.SIGPIPE)
	defer signal.Stop(sig)
	client, server, err := evsel.Socketpair()
	require.NoError(t, err)
	defer client.Close()
	require.NoError(t, server.Close())
	_, err = client.Write([]byte("x"))
	assert.ErrorIs(t, err, syscall.EPIPE)
	_, err = client.Writev([][]byte{[]byte("x"), []byte("y")})
	assert.ErrorIs(t, err, syscall.EPIPE)
	_, err = client.TryWrite([]byte("x"))
	assert.ErrorIs(t, err, syscall.EPIPE)
	select {
	case s := <-sig:
		t.Fatalf("%v raised", s)
	case <-time.After(50 * time.Millisecond):
	}
}

// TestConnectResultAfterItsError: once a failed connect's error has been
// reported, asking again says the socket is not connected rather than in
// progress: the socket polls writable at once, and a caller told
// ErrInProgress would wait for writability and ask again for ever. A
// socket that never connected says the same.
func TestConnectResultAfterItsError(t *testing.T) {
	s, err := evsel.Dial("tcp", freePort(t))
	if err == nil {
		cleanupClose(t, s)
		waitOnce(t, s, evsel.EventWrite)
		require.ErrorIs(t, s.ConnectResult(), syscall.ECONNREFUSED)
	} else {
		require.ErrorIs(t, err, syscall.ECONNREFUSED)
		s, err = evsel.NewSocket(evsel.IPv4)
		require.NoError(t, err)
		cleanupClose(t, s)
	}
	assert.ErrorIs(t, s.ConnectResult(), syscall.ENOTCONN)

	never, err := evsel.NewSocket(evsel.IPv4)
	require.NoError(t, err)
	cleanupClose(t, never)
	assert.ErrorIs(t, never.ConnectResult(), syscall.ENOTCONN)
}

// TestUnixConnectBacklogFull: a Unix connect to a listener whose backlog
// is full fails at once (EAGAIN, as Python's connect_ex returns): named as
// a connect error, and still matching ErrWouldBlock.
func TestUnixConnectBacklogFull(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s")
	ln, err := evsel.Listen("unix", path)
	require.NoError(t, err)
	cleanupClose(t, ln)
	require.NoError(t, ln.Listen(1))
	var full error
	for i := 0; i < 64 && full == nil; i++ {
		c, err := evsel.Dial("unix", path)
		if err != nil && !errors.Is(err, evsel.ErrInProgress) {
			full = err
			break
		}
		cleanupClose(t, c)
	}
	require.Error(t, full, "the backlog never filled")
	assert.ErrorIs(t, full, evsel.ErrWouldBlock)
	var sys *os.SyscallError
	require.ErrorAs(t, full, &sys)
	assert.Equal(t, "connect", sys.Syscall)
}
