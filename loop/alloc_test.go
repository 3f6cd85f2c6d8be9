package loop

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEchoAllocs: serving a message on an established connection allocates
// nothing in the engine. Allocation counts are deterministic, unlike time,
// so this is a unit test; the race detector allocates, so it runs without.
func TestEchoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own; CI runs this test without -race")
	}
	_, addr := start(t, echo, Options{Loops: 1})
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	roundTrip := warmEcho(t, c, 64) // warm: chunk pools, selector tables
	// AllocsPerRun counts the whole process: the client side here (net
	// package) allocates nothing per round trip either once warm.
	assert.Zero(t, testing.AllocsPerRun(200, roundTrip))
}

// TestEchoLargeAllocs: messages that take several output chunks (a writev
// on the readiness driver, a sendmsg on io_uring) allocate nothing either.
// The handler writes in pieces of at most a chunk: a single Write larger
// than that gets an output buffer of its own.
func TestEchoLargeAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own; CI runs this test without -race")
	}
	pieces := Funcs{Data: func(c *Conn) {
		for in := c.Inbound(); len(in) > 0; in = in[min(len(in), chunkSize):] {
			c.Write(in[:min(len(in), chunkSize)])
		}
		c.Consume(len(c.Inbound()))
	}}
	_, addr := start(t, pieces, Options{Loops: 1})
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	roundTrip := warmEcho(t, c, 40<<10)
	assert.Zero(t, testing.AllocsPerRun(100, roundTrip))
}

// TestDeadlineMoveAllocs: moving a connection's deadlines, from every
// OnData as nbio's keep-alive idiom does or any number of times in one
// callback, clearing and setting them again, allocates nothing once the
// first has made their timers: each kind has one, reset in place.
func TestDeadlineMoveAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own; CI runs this test without -race")
	}
	conns := make(chan *Conn, 1)
	keepAlive := Funcs{
		Open: func(c *Conn) { conns <- c },
		Data: func(c *Conn) {
			c.SetReadDeadline(time.Now().Add(time.Minute))
			c.SetWriteDeadline(time.Now().Add(time.Minute))
			c.Write(c.Inbound())
			c.Consume(len(c.Inbound()))
		},
	}
	_, addr := start(t, keepAlive, Options{Loops: 1})
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	sc := <-conns
	roundTrip := warmEcho(t, c, 64)
	assert.Zero(t, testing.AllocsPerRun(200, roundTrip))

	// On the loop itself, where nothing else runs meanwhile.
	var allocs float64
	onLoopOf(t, sc, func() {
		i := 0
		allocs = testing.AllocsPerRun(1000, func() {
			i++
			at := time.Now().Add(time.Duration(i%7+1) * time.Minute) // later and earlier
			sc.SetDeadline(at)
			sc.SetReadDeadline(at.Add(time.Second))
			if i%3 == 0 {
				sc.SetDeadline(time.Time{})
			}
		})
	})
	assert.Zero(t, allocs)
}

// warmEcho returns one round trip of a size-byte message through the echo
// server c is connected to, for AllocsPerRun, after 100 of them to warm
// the pools.
func warmEcho(t *testing.T, c net.Conn, size int) func() {
	msg, buf := make([]byte, size), make([]byte, size)
	roundTrip := func() {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write(msg)
		_, err := io.ReadFull(c, buf)
		require.NoError(t, err)
	}
	for range 100 {
		roundTrip()
	}
	return roundTrip
}
