package evsel_test

import (
	"errors"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/evsel/evsel"
)

// newUring sets up a ring for the test, or skips it where the kernel cannot
// (TestUringFallback covers that path). The test's goroutine is locked to
// its thread from here to the cleanup that closes the ring, because a
// SingleIssuer ring accepts calls from its creating thread only (Go runs
// t.Cleanup on the test's goroutine, still locked).
func newUring(t testing.TB, opts evsel.UringOptions) *evsel.Uring {
	t.Helper()
	if err := evsel.UringAvailable(); err != nil {
		t.Skip(err)
	}
	runtime.LockOSThread()
	r, err := evsel.NewUring(opts)
	if err != nil {
		runtime.UnlockOSThread()
		require.NoError(t, err)
	}
	t.Cleanup(func() {
		defer runtime.UnlockOSThread()
		if err := r.Close(); err != nil && !errors.Is(err, evsel.ErrClosed) {
			t.Error(err)
		}
		require.Zero(t, r.InFlight(), "requests left in flight")
	})
	return r
}

// cqes are completions in the order reaped.
type cqes []evsel.UringCQE

// waitCQEs submits and reaps until n completions arrived or the watchdog
// fires.
func waitCQEs(t *testing.T, r *evsel.Uring, n int) cqes {
	t.Helper()
	var got cqes
	end := time.Now().Add(watchdog)
	for len(got) < n {
		left := time.Until(end)
		require.Positivef(t, left, "watchdog: %d of %d completions: %+v", len(got), n, got)
		require.NoError(t, r.SubmitAndWait(left))
		r.ForEachCQE(func(c evsel.UringCQE) { got = append(got, c) })
	}
	return got
}

// fdCount is how many descriptors the process has open.
func fdCount(t *testing.T) int {
	t.Helper()
	names, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	return len(names)
}

func TestUringSetupTeardown(t *testing.T) {
	if err := evsel.UringAvailable(); err != nil {
		t.Skip(err)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before := fdCount(t)
	for range 20 {
		r, err := evsel.NewUring(evsel.UringOptions{Entries: 8})
		require.NoError(t, err)
		require.True(t, r.SingleIssuer(), "this kernel (6.1+) takes SINGLE_ISSUER|DEFER_TASKRUN, flags %#x", r.SetupFlags())
		br, err := r.NewBufRing(1, 4)
		require.NoError(t, err)
		br.Add(0, make([]byte, 64))
		require.NoError(t, r.PrepNop(1)) // left in flight: Close reaps it
		require.NoError(t, r.Close())
		require.ErrorIs(t, r.Close(), evsel.ErrClosed)
		require.ErrorIs(t, r.PrepNop(2), evsel.ErrClosed)
	}
	require.Equal(t, before, fdCount(t), "descriptors leaked by setup and teardown")
}

func TestUringNop(t *testing.T) {
	r := newUring(t, evsel.UringOptions{Entries: 4})
	// More than the queue holds: the builders submit a full queue.
	for i := range 10 {
		require.NoError(t, r.PrepNop(uint64(100+i)))
	}
	got := waitCQEs(t, r, 10)
	for i, c := range got {
		require.Equal(t, uint64(100+i), c.UserData)
		require.Zero(t, c.Res)
		require.False(t, c.More())
		require.NoError(t, c.Err())
	}
	require.Zero(t, r.InFlight())
	require.Zero(t, r.ForEachCQE(func(evsel.UringCQE) { t.Fatal("a completion too many") }))
}

func TestUringSubmitAndWaitTimeout(t *testing.T) {
	r := newUring(t, evsel.UringOptions{Entries: 4})
	for _, d := range []time.Duration{0, 20 * time.Millisecond, 100 * time.Millisecond} {
		start := time.Now()
		require.NoError(t, r.SubmitAndWait(d))
		took := time.Since(start)
		require.GreaterOrEqual(t, took, d, "returned before the timeout")
		require.Less(t, took, d+watchdog/4, "returned long after the timeout")
		require.Zero(t, r.ForEachCQE(func(evsel.UringCQE) {}))
	}
	// A completion ready already: no wait at all.
	require.NoError(t, r.PrepNop(1))
	start := time.Now()
	require.NoError(t, r.SubmitAndWait(time.Hour))
	require.Less(t, time.Since(start), watchdog)
	require.Equal(t, 1, r.ForEachCQE(func(evsel.UringCQE) {}))
}

// TestUringSubmitAndWaitRaw: the raw wait submits and reaps as
// SubmitAndWait does, but never waits past MaxRawWait, and a signal ends
// it without an error (see TestPollerWaitRawInterrupted for why).
func TestUringSubmitAndWaitRaw(t *testing.T) {
	r := newUring(t, evsel.UringOptions{Entries: 4})
	start := time.Now()
	require.NoError(t, r.SubmitAndWaitRaw(-1))
	require.Less(t, time.Since(start), watchdog/4, "not bounded by MaxRawWait")
	require.Zero(t, r.ForEachCQE(func(evsel.UringCQE) {}))

	require.NoError(t, r.PrepNop(1))
	require.NoError(t, r.SubmitAndWaitRaw(time.Hour))
	require.Equal(t, 1, r.ForEachCQE(func(c evsel.UringCQE) { require.Equal(t, uint64(1), c.UserData) }))

	require.NoError(t, r.Close())
	require.ErrorIs(t, r.SubmitAndWaitRaw(time.Millisecond), evsel.ErrClosed)
}

// TestUringSubmitAndWaitRawInterrupted: as TestPollerWaitRawInterrupted,
// a signal ends a raw wait with nothing. The ring is made on the thread
// underSignals locks, which a SINGLE_ISSUER ring must be waited on from.
func TestUringSubmitAndWaitRawInterrupted(t *testing.T) {
	if err := evsel.UringAvailable(); err != nil {
		t.Skip(err)
	}
	_, err := underSignals(t, func() error {
		r, err := evsel.NewUring(evsel.UringOptions{Entries: 4})
		if err != nil {
			return err
		}
		defer r.Close()
		for range 20 {
			if err := r.SubmitAndWaitRaw(-1); err != nil {
				return err
			}
		}
		return nil
	})
	require.NoError(t, err)
}

func TestUringTimeoutRequest(t *testing.T) {
	r := newUring(t, evsel.UringOptions{Entries: 4})
	start := time.Now()
	require.NoError(t, r.PrepTimeout(7, 30*time.Millisecond))
	got := waitCQEs(t, r, 1)
	require.GreaterOrEqual(t, time.Since(start), 30*time.Millisecond)
	require.Equal(t, uint64(7), got[0].UserData)
	require.ErrorIs(t, got[0].Err(), syscall.ETIME)
}

// TestUringFallback forces the path of a kernel without an operation the
// engine needs: the error says which, matches ErrUringUnavailable, and
// leaves nothing open.
func TestUringFallback(t *testing.T) {
	const missing = evsel.UringOp(250) // beyond every kernel's last opcode
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before := fdCount(t)
	check := func(err error) {
		t.Helper()
		require.ErrorIs(t, err, evsel.ErrUringUnavailable)
		if errors.Is(evsel.UringAvailable(), evsel.ErrUringUnavailable) {
			return // the kernel lacks io_uring altogether: that is the error
		}
		var ue *evsel.UringError
		require.ErrorAs(t, err, &ue)
		require.Equal(t, evsel.UringMissingOp, ue.Reason)
		require.Equal(t, missing, ue.Op)
		require.Contains(t, err.Error(), "op 250")
	}
	check(evsel.UringAvailable(missing))
	_, err := evsel.NewUring(evsel.UringOptions{Require: []evsel.UringOp{missing}})
	check(err)
	require.Equal(t, before, fdCount(t))
	t.Log(evsel.UringAvailable(missing))
}

// TestUringUnavailableReasons checks how setup failures are classified,
// through the errors a kernel, a sysctl or a seccomp filter give.
func TestUringUnavailableReasons(t *testing.T) {
	err := evsel.UringAvailable()
	if err == nil {
		t.Log("io_uring available here")
		return
	}
	var ue *evsel.UringError
	require.ErrorAs(t, err, &ue)
	t.Logf("io_uring unavailable here: %v", err)
	switch {
	case errors.Is(err, unix.ENOSYS):
		require.Contains(t, []evsel.UringReason{evsel.UringNoKernel, evsel.UringBlocked}, ue.Reason)
	case errors.Is(err, unix.EPERM):
		require.Contains(t, []evsel.UringReason{evsel.UringDisabled, evsel.UringBlocked}, ue.Reason)
	}
}

// TestUringSingleIssuerThread shows why the owner stays locked to its
// thread: the kernel refuses a SingleIssuer ring's calls from any other
// thread (EEXIST), and a queued request is then submitted by the owner.
func TestUringSingleIssuerThread(t *testing.T) {
	r := newUring(t, evsel.UringOptions{Entries: 4})
	if !r.SingleIssuer() {
		t.Skip("the kernel did not take SINGLE_ISSUER")
	}
	require.NoError(t, r.PrepNop(1))
	_, server := tcpPair(t)
	fd := int(server.Fd())
	require.NoError(t, r.RegisterFiles(fd+1))
	require.True(t, r.InstallFile(fd))
	errc := make(chan error)
	go func() {
		runtime.LockOSThread() // another thread than the test's, for sure
		defer runtime.UnlockOSThread()
		errc <- r.Submit()
		errc <- r.SubmitAndWaitRaw(time.Millisecond)
		errc <- r.RemoveFile(fd)
	}()
	require.ErrorIs(t, <-errc, unix.EEXIST)
	require.ErrorIs(t, <-errc, unix.EEXIST, "the raw wait reports the kernel's refusal too")
	require.ErrorIs(t, <-errc, unix.EEXIST, "the kernel refuses a table update from another thread")
	require.True(t, r.Installed(fd), "a removal the kernel refused leaves the file installed")
	require.Equal(t, uint64(1), waitCQEs(t, r, 1)[0].UserData)
	require.NoError(t, r.RemoveFile(fd), "the owner's removal goes through")
	require.False(t, r.Installed(fd))
}

// TestUringCloseForeignThread: Close from another thread than a
// SingleIssuer ring's cannot cancel and reap, so it reports that, keeps the
// memory in flight reachable for good, and still releases the ring.
func TestUringCloseForeignThread(t *testing.T) {
	if err := evsel.UringAvailable(); err != nil {
		t.Skip(err)
	}
	before := fdCount(t)
	_, server := tcpPair(t)
	runtime.LockOSThread()
	r, err := evsel.NewUring(evsel.UringOptions{Entries: 4})
	require.NoError(t, err)
	single := r.SingleIssuer()
	require.NoError(t, r.PrepRecv(1, int(server.Fd()), make([]byte, 8)))
	require.NoError(t, r.Submit())
	errc := make(chan error)
	go func() {
		runtime.LockOSThread() // the test's goroutine holds its thread still
		defer runtime.UnlockOSThread()
		errc <- r.Close()
	}()
	err = <-errc
	runtime.UnlockOSThread()
	if single {
		require.ErrorIs(t, err, unix.EEXIST)
	} else {
		require.NoError(t, err)
	}
	require.ErrorIs(t, r.Close(), evsel.ErrClosed)
	require.Equal(t, before+2, fdCount(t), "only the socket pair is left")
}
