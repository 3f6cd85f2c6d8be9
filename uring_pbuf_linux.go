package evsel

import (
	"fmt"
	"os"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Provided-buffer rings (IORING_REGISTER_PBUF_RING, Linux 5.19): a ring of
// buffer descriptions shared with the kernel, from which a receive with
// IOSQE_BUFFER_SELECT takes a buffer only when data arrives, so an idle
// connection holds no input memory. The ring of descriptions is mmap'd
// (page-aligned, as the kernel requires, and outside Go's heap); the
// buffers are the caller's, kept reachable by the UringBufRing (by id)
// until Close, because the kernel may fill any buffer it was given.
//
// An incremental ring (IOU_PBUF_RING_INC, Linux 6.12) lets the kernel fill
// one buffer over several receives, each taking what it needs from where
// the last stopped, so large buffers serve small messages without wasting
// the rest; a completion then says whether the buffer is used up
// (IORING_CQE_F_BUF_MORE clear), and Take tracks where each one's bytes
// start.

// uringPbufRingInc is IOU_PBUF_RING_INC, in uringBufReg.flags.
const uringPbufRingInc = 2

// uringBuf is struct io_uring_buf. The ring's tail is the resv field of the
// first entry (struct io_uring_buf_ring's union).
type uringBuf struct {
	addr uint64
	len  uint32
	bid  uint16
	resv uint16
}

// uringBufReg is struct io_uring_buf_reg.
type uringBufReg struct {
	ringAddr    uint64
	ringEntries uint32
	bgid        uint16
	flags       uint16
	resv        [3]uint64
}

// UringBufRing is a provided-buffer ring registered with a Uring under a
// buffer group id, which PrepRecvMultishot names. The caller gives it
// buffers under ids of its choosing (Add); the kernel picks one per
// completion and reports its id (UringCQE.Buffer); the caller reads the
// data (Buffer) and gives the buffer back (Recycle). A buffer must not be
// given while the ring already holds it, and the ring holds at most
// Entries buffers at once. Like its Uring, it is owned by one goroutine.
type UringBufRing struct {
	r       *Uring
	group   uint16
	mem     []byte     // the mmap'd ring of descriptions
	ring    []uringBuf // mem as descriptions
	mask    uint16
	tail    uint16
	tailPtr *uint32  // the aligned word holding ring[0].bid and the tail
	bid0    uint16   // ring[0].bid, as publish stores it
	bufs    [][]byte // by id: every buffer the kernel may hold
	// used: for an incremental ring, by id, how much of the buffer earlier
	// completions reported; nil otherwise.
	used []uint32
}

// NewBufRing registers a ring of entries buffer descriptions (a power of
// two up to 32768) under group, empty until Add.
func (r *Uring) NewBufRing(group uint16, entries int) (*UringBufRing, error) {
	return r.newBufRing(group, entries, 0)
}

// NewIncBufRing is NewBufRing for an incremental ring (see UringBufRing).
// Kernels before 6.12 refuse it with EINVAL.
func (r *Uring) NewIncBufRing(group uint16, entries int) (*UringBufRing, error) {
	b, err := r.newBufRing(group, entries, uringPbufRingInc)
	if err != nil {
		return nil, err
	}
	b.used = make([]uint32, entries)
	return b, nil
}

func (r *Uring) newBufRing(group uint16, entries int, flags uint16) (*UringBufRing, error) {
	if r.closed {
		return nil, ErrClosed
	}
	if entries <= 0 || entries > uringMaxEntries || entries&(entries-1) != 0 {
		return nil, fmt.Errorf("evsel: buffer ring of %d entries: want a power of two up to %d", entries, uringMaxEntries)
	}
	if _, dup := r.bufRings[group]; dup {
		return nil, fmt.Errorf("evsel: buffer group %d already registered", group)
	}
	size := entries * int(unsafe.Sizeof(uringBuf{}))
	page := os.Getpagesize()
	size = (size + page - 1) / page * page
	mem, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, os.NewSyscallError("mmap", err)
	}
	reg := uringBufReg{ringAddr: uint64(uintptr(unsafe.Pointer(&mem[0]))), ringEntries: uint32(entries), bgid: group, flags: flags}
	if err := r.register(uringRegisterPbufRing, unsafe.Pointer(&reg), 1); err != nil {
		unix.Munmap(mem)
		return nil, os.NewSyscallError("io_uring_register(PBUF_RING)", err)
	}
	b := &UringBufRing{
		r: r, group: group, mem: mem, mask: uint16(entries - 1),
		ring:    unsafe.Slice((*uringBuf)(unsafe.Pointer(&mem[0])), entries),
		tailPtr: (*uint32)(unsafe.Pointer(&mem[12])),
	}
	if r.bufRings == nil {
		r.bufRings = make(map[uint16]*UringBufRing)
	}
	r.bufRings[group] = b
	return b, nil
}

// Group is the buffer group id receives name to take from this ring.
func (b *UringBufRing) Group() uint16 { return b.group }

// Entries is how many buffers the ring holds at most.
func (b *UringBufRing) Entries() int { return len(b.ring) }

// Add gives buf to the kernel under id; its length is what a receive may
// fill. The buffer stays referenced by the ring until Close.
func (b *UringBufRing) Add(id uint16, buf []byte) {
	if int(id) >= len(b.bufs) {
		b.bufs = append(b.bufs, make([][]byte, int(id)+1-len(b.bufs))...)
	}
	b.bufs[id] = buf
	b.Recycle(id)
}

// Buffer returns the buffer given under id, at its full length; a
// completion's Res says how much of it the kernel filled (of a ring that
// is not incremental; Take serves both kinds).
func (b *UringBufRing) Buffer(id uint16) []byte {
	if int(id) >= len(b.bufs) {
		return nil
	}
	return b.bufs[id]
}

// Incremental reports whether the ring is incremental (NewIncBufRing).
func (b *UringBufRing) Incremental() bool { return b.used != nil }

// Take returns the bytes completion c reported in one of the ring's
// buffers, the buffer's id, and whether the buffer is the caller's again,
// to Recycle once the bytes are consumed: always for a ring that is not
// incremental, once the kernel has used it up for one that is. The
// capacity of data is the room the receive had, so a receive that filled
// it has len(data) == cap(data). ok is false if c reports no buffer.
// Completions must be taken in the order they are reaped.
func (b *UringBufRing) Take(c UringCQE) (data []byte, id uint16, last, ok bool) {
	id, ok = c.Buffer()
	if !ok || int(id) >= len(b.bufs) {
		return nil, id, false, false
	}
	buf := b.bufs[id]
	n := uint32(max(c.Res, 0))
	if b.used == nil {
		return buf[:n], id, true, true
	}
	from := b.used[id]
	data = buf[from : from+n]
	if c.Flags&uringCQEFlagBufMore != 0 {
		b.used[id] = from + n
		return data, id, false, true
	}
	b.used[id] = 0
	return data, id, true, true
}

// Recycle gives the buffer of id back to the kernel, once the data a
// completion reported in it has been consumed (and, for an incremental
// ring, once Take said the kernel is done with it).
func (b *UringBufRing) Recycle(id uint16) {
	buf := b.Buffer(id)
	if buf == nil {
		panic(fmt.Sprintf("evsel: buffer ring %d: no buffer with id %d", b.group, id))
	}
	// Field by field, never as a whole entry: the last two bytes of entry 0
	// are the tail, which the kernel may read at any moment (on a ring
	// without DEFER_TASKRUN, from another thread). A whole-entry store
	// zeroed it until publish, and a kernel that read that zero took it
	// for thousands of buffers past its head, the entries of buffers it
	// had already filled, and filled one still in use.
	i := b.tail & b.mask
	e := &b.ring[i]
	e.addr = uint64(uintptr(unsafe.Pointer(unsafe.SliceData(buf))))
	e.len = uint32(len(buf))
	if i == 0 {
		b.bid0 = id // stored by publish, with the tail it shares a word with
	} else {
		e.bid = id
	}
	b.tail++
	b.publish()
}

// publish makes the new tail visible with a release store, after the
// descriptions written before it. The tail is a 16-bit word and sync/atomic
// has no 16-bit store, so the aligned 32-bit word holding it and ring[0]'s
// id is stored whole, from this side's copies; only this side writes
// either half (the kernel reads them).
func (b *UringBufRing) publish() {
	var w uint32
	half := (*[2]uint16)(unsafe.Pointer(&w)) // in memory order: bytes 12-13, 14-15 of the entry
	half[0], half[1] = b.bid0, b.tail
	atomic.StoreUint32(b.tailPtr, w)
}

// Close unregisters the ring and releases it. The receives that name its
// group must have ended (their last completion reaped) before, for the
// kernel may still fill a buffer it took; the Uring's Close closes the
// rings left open after cancelling those receives.
func (b *UringBufRing) Close() error {
	if b.mem == nil {
		return ErrClosed
	}
	if b.r.closed {
		return ErrClosed
	}
	err := b.unregister()
	b.release(err == nil) // if still registered, the kernel may fill its buffers
	delete(b.r.bufRings, b.group)
	return err
}

func (b *UringBufRing) unregister() error {
	reg := uringBufReg{bgid: b.group}
	if err := b.r.register(uringUnregisterPbufRing, unsafe.Pointer(&reg), 1); err != nil {
		return os.NewSyscallError("io_uring_register(UNREGISTER_PBUF_RING)", err)
	}
	return nil
}

// release unmaps the ring of descriptions (whose pages the kernel pinned
// while registered) and, when done, forgets the buffers.
func (b *UringBufRing) release(done bool) {
	if b.mem != nil {
		unix.Munmap(b.mem)
	}
	if !done {
		uringGraveyard.keep(b.bufs)
	}
	b.mem, b.ring, b.bufs, b.tailPtr = nil, nil, nil, nil
}
