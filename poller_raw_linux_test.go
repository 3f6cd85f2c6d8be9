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
// hold out for as long as signals keep coming. The signal is SIGURG, the
// runtime's own preemption signal, so the runtime takes it as one.
func TestPollerWaitRawInterrupted(t *testing.T) {
	p, rw := rawWaiter(t, "epoll")
	a, _ := socketPair(t)
	require.NoError(t, p.Add(int(a.Fd()), evsel.EventRead))

	tid := make(chan int)
	type result struct {
		n       int
		err     error
		elapsed time.Duration
	}
	done := make(chan result)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		tid <- unix.Gettid()
		events := make([]evsel.Event, 8)
		start := time.Now()
		n, err := rw.WaitRaw(events, -1)
		done <- result{n, err, time.Since(start)}
	}()
	thread := <-tid
	signals := time.NewTicker(100 * time.Microsecond)
	defer signals.Stop()
	giveUp := time.After(2 * time.Second)
	for {
		select {
		case r := <-done:
			require.NoError(t, r.err)
			assert.Zero(t, r.n)
			// Retried waits would have run for as long as the ticker did.
			assert.Less(t, r.elapsed, time.Second)
			return
		case <-signals.C:
			require.NoError(t, unix.Tgkill(os.Getpid(), thread, unix.SIGURG))
		case <-giveUp:
			t.Fatal("a raw wait under a stream of signals did not return")
		}
	}
}
