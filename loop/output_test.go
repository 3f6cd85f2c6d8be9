package loop

import (
	"bytes"
	"testing"

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
