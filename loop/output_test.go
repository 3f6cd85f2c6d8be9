package loop

import (
	"bytes"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOutputListRecycling: the output queue keeps its bytes in order across
// partial and full advances, and the lists it hands back to the loop hold
// no chunk past their length, which putVec relies on (it clears only up to
// the length it is given, so a stale slot would keep a chunk alive and
// hand it to the next connection's list).
func TestOutputListRecycling(t *testing.T) {
	l := &Loop{}
	c := &Conn{loop: l}
	data := make([]byte, 2*chunkSize+10)
	for i := range data {
		data[i] = byte(i * 7)
	}
	same := func(want []byte) {
		t.Helper()
		assert.True(t, bytes.Equal(want, bytes.Join(c.out, nil)), "pending output differs")
		assert.Equal(t, len(want), c.outLen)
	}
	noStaleSlots := func(v [][]byte) {
		t.Helper()
		for i, b := range v[len(v):cap(v)] {
			assert.Nil(t, b, "slot %d past the length still holds a chunk", len(v)+i)
		}
	}

	c.queue(data[:chunkSize]) // fills a chunk; the rest go to new ones
	c.queue(data[chunkSize : 2*chunkSize])
	c.queue(data[2*chunkSize:])
	require.Equal(t, 3, len(c.out), "chunks")
	same(data)

	c.advance(chunkSize + 5) // the first chunk and part of the second
	require.Equal(t, 2, len(c.out), "chunks")
	same(data[chunkSize+5:])
	noStaleSlots(c.out)

	c.advance(1) // part of a chunk: nothing shifts
	same(data[chunkSize+6:])

	c.advance(c.outLen) // all sent: the list goes back to the loop
	assert.Nil(t, c.out)
	assert.Zero(t, c.outLen)
	require.Equal(t, 1, len(l.vecs), "lists recycled")
	noStaleSlots(l.vecs[0])

	// The recycled list and chunks serve the next output, in order.
	c.queue(data[:100])
	c.queue(data[100:300])
	same(data[:300])
	c.advance(300)
	require.Equal(t, 1, len(l.vecs), "lists recycled")
	noStaleSlots(l.vecs[0])
}

// TestStage: a connection with nothing pending queues into the loop's
// stage while no other holds it; anything that cannot go there (a second
// connection, a write that does not fit) goes to chunks, and the stage's
// bytes move ahead of it, so the output stays in order.
func TestStage(t *testing.T) {
	l := &Loop{stage: make([]byte, 0, chunkSize)}
	a, b := &Conn{loop: l}, &Conn{loop: l}
	data := make([]byte, chunkSize+100)
	for i := range data {
		data[i] = byte(i * 13)
	}
	pending := func(c *Conn) []byte {
		if l.staged == c {
			return append(bytes.Join(c.out, nil), l.stage...)
		}
		return bytes.Join(c.out, nil)
	}

	a.queue(data[:10])
	a.queue(data[10:20])
	assert.Same(t, a, l.staged)
	assert.Nil(t, a.out, "a staged connection holds no chunks")
	b.queue(data[:30]) // the stage is a's: b takes chunks
	assert.Same(t, a, l.staged)
	assert.Equal(t, data[:30], pending(b))
	assert.Equal(t, 30, b.outLen)

	a.queue(data[20:]) // does not fit: a's staged bytes go first
	assert.Nil(t, l.staged)
	assert.Zero(t, len(l.stage))
	assert.Equal(t, data, pending(a))
	assert.Equal(t, len(data), a.outLen)

	// A short write from the stage: the rest moves to chunks.
	c := &Conn{loop: l}
	c.queue(data[:50])
	require.Same(t, c, l.staged)
	c.outLen -= 20
	l.unstage(20)
	assert.Nil(t, l.staged)
	assert.Equal(t, data[20:50], pending(c))
	assert.Equal(t, 30, c.outLen)

	// A write that took it all leaves nothing behind.
	d := &Conn{loop: l}
	d.queue(data[:50])
	d.outLen -= 50
	l.unstage(50)
	assert.Nil(t, d.out)
	assert.Nil(t, l.staged)
}

// TestWritesToOtherConnections: callbacks write to connections other than
// their own (a broadcast), so a write often finds the stage held by
// another connection and goes to chunks. Every peer still gets every
// record, each sender's in the order sent.
func TestWritesToOtherConnections(t *testing.T) {
	const (
		peers   = 4
		records = 300
		size    = 1000
	)
	var conns []*Conn // touched by the loop goroutine only
	var opened atomic.Int64
	h := Funcs{
		Open: func(c *Conn) {
			conns = append(conns, c)
			opened.Add(1)
		},
		Data: func(c *Conn) {
			in := c.Inbound()
			n := len(in) - len(in)%size
			for _, to := range conns {
				if _, err := to.Write(in[:n]); err != nil {
					t.Errorf("write: %v", err)
				}
			}
			c.Consume(n)
		},
	}
	_, addr := start(t, h, Options{Loops: 1, HighWater: 64 << 20, MaxOutput: 64 << 20})
	clients := make([]net.Conn, peers)
	for i := range clients {
		clients[i] = dial(t, addr)
	}
	waitFor(t, "all connections open", func() bool { return opened.Load() == peers })
	record := func(from, seq int) []byte {
		p := make([]byte, size)
		p[0], p[1], p[2] = byte(from), byte(seq>>8), byte(seq)
		for i := 3; i < size; i++ {
			p[i] = byte(from*31 + seq*7 + i)
		}
		return p
	}
	for from, c := range clients {
		go func() {
			for seq := range records {
				if _, err := c.Write(record(from, seq)); err != nil {
					return
				}
			}
		}()
	}
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.SetDeadline(time.Now().Add(20 * time.Second)); err != nil {
				t.Error(err)
				return
			}
			next := make([]int, peers)
			p := make([]byte, size)
			for range peers * records {
				if _, err := io.ReadFull(c, p); err != nil {
					t.Errorf("read: %v", err)
					return
				}
				from, seq := int(p[0]), int(p[1])<<8|int(p[2])
				if from >= peers || seq != next[from] || !bytes.Equal(p, record(from, seq)) {
					t.Errorf("record %d of %d: out of order or corrupt (want %d)", seq, from, next[min(from, peers-1)])
					return
				}
				next[from]++
			}
		}()
	}
	wg.Wait()
}

// TestStageShortWrite: a timer stages 15,000 bytes at each tick for a
// peer that reads nothing at first, through small socket buffers, so a
// flush from the stage is cut short and the rest must follow from the
// connection's chunks: once, and in order.
func TestStageShortWrite(t *testing.T) {
	const ticks = 400
	record := func(i int) []byte { return bytes.Repeat([]byte{byte(i), byte(i >> 8)}, 7500) }
	h := Funcs{
		Open: func(c *Conn) {
			assert.NoError(t, c.SetWriteBuffer(64<<10))
			i := 0
			var tm *Timer
			tm = c.Loop().Every(time.Millisecond, func() {
				if i == ticks {
					tm.Stop()
					return
				}
				if c.Buffered() > 0 {
					return // chunks pending: the stage would not be used
				}
				c.Write(record(i))
				i++
			})
		},
	}
	_, addr := start(t, h, Options{Loops: 1})
	c := dial(t, addr)
	require.NoError(t, c.(*net.TCPConn).SetReadBuffer(64<<10))
	require.NoError(t, c.SetDeadline(time.Now().Add(20*time.Second)))
	time.Sleep(300 * time.Millisecond) // the timer stages into a socket nobody reads
	got := make([]byte, 15000)
	for i := range ticks {
		_, err := io.ReadFull(c, got)
		require.NoError(t, err)
		require.True(t, bytes.Equal(record(i), got), "record %d differs", i)
	}
	require.NoError(t, c.SetReadDeadline(time.Now().Add(100*time.Millisecond)))
	n, _ := c.Read(make([]byte, 1))
	assert.Zero(t, n, "bytes beyond those written")
}
