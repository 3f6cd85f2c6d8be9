//go:build unix

package evsel

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// readable polls the waker's read end without consuming anything.
func (w *waker) readable(t *testing.T) bool {
	t.Helper()
	fds := []unix.PollFd{{Fd: int32(w.rfd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, 0)
	require.NoError(t, err)
	return n == 1
}

func TestWakerCoalesces(t *testing.T) {
	w, err := newWaker()
	require.NoError(t, err)
	defer w.close()

	for range 100 {
		require.NoError(t, w.wake())
	}
	// One write for the hundred wake-ups: exactly one 8-byte token.
	buf := make([]byte, 64)
	n, err := unix.Read(w.rfd, buf)
	require.NoError(t, err)
	assert.Equal(t, 8, n)
	_, err = unix.Read(w.rfd, buf)
	assert.Equal(t, unix.EAGAIN, err)
}

func TestWakerDrain(t *testing.T) {
	w, err := newWaker()
	require.NoError(t, err)
	defer w.close()

	require.NoError(t, w.wake())
	require.NoError(t, w.wake())
	assert.True(t, w.readable(t))
	w.drain()
	assert.False(t, w.readable(t))
	assert.False(t, w.pending.Load())
	require.NoError(t, w.wake())
	assert.True(t, w.readable(t), "a Wake after a drain writes again")
}

// TestWakerDrainRace races one wake against a drain, many times over, and
// checks the invariant that keeps wake-ups from being lost: once both are
// done, a set pending flag means there is something to read. The lost-wake
// interleaving (flag cleared, then set by the racing wake whose write the
// drain consumed) is rare per round, hence the many rounds.
func TestWakerDrainRace(t *testing.T) {
	w, err := newWaker()
	require.NoError(t, err)
	defer w.close()

	rounds := 20000
	if testing.Short() {
		rounds = 2000
	}
	for i := range rounds {
		require.NoError(t, w.wake())
		start, done := make(chan struct{}), make(chan error)
		go func() {
			<-start
			done <- w.wake()
		}()
		close(start)
		w.drain()
		require.NoError(t, <-done)
		if w.pending.Load() && !w.readable(t) {
			t.Fatalf("round %d: wake-up pending with nothing to read: every later Wake is lost", i)
		}
		w.drain()
	}
}

func TestWakerAfterClose(t *testing.T) {
	w, err := newWaker()
	require.NoError(t, err)
	require.NoError(t, w.wake()) // pending at close
	require.NoError(t, w.close())
	assert.ErrorIs(t, w.wake(), ErrClosed)
	assert.ErrorIs(t, w.wake(), ErrClosed)
}
