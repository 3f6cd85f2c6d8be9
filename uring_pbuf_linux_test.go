package evsel

import (
	"runtime"
	"sync/atomic"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// TestUringBufRingTailNeverGoesBack: a reader on another thread, standing
// in for the kernel, loads the buffer ring's tail while the owner recycles
// buffers, and must never see it move backwards. Recycle used to store
// entry 0 whole, which zeroed the tail (its last two bytes) until publish;
// a kernel that read that zero took a buffer still in use, and the echo
// test over a ring without DEFER_TASKRUN saw bytes differ about once in
// 300 runs. Here that old store was seen within the first few hundred
// recycles.
func TestUringBufRingTailNeverGoesBack(t *testing.T) {
	if err := UringAvailable(); err != nil {
		t.Skip(err)
	}
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("needs two threads running at once")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r, err := NewUring(UringOptions{Entries: 8})
	require.NoError(t, err)
	defer r.Close()
	for group := range uint16(8) {
		tailRace(t, r, group)
	}
}

func tailRace(t *testing.T, r *Uring, group uint16) {
	const entries = 8
	b, err := r.NewBufRing(group, entries)
	require.NoError(t, err)
	for id := range uint16(entries) {
		b.Add(id, make([]byte, 64))
	}
	tailOf := func() uint16 {
		w := atomic.LoadUint32(b.tailPtr)
		return (*[2]uint16)(unsafe.Pointer(&w))[1]
	}
	var stop atomic.Bool
	started := make(chan struct{})
	backwards := make(chan [2]uint16, 1)
	go func() {
		close(started)
		last := tailOf()
		for !stop.Load() {
			cur := tailOf()
			if cur < last { // the tail does not wrap in this test
				backwards <- [2]uint16{last, cur}
				return
			}
			last = cur
		}
		backwards <- [2]uint16{}
	}()
	<-started
	// No receive names the group, so the kernel takes nothing and the ring
	// may be recycled into past its size: only the tail's motion matters.
	// The tail stays below 1<<15, so any step back shows as a smaller value.
	const recycles = 1<<15 - 2*entries
	for i := range recycles {
		b.Recycle(uint16(i / entries % entries)) // slot 0 sees every id in turn
	}
	stop.Store(true)
	require.Equal(t, [2]uint16{}, <-backwards, "the tail went from the first value to the second")

	// Entry 0's id, which shares the tail's word, is intact.
	require.Equal(t, uint16((recycles-entries)/entries%entries), b.ring[0].bid)
	require.Equal(t, uint16(recycles+entries), b.tail)
	require.Equal(t, b.tail, tailOf())
	require.NoError(t, b.Close())
}
