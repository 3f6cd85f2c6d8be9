package loop

import (
	"crypto/rand"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evsel/evsel"
)

// TestUringBufPoolPolicy pins the pool's rules on a ring of its own: it
// posts want buffers, made only when none is spare; the buffer given back
// last goes back first; a shortage doubles want up to the ring's size,
// and quiet iterations take it down one buffer at a time.
func TestUringBufPoolPolicy(t *testing.T) {
	needUring(t)
	r, err := evsel.NewUring(evsel.UringOptions{Entries: 2, NoSingleIssuer: true})
	require.NoError(t, err)
	defer r.Close()
	br, err := r.NewBufRing(1, 16)
	require.NoError(t, err)
	b := newUringBufPool(br, 4096)

	b.fill()
	assert.Equal(t, uringBufsMin, b.posted)
	assert.Equal(t, uringBufsMin, b.made, "made when first needed")
	assert.Len(t, br.Buffer(0), 4096)
	assert.Nil(t, br.Buffer(uringBufsMin), "not made before it is needed")

	b.put(0)
	b.put(1)
	b.want = 1
	b.fill()
	assert.Equal(t, []uint16{0}, b.spare, "the buffer given back last goes first")
	assert.Equal(t, 1, b.posted)
	b.want = uringBufsMin

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
	for range 100 * uringBufsShrinkAfter {
		b.fill()
	}
	assert.Equal(t, uringBufsMin, b.want, "never fewer than the minimum")
}

// TestUringBufPoolShortage: 32 clients send 64 KiB each at once to a loop
// whose ring holds two buffers to begin with, so most receives find it
// empty. Every byte comes back, in order, the pool grows, and it makes no
// more buffers than the ring has room for.
func TestUringBufPoolShortage(t *testing.T) {
	needUring(t)
	e, addr := start(t, echo, Options{Loops: 1, Driver: DriverIOUring})
	l := e.Loops()[0]
	pool := func() (want, made, entries int) {
		res := make(chan [3]int, 1)
		require.NoError(t, l.Do(func() {
			b := l.drv.(*uringDriver).bufs
			res <- [3]int{b.want, b.made, b.br.Entries()}
		}))
		got := <-res
		return got[0], got[1], got[2]
	}
	wantBefore, madeBefore, _ := pool()
	assert.Equal(t, uringBufsMin, wantBefore)
	assert.LessOrEqual(t, madeBefore, uringBufsMin)

	const clients, size = 32, 64 << 10
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range clients {
		peer := dial(t, addr)
		msg := make([]byte, size)
		_, err := rand.Read(msg)
		require.NoError(t, err)
		wg.Add(1)
		go func() {
			defer wg.Done()
			require.NoError(t, peer.SetDeadline(time.Now().Add(10*time.Second)))
			<-start
			go peer.Write(msg)
			got := make([]byte, size)
			_, err := io.ReadFull(peer, got)
			if assert.NoError(t, err) {
				assert.Equal(t, msg, got)
			}
		}()
	}
	close(start)
	wg.Wait()
	// made never falls, where want shrinks again once the burst is over.
	_, made, entries := pool()
	assert.Greater(t, made, uringBufsMin, "a shortage grew the pool")
	assert.LessOrEqual(t, made, entries)
}
