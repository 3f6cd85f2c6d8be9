package evsel_test

import (
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/evsel/evsel"
)

// TestUringRegisteredFiles: receives and sends on an installed descriptor
// go through the ring's table, and the table's reference is what keeps a
// closed socket open: the peer sees the end of the stream only once the
// descriptor is removed from the table as well as closed.
func TestUringRegisteredFiles(t *testing.T) {
	r := newUring(t, evsel.UringOptions{Entries: 8})
	if err := r.RegisterFiles(1024); err != nil {
		t.Skipf("no sparse file table (Linux 5.19): %v", err)
	}
	client, server := tcpPair(t)
	fd := int(server.Fd())
	require.False(t, r.Installed(fd))
	require.True(t, r.InstallFile(fd), "descriptor %d below a table of 1024", fd)
	require.True(t, r.Installed(fd))
	require.True(t, r.InstallFile(fd), "installing twice is a no-op")
	require.False(t, r.InstallFile(1024), "past the table")
	require.False(t, r.InstallFile(-1))

	_, err := client.Write([]byte("ping"))
	require.NoError(t, err)
	in := make([]byte, 16)
	require.NoError(t, r.PrepRecv(1, fd, in))
	c := waitCQEs(t, r, 1)[0]
	require.Equal(t, int32(4), c.Res, "receive on the registered file: %v", c.Err())
	require.NoError(t, r.PrepSend(2, fd, []byte("pong")))
	c = waitCQEs(t, r, 1)[0]
	require.Equal(t, int32(4), c.Res, "send on the registered file: %v", c.Err())
	require.Equal(t, "pong", string(readFull(t, client, 4)))

	// Closed but still installed: the socket stays open, and a send that
	// names the descriptor reaches it through the table (a send that went
	// through the process's table would fail with EBADF).
	require.NoError(t, server.Close())
	require.Equal(t, 0, readFor(t, client, 100*time.Millisecond), "the table keeps the socket open")
	require.NoError(t, r.PrepSend(3, fd, []byte("late")))
	c = waitCQEs(t, r, 1)[0]
	require.Equal(t, int32(4), c.Res, "send through the table after close: %v", c.Err())
	require.Equal(t, "late", string(readFull(t, client, 4)))
	// Removing it ends the stream.
	require.NoError(t, r.RemoveFile(fd))
	require.False(t, r.Installed(fd))
	require.NoError(t, r.RemoveFile(fd), "removing twice is a no-op")
	require.Equal(t, -1, readFor(t, client, 5*time.Second), "the peer sees the end of the stream")
}

// readFor reads client until data (its length), the end of the stream (-1)
// or d passes (0).
func readFor(t *testing.T, client *evsel.Socket, d time.Duration) int {
	t.Helper()
	buf := make([]byte, 64)
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		n, err := client.Read(buf)
		switch {
		case err == io.EOF:
			return -1
		case err == evsel.ErrWouldBlock:
			time.Sleep(5 * time.Millisecond)
		case err != nil:
			require.NoError(t, err)
		default:
			return n
		}
	}
	return 0
}
