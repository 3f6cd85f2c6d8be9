package evsel_test

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/evsel/evsel"
)

// TestUringAllocs: the steady-state path of a driver — queue a send that
// holds its buffer, submit, wait, reap — allocates nothing, the hold table
// included. Allocation counts are deterministic, so this is a unit test;
// the race detector allocates on its own, so it runs without.
func TestUringAllocs(t *testing.T) {
	if uringRaceEnabled {
		t.Skip("the race detector allocates on its own; CI runs this test without -race")
	}
	r := newUring(t, evsel.UringOptions{Entries: 8})
	client, server := tcpPair(t)
	msg := make([]byte, 8)
	var res int32
	reap := func(c evsel.UringCQE) { res = c.Res }
	roundTrip := func() {
		if err := r.PrepSend(1, int(server.Fd()), msg); err != nil {
			t.Fatal(err)
		}
		if err := r.SubmitAndWait(-1); err != nil {
			t.Fatal(err)
		}
		r.ForEachCQE(reap)
	}
	for range 50 {
		roundTrip() // warm up: the hold table's first insertion
	}
	require.Zero(t, testing.AllocsPerRun(200, roundTrip))
	require.Equal(t, int32(len(msg)), res)
	readFull(t, client, 250*len(msg))
}

// BenchmarkUringNop is the ring's own cost per request: queue a NOP, one
// io_uring_enter that submits it and waits, reap. Run it on a quiet
// machine only.
func BenchmarkUringNop(b *testing.B) {
	r := newUring(b, evsel.UringOptions{Entries: 64})
	reap := func(evsel.UringCQE) {}
	b.ReportAllocs()
	for b.Loop() {
		if err := r.PrepNop(1); err != nil {
			b.Fatal(err)
		}
		if err := r.SubmitAndWait(-1); err != nil {
			b.Fatal(err)
		}
		r.ForEachCQE(reap)
	}
}

// BenchmarkUringEchoRoundTrip is one 64-byte echo round trip through the
// ring-driven echo server of the tests, against a Go net client.
func BenchmarkUringEchoRoundTrip(b *testing.B) {
	r := newUring(b, evsel.UringOptions{Entries: 64})
	s := newEchoServer(b, r, 64, 4096)
	c, err := net.Dial("tcp", s.addr())
	require.NoError(b, err)
	msg, got := make([]byte, 64), make([]byte, 64)
	done := make(chan error, 1)
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			c.SetDeadline(time.Now().Add(watchdog))
			if _, err := c.Write(msg); err != nil {
				done <- err
				return
			}
			if _, err := io.ReadFull(c, got); err != nil {
				done <- err
				return
			}
		}
	}()
	b.ReportAllocs()
	for b.Loop() {
		if err := r.SubmitAndWait(watchdog); err != nil {
			b.Fatal(err)
		}
		r.ForEachCQE(s.complete)
	}
	close(stop)
	s.serve(func() bool {
		select {
		case err := <-done:
			require.NoError(b, err)
			return true
		default:
			return false
		}
	})
	require.NoError(b, c.Close())
	s.serve(func() bool { return s.closed == 1 })
	s.stop()
}
