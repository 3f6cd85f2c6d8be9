package evsel_test

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evsel/evsel"
)

// Poller-level tests, run against every backend of the platform.

func TestBackends(t *testing.T) {
	backends := evsel.Backends()
	require.NotEmpty(t, backends)
	seen := map[string]bool{}
	for _, b := range backends {
		assert.False(t, seen[b], "backend %q listed twice", b)
		seen[b] = true
	}
	p, err := evsel.NewPoller()
	require.NoError(t, err)
	defer p.Close()
	assert.Equal(t, backends[0], p.Name(), "NewPoller must return the first (default) backend")

	backends[0] = "changed" // the caller's copy
	assert.Equal(t, p.Name(), evsel.Backends()[0])

	for _, name := range []string{"", "no-such-backend", "EPOLL"} {
		p, err := evsel.NewPollerNamed(name)
		assert.ErrorIs(t, err, evsel.ErrNoBackend, "NewPollerNamed(%q)", name)
		assert.Nil(t, p)
	}
}

func TestEventsString(t *testing.T) {
	for ev, want := range map[evsel.Events]string{
		0:                                      "-",
		evsel.EventRead:                        "R",
		evsel.EventWrite:                       "W",
		evsel.EventReadWrite:                   "RW",
		evsel.EventReadWrite | evsel.EventEdge: "RW|edge",
	} {
		assert.Equal(t, want, ev.String())
	}
}

func TestPollerRegistrationErrors(t *testing.T) {
	eachBackend(t, func(t *testing.T, b string) {
		p := newPoller(t, b)
		a, _ := socketPair(t)
		fd := int(a.Fd())

		require.NoError(t, p.Add(fd, evsel.EventRead))
		assert.ErrorIs(t, p.Add(fd, evsel.EventRead), evsel.ErrAlreadyRegistered)
		assert.ErrorIs(t, p.Add(fd, evsel.EventWrite), evsel.ErrAlreadyRegistered)
		require.NoError(t, p.Modify(fd, evsel.EventWrite))
		require.NoError(t, p.Delete(fd))
		assert.ErrorIs(t, p.Delete(fd), evsel.ErrNotRegistered)
		assert.ErrorIs(t, p.Modify(fd, evsel.EventRead), evsel.ErrNotRegistered)
		// A descriptor can come back after Delete.
		require.NoError(t, p.Add(fd, evsel.EventReadWrite))
		require.NoError(t, p.Delete(fd))
	})
}

func TestPollerUseAfterClose(t *testing.T) {
	eachBackend(t, func(t *testing.T, b string) {
		p, err := evsel.NewPollerNamed(b)
		require.NoError(t, err)
		a, _ := socketPair(t)
		fd := int(a.Fd())
		require.NoError(t, p.Add(fd, evsel.EventRead))
		require.NoError(t, p.Wake()) // a wake-up pending at Close changes nothing

		require.NoError(t, p.Close())
		assert.ErrorIs(t, p.Close(), evsel.ErrClosed)
		assert.ErrorIs(t, p.Add(fd, evsel.EventRead), evsel.ErrClosed)
		assert.ErrorIs(t, p.Modify(fd, evsel.EventWrite), evsel.ErrClosed)
		assert.ErrorIs(t, p.Delete(fd), evsel.ErrClosed)
		_, err = p.Wait(make([]evsel.Event, 4), 0)
		assert.ErrorIs(t, err, evsel.ErrClosed)
		assert.ErrorIs(t, p.Wake(), evsel.ErrClosed)
		assert.ErrorIs(t, p.Wake(), evsel.ErrClosed)
	})
}

func TestPollerReadiness(t *testing.T) {
	eachBackend(t, func(t *testing.T, b string) {
		p := newPoller(t, b)
		a, peer := socketPair(t)
		fd := int(a.Fd())

		require.NoError(t, p.Add(fd, evsel.EventRead))
		assert.Zero(t, readyNow(t, p, fd), "nothing to read yet")

		_, err := peer.Write([]byte("x"))
		require.NoError(t, err)
		assert.Equal(t, evsel.EventRead, waitFor(t, p, fd, evsel.EventRead))
		// Level-triggered: still reported while unread.
		assert.Equal(t, evsel.EventRead, readyNow(t, p, fd))

		// Only the interest set is reported, though a is also readable.
		require.NoError(t, p.Modify(fd, evsel.EventWrite))
		assert.Equal(t, evsel.EventWrite, readyNow(t, p, fd))
		require.NoError(t, p.Modify(fd, evsel.EventReadWrite))
		assert.Equal(t, evsel.EventReadWrite, readyNow(t, p, fd))

		buf := make([]byte, 8)
		n, err := a.Read(buf)
		require.NoError(t, err)
		assert.Equal(t, "x", string(buf[:n]))
		assert.Equal(t, evsel.EventWrite, readyNow(t, p, fd))

		require.NoError(t, p.Delete(fd))
		assert.Zero(t, readyNow(t, p, fd), "deleted descriptors are not reported")
	})
}

func TestPollerWaitEmptySlice(t *testing.T) {
	eachBackend(t, func(t *testing.T, b string) {
		p := newPoller(t, b)
		a, _ := socketPair(t)
		require.NoError(t, p.Add(int(a.Fd()), evsel.EventWrite))
		n, err := p.Wait(nil, 0)
		require.NoError(t, err)
		assert.Zero(t, n)
	})
}

func TestPollerTimeout(t *testing.T) {
	eachBackend(t, func(t *testing.T, b string) {
		p := newPoller(t, b)
		a, _ := socketPair(t)
		require.NoError(t, p.Add(int(a.Fd()), evsel.EventRead))
		events := make([]evsel.Event, 8)

		n, err := p.Wait(events, 0)
		require.NoError(t, err)
		assert.Zero(t, n)

		const timeout = 30 * time.Millisecond
		start := time.Now()
		n, err = p.Wait(events, timeout)
		elapsed := time.Since(start)
		require.NoError(t, err)
		assert.Zero(t, n)
		assert.GreaterOrEqual(t, elapsed, timeout*8/10, "Wait returned before its timeout")

		// A sub-millisecond timeout must still block, not turn into a poll
		// that spins: the backends round up.
		start = time.Now()
		_, err = p.Wait(events, time.Microsecond)
		require.NoError(t, err)
		assert.GreaterOrEqual(t, time.Since(start), time.Microsecond)
	})
}

func TestPollerWakeFromAnotherGoroutine(t *testing.T) {
	eachBackend(t, func(t *testing.T, b string) {
		p := newPoller(t, b)
		events := make([]evsel.Event, 8)
		for range 3 {
			done := make(chan error)
			go func() {
				time.Sleep(5 * time.Millisecond) // most likely while Wait blocks
				done <- p.Wake()
			}()
			n, err := p.Wait(events, -1)
			require.NoError(t, err)
			assert.Zero(t, n, "a wake-up alone reports no descriptor")
			require.NoError(t, <-done)
		}
	})
}

func TestPollerWakeCoalesces(t *testing.T) {
	eachBackend(t, func(t *testing.T, b string) {
		p := newPoller(t, b)
		events := make([]evsel.Event, 8)
		for range 100 {
			require.NoError(t, p.Wake())
		}
		n, err := p.Wait(events, -1)
		require.NoError(t, err)
		assert.Zero(t, n)

		// All hundred were consumed by that one Wait: the next one times out.
		const timeout = 20 * time.Millisecond
		start := time.Now()
		n, err = p.Wait(events, timeout)
		require.NoError(t, err)
		assert.Zero(t, n)
		assert.GreaterOrEqual(t, time.Since(start), timeout*8/10, "a wake-up was left over")

		// And Wake still works afterwards.
		require.NoError(t, p.Wake())
		n, err = p.Wait(events, -1)
		require.NoError(t, err)
		assert.Zero(t, n)
	})
}

// TestPollerWakeStorm has goroutines wake the poller non-stop while its
// owner waits again and again without a timeout. A wake-up lost to a race
// with the drain of the previous one leaves the owner blocked for good,
// which the watchdog turns into a failure.
func TestPollerWakeStorm(t *testing.T) {
	eachBackend(t, func(t *testing.T, b string) {
		p := newPoller(t, b)
		events := make([]evsel.Event, 8)
		const wakers, waits = 4, 2000
		var wg sync.WaitGroup
		var stop atomic.Bool
		var wakes atomic.Int64
		for range wakers {
			wg.Go(func() {
				for !stop.Load() {
					if err := p.Wake(); err != nil {
						panic(err)
					}
					wakes.Add(1)
				}
			})
		}
		stuck := time.AfterFunc(watchdog, func() { panic("Wait(-1) missed a Wake") })
		defer func() {
			stuck.Stop()
			stop.Store(true)
			wg.Wait()
		}()
		for range waits {
			n, err := p.Wait(events, -1)
			require.NoError(t, err)
			require.Zero(t, n)
			// The watchdog bounds each Wait, not the whole storm: 2,000
			// waits take tens of seconds under Wine on a loaded machine.
			stuck.Reset(watchdog)
		}
		assert.GreaterOrEqual(t, wakes.Load(), int64(waits), "every Wait was woken by a Wake")
	})
}

func TestPollerEdgeTriggered(t *testing.T) {
	supportsEdge := map[string]bool{"epoll": true, "kqueue": true, "poll": false}
	eachBackend(t, func(t *testing.T, b string) {
		p := newPoller(t, b)
		a, peer := socketPair(t)
		fd := int(a.Fd())

		err := p.Add(fd, evsel.EventRead|evsel.EventEdge)
		want, known := supportsEdge[b]
		if errors.Is(err, evsel.ErrEdgeUnsupported) {
			assert.False(t, known && want, "%s must support EventEdge", b)
			require.NoError(t, p.Add(fd, evsel.EventRead))
			assert.ErrorIs(t, p.Modify(fd, evsel.EventRead|evsel.EventEdge), evsel.ErrEdgeUnsupported)
			return
		}
		require.NoError(t, err)
		assert.False(t, known && !want, "%s must reject EventEdge", b)

		for round := range 3 {
			_, err := peer.Write([]byte("edge"))
			require.NoError(t, err)
			assert.Equal(t, evsel.EventRead, waitFor(t, p, fd, evsel.EventRead), "round %d", round)
			// The data is still unread, but there was no new edge.
			assert.Zero(t, readyNow(t, p, fd), "round %d: an edge fired twice", round)
		}
		// Back to level-triggered: reported while the data stays unread.
		require.NoError(t, p.Modify(fd, evsel.EventRead))
		assert.Equal(t, evsel.EventRead, readyNow(t, p, fd))
		assert.Equal(t, evsel.EventRead, readyNow(t, p, fd))
	})
}

// TestPollerFairness waits with a slice smaller than the number of ready
// descriptors, never consuming their readiness: every descriptor must still
// come up within a few rounds, none may starve.
func TestPollerFairness(t *testing.T) {
	eachBackend(t, func(t *testing.T, b string) {
		p := newPoller(t, b)
		const ready, batch = 10, 3
		pending := map[int]bool{}
		for range ready {
			a, peer := socketPair(t)
			_, err := peer.Write([]byte("x"))
			require.NoError(t, err)
			require.NoError(t, p.Add(int(a.Fd()), evsel.EventRead))
			pending[int(a.Fd())] = true
		}
		// Let every descriptor become ready before counting rounds.
		for fd := range pending {
			waitFor(t, p, fd, evsel.EventRead)
		}
		events := make([]evsel.Event, batch)
		rounds := 0
		for len(pending) > 0 {
			rounds++
			require.LessOrEqual(t, rounds, 2*(ready+batch-1)/batch, "descriptors starved: %v", pending)
			n, err := p.Wait(events, 0)
			require.NoError(t, err)
			require.Equal(t, batch, n, "a full slice of ready descriptors")
			for _, e := range events[:n] {
				assert.Equal(t, evsel.EventRead, e.Events)
				delete(pending, e.Fd)
			}
		}
	})
}

func TestPollerHangUp(t *testing.T) {
	eachBackend(t, func(t *testing.T, b string) {
		t.Run("peer closed", func(t *testing.T) {
			p := newPoller(t, b)
			a, peer := socketPair(t)
			fd := int(a.Fd())
			require.NoError(t, p.Add(fd, evsel.EventRead))
			require.NoError(t, peer.Close())
			assert.Equal(t, evsel.EventRead, waitFor(t, p, fd, evsel.EventRead))
			_, err := a.Read(make([]byte, 8))
			assert.ErrorIs(t, err, io.EOF)
			// Still reported: hang-up is a level, not an event.
			assert.Equal(t, evsel.EventRead, readyNow(t, p, fd))
		})
		t.Run("peer reset, write interest", func(t *testing.T) {
			p := newPoller(t, b)
			a, peer := tcpPair(t)
			fd := int(a.Fd())
			require.NoError(t, peer.SetLinger(0))
			require.NoError(t, peer.Close()) // sends RST
			waitOnce(t, a, evsel.EventRead)  // the reset has arrived
			require.NoError(t, p.Add(fd, evsel.EventWrite))
			assert.Equal(t, evsel.EventWrite, waitFor(t, p, fd, evsel.EventWrite))
			// The error is delivered by the next operation, as promised.
			_, err := a.Write([]byte("x"))
			require.Error(t, err)
			assert.True(t, errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE), "%v", err)
		})
	})
}

// TestPollerWaitAllocs: Wait does not allocate in steady state.
func TestPollerWaitAllocs(t *testing.T) {
	eachBackend(t, func(t *testing.T, b string) {
		p := newPoller(t, b)
		for range 16 {
			a, peer := socketPair(t)
			_, err := peer.Write([]byte("x"))
			require.NoError(t, err)
			require.NoError(t, p.Add(int(a.Fd()), evsel.EventReadWrite))
		}
		events := make([]evsel.Event, 64)
		var failed error
		allocs := testing.AllocsPerRun(100, func() {
			if _, err := p.Wait(events, 0); err != nil {
				failed = err
			}
			if err := p.Wake(); err != nil {
				failed = err
			}
		})
		require.NoError(t, failed)
		assert.Zero(t, allocs, "allocations per Wait")
	})
}
