package evsel_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evsel/evsel"
)

// rawWaiter returns backend b's poller as a RawWaiter, skipping the test
// for backends that cannot wait raw (epoll must).
func rawWaiter(t *testing.T, b string) (evsel.Poller, evsel.RawWaiter) {
	p := newPoller(t, b)
	rw, ok := p.(evsel.RawWaiter)
	if b == "epoll" {
		require.True(t, ok, "the epoll backend waits raw")
	}
	if !ok {
		t.Skipf("the %s backend has no raw wait", b)
	}
	return p, rw
}

// TestPollerWaitRaw: a raw wait reports readiness and wake-ups as Wait
// does, and never waits past MaxRawWait, whatever it is asked.
func TestPollerWaitRaw(t *testing.T) {
	eachBackend(t, func(t *testing.T, b string) {
		p, rw := rawWaiter(t, b)
		a, peer := socketPair(t)
		fd := int(a.Fd())
		require.NoError(t, p.Add(fd, evsel.EventRead))
		events := make([]evsel.Event, 8)

		// Forever means MaxRawWait: it returns, with nothing (sooner if
		// one of the runtime's signals interrupts it).
		start := time.Now()
		n, err := rw.WaitRaw(events, -1)
		require.NoError(t, err)
		assert.Zero(t, n)
		assert.Less(t, time.Since(start), time.Second, "not bounded by MaxRawWait")

		_, err = peer.Write([]byte("x"))
		require.NoError(t, err)
		n, err = rw.WaitRaw(events, -1)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		assert.Equal(t, evsel.Event{Fd: fd, Events: evsel.EventRead}, events[0])
		readFull(t, a, 1)

		// A wake-up ends the wait and is consumed by it, as by Wait.
		require.NoError(t, p.Wake())
		n, err = rw.WaitRaw(events, time.Hour)
		require.NoError(t, err)
		assert.Zero(t, n)
		assert.Zero(t, readyNow(t, p, fd), "the wake-up was drained")

		require.NoError(t, p.Close())
		_, err = rw.WaitRaw(events, time.Millisecond)
		assert.ErrorIs(t, err, evsel.ErrClosed)
	})
}
