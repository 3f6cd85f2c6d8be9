package loop

// uringBufPool keeps the loop's provided buffers few and warm. The kernel
// takes buffers from the head of the ring and the loop gives them back at
// the tail, so a ring holding all of them cycles the kernel's copies
// through every one: with the 4 MiB of buffers a loop may have, twice a
// core's L2 here, every receive wrote into memory long out of the cache.
// Instead only as many buffers as the receives of an iteration need are
// in the ring (want); the rest wait in spare, and the most recently used
// go back first, still in the cache. Buffers are made when first needed,
// so a loop that never receives much never holds much.
//
// want grows (doubles) after a receive found the ring empty, and shrinks
// by one buffer after uringBufsShrinkAfter iterations without that; a
// receive that found it empty loses nothing (received reads its bytes at
// once, as the readiness driver would). Measured at 64 connections
// × 16 KiB on the bench machine (a Xeon with 2 MiB of L2 per core), the
// share of server CPU in the kernel's copy to user memory (perf,
// _copy_to_iter): 23.8% with every buffer in the ring, 15.5% with 256 KiB
// of them, 15.3% on epoll, whose reads all land in one buffer; with this
// pool 19.3%, against 25.2% without it in the same session.
type uringBufPool struct {
	br     bufRing
	size   int      // bytes per buffer
	spare  []uint16 // ids the loop gave back, the most recent last
	made   int      // buffers made so far: ids 0 to made-1
	posted int      // buffers the kernel holds: given, not yet used up
	want   int      // how many to keep posted
	short  bool     // a receive found the ring empty since the last fill
	quiet  int      // fills since want last changed or ran short
}

// bufRing is what the pool needs of an evsel.UringBufRing (a fake in the
// pool's tests holds it to the ring's rules).
type bufRing interface {
	Add(id uint16, buf []byte)
	Recycle(id uint16)
	Entries() int
}

// uringBufsMin is the fewest buffers kept posted: one being filled and
// one behind it, so a receive at the end of a buffer finds the next.
const uringBufsMin = 2

// uringBufsShrinkAfter is how many iterations without a shortage take one
// buffer off want: slowly, so a load that needs n buffers runs short
// about once per n × uringBufsShrinkAfter iterations.
const uringBufsShrinkAfter = 256

func newUringBufPool(br bufRing, size int) *uringBufPool {
	return &uringBufPool{br: br, size: size, want: min(uringBufsMin, br.Entries())}
}

// fill gives the kernel buffers until it holds want of them, the most
// recently returned first. It runs before each of the loop's waits.
func (b *uringBufPool) fill() {
	switch {
	case b.short:
		b.want = min(2*b.want, b.br.Entries())
		b.short, b.quiet = false, 0
	case b.want > uringBufsMin:
		if b.quiet++; b.quiet >= uringBufsShrinkAfter {
			b.want--
			b.quiet = 0
		}
	}
	for b.posted < b.want {
		if k := len(b.spare); k > 0 {
			id := b.spare[k-1]
			b.spare = b.spare[:k-1]
			b.br.Recycle(id)
		} else if b.made < b.br.Entries() {
			b.br.Add(uint16(b.made), make([]byte, b.size))
			b.made++
		} else {
			return
		}
		b.posted++
	}
}

// put takes back a buffer the kernel has used up (UringBufRing.Take said
// so) once its bytes are consumed.
func (b *uringBufPool) put(id uint16) {
	b.posted--
	b.spare = append(b.spare, id)
}

// ranShort notes a receive that found the ring empty.
func (b *uringBufPool) ranShort() { b.short = true }
