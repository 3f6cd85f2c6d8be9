package evsel_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/evsel/evsel"
)

// TestUringRecvSelect: a one-shot receive takes a buffer from the ring only
// when data arrives, completes once, and reports which buffer; with the
// ring empty it fails with ENOBUFS.
func TestUringRecvSelect(t *testing.T) {
	r := newUring(t, evsel.UringOptions{Entries: 8})
	a, b := socketPair(t)
	br, err := r.NewBufRing(5, 2)
	require.NoError(t, err)
	br.Add(1, make([]byte, 64))
	fd := int(a.Fd())
	require.NoError(t, r.PrepRecvSelect(1, fd, 5))
	require.NoError(t, r.Submit())
	require.Zero(t, r.ForEachCQE(func(evsel.UringCQE) {}), "completed with no data")
	_, err = b.Write([]byte("hello"))
	require.NoError(t, err)
	got := waitCQEs(t, r, 1)
	require.False(t, got[0].More(), "a one-shot receive ends with its completion")
	require.EqualValues(t, 5, got[0].Res)
	id, ok := got[0].Buffer()
	require.True(t, ok)
	require.EqualValues(t, 1, id)
	require.Equal(t, "hello", string(br.Buffer(id)[:5]))

	// The ring is empty now (buffer 1 not recycled).
	_, err = b.Write([]byte("again"))
	require.NoError(t, err)
	require.NoError(t, r.PrepRecvSelect(2, fd, 5))
	got = waitCQEs(t, r, 1)
	require.ErrorIs(t, got[0].Err(), unix.ENOBUFS)
	br.Recycle(id)
	require.NoError(t, r.PrepRecvSelect(3, fd, 5))
	got = waitCQEs(t, r, 1)
	require.EqualValues(t, 5, got[0].Res)
	require.NoError(t, br.Close())
}

// TestUringPollOnce: a one-shot poll of a socket already readable completes
// at once, and again when queued again while the data is still unread:
// level-triggered readiness.
func TestUringPollOnce(t *testing.T) {
	r := newUring(t, evsel.UringOptions{Entries: 8})
	a, b := socketPair(t)
	fd := int(a.Fd())
	require.NoError(t, r.PrepPoll(1, fd, unix.POLLIN))
	require.NoError(t, r.Submit())
	require.Zero(t, r.ForEachCQE(func(evsel.UringCQE) {}), "readable with nothing sent")
	_, err := b.Write([]byte("x"))
	require.NoError(t, err)
	for i := range 2 {
		if i > 0 {
			require.NoError(t, r.PrepPoll(1, fd, unix.POLLIN))
		}
		got := waitCQEs(t, r, 1)
		require.False(t, got[0].More())
		require.NotZero(t, got[0].Res&unix.POLLIN, "round %d: %+v", i, got[0])
	}
	require.Zero(t, r.InFlight())
}

// TestUringSocket: a descriptor a multishot accept delivered becomes a
// working Socket without a system call.
func TestUringSocket(t *testing.T) {
	r := newUring(t, evsel.UringOptions{Entries: 8})
	ln, err := evsel.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	cleanupClose(t, ln)
	addr, err := ln.LocalAddr()
	require.NoError(t, err)
	require.NoError(t, r.PrepAcceptMultishot(9, int(ln.Fd())))
	require.NoError(t, r.Submit())
	cl, err := evsel.Dial("tcp", addr.String())
	require.NoError(t, err)
	cleanupClose(t, cl)
	got := waitCQEs(t, r, 1)
	require.NoError(t, got[0].Err())
	s := evsel.UringSocket(int(got[0].Res))
	defer s.Close()
	peer, err := s.RemoteAddr()
	require.NoError(t, err)
	local, err := cl.LocalAddr()
	require.NoError(t, err)
	require.Equal(t, local.String(), peer.String())
}

// TestUringIncBufRing: an incremental ring's buffer serves several
// receives, each from where the last stopped; Take reports each one's
// bytes and says when the kernel has used the buffer up, and a receive
// that meets the end of a buffer takes only the room left there.
func TestUringIncBufRing(t *testing.T) {
	r := newUring(t, evsel.UringOptions{Entries: 8})
	a, b := socketPair(t)
	br, err := r.NewIncBufRing(6, 2)
	if errors.Is(err, unix.EINVAL) {
		require.False(t, kernelAtLeast(t, 6, 12), "a 6.12+ kernel refused an incremental ring")
		t.Logf("no incremental rings here: %v", err)
		return
	}
	require.NoError(t, err)
	require.True(t, br.Incremental())
	br.Add(0, make([]byte, 100))
	br.Add(1, make([]byte, 100))
	fd := int(a.Fd())
	recv := func(msg string) (string, uint16, bool, int) {
		t.Helper()
		_, err := b.Write([]byte(msg))
		require.NoError(t, err)
		require.NoError(t, r.PrepRecvSelect(1, fd, 6))
		c := waitCQEs(t, r, 1)[0]
		require.NoError(t, c.Err())
		data, id, last, ok := br.Take(c)
		require.True(t, ok)
		return string(data), id, last, cap(data)
	}
	first := strings.Repeat("a", 30)
	got, id, last, room := recv(first)
	require.Equal(t, first, got)
	require.EqualValues(t, 0, id)
	require.False(t, last)
	require.Equal(t, 100, room)

	second := strings.Repeat("b", 50)
	got, id, last, room = recv(second)
	require.Equal(t, second, got, "the second receive starts where the first stopped")
	require.EqualValues(t, 0, id)
	require.False(t, last)
	require.Equal(t, 70, room)

	// 40 bytes against 20 left: the buffer is used up, the rest waits.
	third := strings.Repeat("c", 40)
	got, id, last, room = recv(third)
	require.Equal(t, third[:20], got)
	require.EqualValues(t, 0, id)
	require.True(t, last)
	require.Equal(t, 20, room)
	br.Recycle(id)

	require.NoError(t, r.PrepRecvSelect(2, fd, 6))
	c := waitCQEs(t, r, 1)[0]
	data, id, last, ok := br.Take(c)
	require.True(t, ok)
	require.Equal(t, third[20:], string(data))
	require.EqualValues(t, 1, id, "the next buffer in the ring")
	require.False(t, last)
	require.NoError(t, br.Close())
}
