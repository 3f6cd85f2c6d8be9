package evsel_test

import (
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

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

	writeAll(t, client, []byte("ping"))
	waitOnce(t, server, evsel.EventRead)
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
	p, err := evsel.NewPoller()
	require.NoError(t, err)
	defer p.Close()
	require.NoError(t, p.Add(int(client.Fd()), evsel.EventRead))
	n, err := p.Wait(make([]evsel.Event, 1), 100*time.Millisecond)
	require.NoError(t, err)
	require.Zero(t, n, "the table keeps the socket open: no end of stream")
	require.NoError(t, r.PrepSend(3, fd, []byte("late")))
	c = waitCQEs(t, r, 1)[0]
	require.Equal(t, int32(4), c.Res, "send through the table after close: %v", c.Err())
	require.Equal(t, "late", string(readFull(t, client, 4)))

	// Removing it ends the stream.
	require.NoError(t, r.RemoveFile(fd))
	require.False(t, r.Installed(fd))
	require.NoError(t, r.RemoveFile(fd), "removing twice is a no-op")
	waitOnce(t, client, evsel.EventRead)
	_, err = client.Read(make([]byte, 8))
	require.Equal(t, io.EOF, err, "the peer sees the end of the stream")

	// The kernel refuses a descriptor that is not open: it stays unfixed.
	unused := 1023
	for ; unused > 0; unused-- {
		if _, err := unix.FcntlInt(uintptr(unused), unix.F_GETFD, 0); err == unix.EBADF {
			break
		}
	}
	require.False(t, r.InstallFile(unused), "descriptor %d is not open", unused)
	require.False(t, r.Installed(unused))

	// The table goes with the ring: nothing is left to remove.
	require.True(t, r.InstallFile(int(client.Fd())))
	require.NoError(t, r.Close())
	require.False(t, r.Installed(int(client.Fd())))
	require.NoError(t, r.RemoveFile(int(client.Fd())))
}
