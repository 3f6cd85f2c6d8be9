package loop

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWriteWaitAllocs: a producer calling WriteWait for every message
// allocates nothing per call once warm, in the engine or in the wait
// (the waiter and its channel are recycled, the task carries no closure).
func TestWriteWaitAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own; CI runs this test without -race")
	}
	conns := make(chan *Conn, 1)
	_, addr := start(t, Funcs{Open: func(c *Conn) { conns <- c }}, Options{Loops: 1})
	client, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer client.Close()
	go io.Copy(io.Discard, client) // a peer that keeps up
	c := within(t, conns, 10*time.Second, "no OnOpen")

	msg := make([]byte, 64)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	write := func() { require.NoError(t, c.WriteWait(ctx, msg)) }
	for range 100 {
		write() // warm up: output chunks, the waiter pool
	}
	assert.Zero(t, testing.AllocsPerRun(500, write))
}

// BenchmarkWriteWait: one producer goroutine's WriteWait calls of 64
// bytes to a peer that keeps up. Run it with -cpu 1,2: with one P the
// producer, the peer's reader and the loop share it, and slow-calls/op
// (the share of calls over a millisecond) shows a loop that kept the P
// in its wait while the producer it had answered could not run
// (woken.go).
func BenchmarkWriteWait(b *testing.B) {
	c, stop := benchConn(b)
	defer stop()
	msg := make([]byte, 64)
	b.ReportAllocs()
	b.ResetTimer()
	timedCalls(b, func() {
		if err := c.WriteWait(context.Background(), msg); err != nil {
			b.Fatal(err)
		}
	})
}

// benchConn starts a one-loop engine and a connection to it from a peer
// that reads and discards what arrives, for one run of a benchmark; stop
// ends both. Not t.Cleanup: that would keep every run's engine until the
// benchmark ends, and loops beyond GOMAXPROCS turn off the raw wait
// (rawwait.go) that such benchmarks measure.
func benchConn(b *testing.B) (c *Conn, stop func()) {
	conns := make(chan *Conn, 1)
	e, err := New(Funcs{Open: func(c *Conn) { conns <- c }}, Options{Loops: 1, Logger: quietLog})
	require.NoError(b, err)
	addr, err := e.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.Stop(context.Background())
		b.Fatal(err)
	}
	peer, err := net.Dial("tcp", addr.String())
	if err != nil {
		e.Stop(context.Background())
		b.Fatal(err)
	}
	go io.Copy(io.Discard, peer)
	return <-conns, func() {
		peer.Close()
		e.Stop(context.Background())
	}
}

// timedCalls makes b.N calls of call and reports slow-calls/op, the share
// that took over a millisecond: a caller that waited out its loop's wait.
func timedCalls(b *testing.B, call func()) {
	slow := 0
	for range b.N {
		start := time.Now()
		call()
		if time.Since(start) > time.Millisecond {
			slow++
		}
	}
	b.ReportMetric(float64(slow)/float64(b.N), "slow-calls/op")
}
