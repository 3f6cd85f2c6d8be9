package loop

import (
	"crypto/rand"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeBufRing holds the pool to UringBufRing's rules: no buffer given
// while the ring holds it, at most Entries held at once.
type fakeBufRing struct {
	t       *testing.T
	entries int
	bufs    map[uint16][]byte
	held    map[uint16]bool
	order   []uint16 // ids in the order given
}

func newFakeBufRing(t *testing.T, entries int) *fakeBufRing {
	return &fakeBufRing{t: t, entries: entries, bufs: map[uint16][]byte{}, held: map[uint16]bool{}}
}

func (f *fakeBufRing) Entries() int { return f.entries }

func (f *fakeBufRing) Add(id uint16, buf []byte) {
	f.bufs[id] = buf
	f.Recycle(id)
}

func (f *fakeBufRing) Recycle(id uint16) {
	require.NotNil(f.t, f.bufs[id], "buffer %d given before it was added", id)
	require.False(f.t, f.held[id], "buffer %d given while the ring holds it", id)
	f.held[id] = true
	require.LessOrEqual(f.t, len(f.held), f.entries, "more buffers held than the ring has room for")
	f.order = append(f.order, id)
}

// use is the kernel using buffer id up, and the loop taking it back.
func (f *fakeBufRing) use(b *uringBufPool, id uint16) {
	require.True(f.t, f.held[id], "buffer %d used but not held", id)
	delete(f.held, id)
	b.put(id)
}

// TestUringBufPoolPolicy pins the pool's rules: it keeps want buffers in
// the ring, made only when none is spare; the buffer given back last goes
// back first; a shortage doubles want up to the ring's size, and quiet
// iterations take it down one buffer at a time, never under the minimum.
func TestUringBufPoolPolicy(t *testing.T) {
	f := newFakeBufRing(t, 16)
	b := newUringBufPool(f, 4096)

	b.fill()
	assert.Equal(t, uringBufsMin, b.posted)
	assert.Equal(t, uringBufsMin, b.made, "made when first needed")
	assert.Len(t, f.bufs[0], 4096)
	assert.Len(t, f.bufs, uringBufsMin, "none made before it is needed")

	f.use(b, 0)
	f.use(b, 1)
	f.order = nil
	b.fill()
	assert.Equal(t, []uint16{1, 0}, f.order, "the buffer given back last goes first")
	assert.Equal(t, uringBufsMin, b.made, "spare buffers before new ones")

	for _, want := range []int{4, 8, 16, 16} {
		b.ranShort()
		b.fill()
		assert.Equal(t, want, b.want)
		assert.Equal(t, want, b.posted)
		assert.Equal(t, want, b.made)
		assert.Empty(t, b.spare)
	}

	for range uringBufsShrinkAfter - 1 {
		b.fill()
	}
	assert.Equal(t, 16, b.want)
	b.fill()
	assert.Equal(t, 15, b.want, "one buffer fewer after a quiet spell")
	f.use(b, 3)
	f.use(b, 4)
	b.fill()
	assert.Equal(t, 15, b.posted, "the ring topped up to want only")
	assert.Equal(t, []uint16{3}, b.spare, "4, given back last, went back to the ring")
	for range 100 * uringBufsShrinkAfter {
		b.fill()
	}
	assert.Equal(t, uringBufsMin, b.want, "never fewer than the minimum")
}

// uringPool reads the pool of loop l's io_uring driver on the loop.
type uringPoolState struct{ want, made, posted, spare, entries int }

func uringPool(t *testing.T, l *Loop) uringPoolState {
	t.Helper()
	res := make(chan uringPoolState, 1)
	require.NoError(t, l.Do(func() {
		b := l.drv.(*uringDriver).bufs
		res <- uringPoolState{b.want, b.made, b.posted, len(b.spare), b.br.Entries()}
	}))
	return <-res
}

// checkPoolAccounts: every buffer made is either held by the kernel or
// spare (none lost, none counted twice), and the kernel holds no more
// than the ring has room for.
func checkPoolAccounts(t *testing.T, p uringPoolState) {
	t.Helper()
	assert.Equal(t, p.made, p.posted+p.spare, "buffers made = held + spare: %+v", p)
	assert.LessOrEqual(t, p.posted, p.entries, "%+v", p)
}

// TestUringBufPoolShortage: 32 clients send 64 KiB each while the loop
// is held in a task, so that once it goes on every connection has input
// and most receives find the ring's two buffers gone. Every byte comes
// back, in order, the pool grows, and its accounts still balance. (Sent
// with the loop running, the shortage depended on the timing: the loop
// kept up with two buffers in about one run in ten under -race.)
func TestUringBufPoolShortage(t *testing.T) {
	needUring(t)
	e, addr := start(t, echo, Options{Loops: 1, Driver: DriverIOUring})
	l := e.Loops()[0]
	before := uringPool(t, l)
	assert.Equal(t, uringBufsMin, before.want)
	assert.LessOrEqual(t, before.made, uringBufsMin)

	const clients, size = 32, 64 << 10
	peers := make([]net.Conn, clients)
	for i := range peers {
		peers[i] = dial(t, addr)
		require.NoError(t, peers[i].SetDeadline(time.Now().Add(10*time.Second)))
	}
	waitFor(t, "the connections", func() bool { return e.Stats().Open == clients })
	release := make(chan struct{})
	require.NoError(t, l.Do(func() { <-release }))
	var wg sync.WaitGroup
	written := make(chan struct{}, clients)
	for _, peer := range peers {
		msg := make([]byte, size)
		_, err := rand.Read(msg)
		require.NoError(t, err)
		wg.Add(1)
		go func() {
			defer wg.Done()
			go func() { peer.Write(msg); written <- struct{}{} }()
			got := make([]byte, size)
			_, err := io.ReadFull(peer, got)
			if assert.NoError(t, err) {
				assert.Equal(t, msg, got)
			}
		}()
	}
	// The writes fit in loopback's buffers; one that does not ends once
	// the loop goes on, so wait for them a bounded time only.
	deadline := time.After(2 * time.Second)
wait:
	for range clients {
		select {
		case <-written:
		case <-deadline:
			break wait
		}
	}
	close(release)
	wg.Wait()
	after := uringPool(t, l)
	// made never falls, where want shrinks again once the burst is over.
	assert.Greater(t, after.made, uringBufsMin, "a shortage grew the pool")
	checkPoolAccounts(t, after)
}

// TestUringBufPoolSmallMessages: many small messages from a few clients
// fill one incremental buffer over many receives; the buffer goes back to
// the pool only once the kernel has used it up, so the pool stays at its
// minimum and its accounts balance.
func TestUringBufPoolSmallMessages(t *testing.T) {
	needUring(t)
	e, addr := start(t, echo, Options{Loops: 1, Driver: DriverIOUring})
	l := e.Loops()[0]
	msg := make([]byte, 100)
	for range 4 {
		peer := dial(t, addr)
		for range 500 {
			assert.Equal(t, msg, roundTrip(t, peer, msg))
		}
	}
	p := uringPool(t, l)
	assert.Equal(t, uringBufsMin, p.made, "200 KB of small messages, one at a time, need no more")
	checkPoolAccounts(t, p)
}
