package evsel_test

import (
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/evsel/evsel"
)

// TestPollerWaitRawInterrupted: a signal ends a raw wait with nothing, so
// the caller is back in Go code, where a preemption the runtime asked for
// (a stop of the world) is taken; a wait that retried, as Wait does, would
// hold out for as long as signals keep coming.
func TestPollerWaitRawInterrupted(t *testing.T) {
	p, rw := rawWaiter(t, "epoll")
	a, _ := socketPair(t)
	require.NoError(t, p.Add(int(a.Fd()), evsel.EventRead))
	events := make([]evsel.Event, 8)
	var n int
	elapsed, err := underSignals(t, func() (err error) {
		n, err = rw.WaitRaw(events, -1)
		return err
	})
	require.NoError(t, err)
	assert.Zero(t, n)
	// Retried waits would have run for as long as the signals did.
	assert.Less(t, elapsed, time.Second)
}

// underSignals runs wait on a goroutine locked to its own thread while
// signalStream interrupts that thread, and returns wait's error and how
// long it took. A wait that retried on EINTR would not return while the
// signals came, so after 2 s the test fails rather than hangs.
func underSignals(t *testing.T, wait func() error) (time.Duration, error) {
	type result struct {
		err     error
		elapsed time.Duration
	}
	tid := make(chan int)
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		tid <- unix.Gettid()
		start := time.Now()
		err := wait()
		done <- result{err, time.Since(start)}
	}()
	defer signalStream(t, <-tid)()
	select {
	case r := <-done:
		return r.elapsed, r.err
	case <-time.After(2 * time.Second):
		t.Fatal("a raw wait under a stream of signals did not return")
		return 0, nil
	}
}

// signalStream sends SIGURG, the runtime's own preemption signal (so the
// runtime takes it as one), to thread tid every 100 µs until the returned
// stop is called; stop returns once the sender has exited.
func signalStream(t *testing.T, tid int) (stop func()) {
	quit, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		tick := time.NewTicker(100 * time.Microsecond)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				return
			case <-tick.C:
				if err := unix.Tgkill(os.Getpid(), tid, unix.SIGURG); err != nil {
					t.Error(err)
					return
				}
			}
		}
	}()
	return func() {
		close(quit)
		<-exited
	}
}
