package loop

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// budgetSlack is what the tests allow the count past MaxMemory: what
// connections within their share read in the iteration before a loop
// closes the largest paused holders (see budget.go). Runs on a 2-core
// machine peaked 1 to 10 MiB over.
const budgetSlack = 16 << 20

// peakMemory samples e's MemoryHeld until stop is closed and returns the
// highest value seen.
func peakMemory(e *Engine, stop <-chan struct{}) <-chan int64 {
	peak := make(chan int64, 1)
	go func() {
		var hi int64
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			hi = max(hi, e.Stats().MemoryHeld)
			select {
			case <-stop:
				peak <- hi
				return
			case <-tick.C:
			}
		}
	}()
	return peak
}

// goodClient round-trips small messages on its own connection until stop
// is closed, and reports how many it completed, or the first error.
func goodClient(t *testing.T, addr string, stop <-chan struct{}) <-chan error {
	done := make(chan error, 1)
	c := dial(t, addr)
	go func() {
		msg := []byte("ping\n")
		buf := make([]byte, len(msg))
		for n := 0; ; n++ {
			select {
			case <-stop:
				if n == 0 {
					done <- errors.New("no round trip completed")
				} else {
					done <- nil
				}
				return
			default:
			}
			c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Write(msg); err != nil {
				done <- err
				return
			}
			if _, err := io.ReadFull(c, buf); err != nil {
				done <- err
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	return done
}

// budgetEngine starts an engine with MaxMemory that records close reasons.
func budgetEngine(t *testing.T, data func(c *Conn), budget int64) (*Engine, string, *atomic.Int64) {
	var budgetClosed atomic.Int64
	// Small kernel send buffers, so that what peers do not read piles up
	// in the engine rather than in the kernel, with little traffic.
	open := func(c *Conn) { c.SetWriteBuffer(16 << 10) }
	h := Funcs{Open: open, Data: data, Close: func(c *Conn, err error) {
		if errors.Is(err, ErrMemoryBudget) {
			budgetClosed.Add(1)
		}
	}}
	e, err := New(h, Options{Loops: 2, MaxMemory: budget, Logger: quietLog})
	require.NoError(t, err)
	addr, err := e.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	return e, addr.String(), &budgetClosed
}

// budgetAttack runs one attack on an engine with a budget: peers
// connections each send perPeer bytes (tune shapes each connection first),
// while a well-behaved client is served throughout. It checks that the
// accounted bytes never passed the budget by more than budgetSlack, that
// every connection the budget closed got its OnClose, and that Stop gives
// every counted byte back, and returns the engine's stats before the stop.
func budgetAttack(t *testing.T, data func(c *Conn), budget int64, peers, perPeer int, tune func(c net.Conn)) Stats {
	t.Helper()
	e, addr, budgetClosed := budgetEngine(t, data, budget)
	stopSampling := make(chan struct{})
	peak := peakMemory(e, stopSampling)
	good := goodClient(t, addr, stopSampling)

	var wg sync.WaitGroup
	var clients []net.Conn
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	for i := 0; i < peers; i++ {
		c := dial(t, addr)
		clients = append(clients, c)
		if tune != nil {
			tune(c)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.SetWriteDeadline(time.Now().Add(4 * time.Second))
			for sent := 0; sent < perPeer; sent += len(chunk) {
				if _, err := c.Write(chunk); err != nil {
					return // closed by the budget, or stalled: both expected
				}
			}
		}()
	}
	wg.Wait()
	waitFor(t, "the count to fall under the budget", func() bool {
		return e.Stats().MemoryHeld <= budget
	})
	close(stopSampling)
	hi := <-peak
	require.NoError(t, <-good)
	st := e.Stats()
	t.Logf("peak %d MiB, closed by the budget %d, paused now %d", hi>>20, st.MemoryClosed, st.MemoryPaused)
	assert.LessOrEqual(t, hi, budget+budgetSlack)
	waitFor(t, "OnClose of every connection the budget closed", func() bool {
		return budgetClosed.Load() == e.Stats().MemoryClosed
	})
	for _, c := range clients {
		c.Close() // Stop's graceful close would wait for them to read
	}
	stop(t, e)
	assert.Zero(t, e.Stats().MemoryHeld, "every byte counted is given back")
	assert.Zero(t, e.Stats().MemoryPaused)
	return st
}

// TestMemoryBudgetNonReaders: 300 peers that send to an echo server and
// never read hold output the engine cannot send. With a 32 MiB budget the
// count stays near it, the largest holders are closed with ErrMemoryBudget,
// and a peer that reads its answers is served throughout.
func TestMemoryBudgetNonReaders(t *testing.T) {
	st := budgetAttack(t, echo.Data, 32<<20, 300, 1<<20, func(c net.Conn) {
		c.(*net.TCPConn).SetReadBuffer(4 << 10)
	})
	assert.Positive(t, st.MemoryClosed)
}

// TestMemoryBudgetUnfinishedInput: 30 peers each send most of a large
// message the handler keeps whole until it is complete (it never is). The
// count stays near the budget and a client with short messages is served.
func TestMemoryBudgetUnfinishedInput(t *testing.T) {
	keep := func(c *Conn) {
		if in := c.Inbound(); bytes.HasPrefix(in, []byte("ping\n")) {
			c.Write(in[:5])
			c.Consume(5)
		}
	}
	budgetAttack(t, keep, 32<<20, 30, 4<<20, nil)
}

// TestMemoryBudgetNoDeadlock: peers upload messages larger than their
// share, which the handler keeps until complete. Paused holders that
// together sit just under the budget must not stay paused for ever: every
// upload is answered or closed by the budget, promptly.
func TestMemoryBudgetNoDeadlock(t *testing.T) {
	const (
		budget = 16 << 20
		peers  = 8
		size   = 6 << 20
	)
	// A message is its length (8 bytes, big-endian) and that many bytes;
	// its answer is "ok".
	whole := func(c *Conn) {
		in := c.Inbound()
		if len(in) < 8 {
			return
		}
		n := int(binary.BigEndian.Uint64(in))
		if len(in) >= 8+n {
			c.Write([]byte("ok"))
			c.Consume(8 + n)
		}
	}
	e, addr, budgetClosed := budgetEngine(t, whole, budget)
	defer stop(t, e)
	msg := make([]byte, 8+size)
	binary.BigEndian.PutUint64(msg, size)
	outcome := make(chan string, peers)
	for range peers {
		c := dial(t, addr)
		go func() {
			c.SetDeadline(time.Now().Add(20 * time.Second))
			if _, err := c.Write(msg); err != nil {
				outcome <- "closed while sending"
				return
			}
			buf := make([]byte, 2)
			if _, err := io.ReadFull(c, buf); err != nil {
				if errors.Is(err, os.ErrDeadlineExceeded) {
					outcome <- "stuck"
				} else {
					outcome <- "closed"
				}
				return
			}
			outcome <- string(buf)
		}()
	}
	count := map[string]int{}
	for range peers {
		count[<-outcome]++
	}
	t.Logf("outcomes %v, closed by the budget %d", count, budgetClosed.Load())
	assert.Zero(t, count["stuck"], "uploads neither answered nor closed")
	assert.Positive(t, count["ok"], "the budget let no upload finish")
}

// TestMemoryBudgetInputRoom: a partial message's buffer whose doubling
// the budget refuses grows by what the budget has room for, so the message
// can still finish; only when not even the next read fits is the
// connection paused. The state is that of TestMemoryBudgetNoDeadlock's
// two last uploads when it deadlocked.
func TestMemoryBudgetInputRoom(t *testing.T) {
	e := &Engine{opts: Options{MaxMemory: 16 << 20}}
	l := &Loop{e: e}
	e.open.Store(2) // a share of 8 MiB each
	const partial = 5_947_392
	c := &Conn{loop: l, in: make([]byte, partial, partial), held: partial}
	e.memHeld.Store(2 * partial)

	size, ok := l.inputRoom(c, 2*partial, partial+minRead)
	assert.True(t, ok)
	assert.Equal(t, 16<<20-partial, size, "to the budget, which has more room than the share")

	e.memHeld.Store(16<<20 - 100<<10) // others hold the rest: the share has more room
	size, ok = l.inputRoom(c, 2*partial, partial+minRead)
	assert.True(t, ok)
	assert.Equal(t, 8<<20, size)

	e.memHeld.Store(partial) // room for the doubling
	size, ok = l.inputRoom(c, 2*partial, partial+minRead)
	assert.True(t, ok)
	assert.Equal(t, 2*partial, size)

	// No room for even the next read: within a read of its share, with the
	// budget full. Refused, and c paused until the sweep finds room.
	c.held = 8<<20 - minRead/2
	e.memHeld.Store(16 << 20)
	size, ok = l.inputRoom(c, 2*partial, partial+minRead)
	assert.False(t, ok)
	assert.Equal(t, partial+minRead, size)
	assert.NotZero(t, c.flags&flagMemPaused, "not paused")
	assert.Equal(t, int64(1), l.stats.memPaused.Load())
	assert.Equal(t, partial, cap(c.in), "the buffer grew")
}

// TestMemoryBudgetStuckClock: policy 3's clock runs while paused
// connections sit in the dead zone holding as much or more, starts again
// whenever what they hold falls (readers taking their output), and fires
// once per memStuckAfter without progress.
func TestMemoryBudgetStuckClock(t *testing.T) {
	var l Loop
	step := func(d time.Duration, inZone bool, held int64) bool {
		l.clock += int64(d)
		return l.stuck(inZone, held)
	}
	tick := memStuckAfter / 4
	assert.False(t, step(tick, true, 100), "entering the zone")
	for i := range 8 {
		assert.False(t, step(tick, true, int64(99-i)), "draining, tick %d", i)
	}
	assert.False(t, step(tick, true, 92))
	assert.False(t, step(tick, true, 92))
	assert.False(t, step(tick, true, 93), "holding more is no progress")
	assert.True(t, step(tick, true, 93), "a whole memStuckAfter without progress")
	assert.False(t, step(tick, true, 93), "the clock starts over")
	assert.False(t, step(memStuckAfter, false, 0), "out of the zone")
	assert.False(t, step(tick, true, 50), "back in")
	assert.False(t, step(memStuckAfter-tick, true, 50))
	assert.True(t, step(tick, true, 50))
}
