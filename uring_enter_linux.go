package evsel

import (
	"errors"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Submitting, waiting and reaping, and the hold table.
//
// Memory ordering. The kernel reads the SQ tail with acquire semantics and
// then the SQEs, and publishes the CQ tail with release semantics after
// writing the CQEs; it reads the CQ head to know which slots it may reuse.
// Go's sync/atomic operations are sequentially consistent, stronger than
// the release store (SQ tail, CQ head) and acquire load (CQ tail, SQ head,
// SQ flags) each side needs, so: fill the SQE with plain stores, then
// atomically store the tail; atomically load the CQ tail, then read the
// CQEs, then atomically store the head.

const (
	uringEnterGetEvents = 1 << 0
	uringEnterExtArg    = 1 << 3

	uringCancelAll = 1 << 0 // IORING_ASYNC_CANCEL_ALL
	uringCancelFd  = 1 << 1 // IORING_ASYNC_CANCEL_FD
	uringCancelAny = 1 << 2 // IORING_ASYNC_CANCEL_ANY

	// uringCloseUserData marks Close's own cancel request.
	uringCloseUserData = math.MaxUint64
	// uringCloseDrain bounds how long Close waits for cancelled requests.
	uringCloseDrain = 2 * time.Second
)

// uringTimespec is struct __kernel_timespec: 64-bit fields on every
// architecture, unlike unix.Timespec on 32-bit ones.
type uringTimespec struct {
	sec, nsec int64
}

func toUringTimespec(d time.Duration) uringTimespec {
	d = max(d, 0)
	return uringTimespec{sec: int64(d / time.Second), nsec: int64(d % time.Second)}
}

// uringGeteventsArg is struct io_uring_getevents_arg.
type uringGeteventsArg struct {
	sigmask     uint64
	sigmaskSz   uint32
	minWaitUsec uint32
	ts          uint64
}

// uringHold is what the kernel may still use of one in-flight request: a
// pointer that keeps the memory reachable (a buffer's first byte, a
// msghdr whose Go pointers lead to its iovecs and buffers, a sockaddr, a
// timespec), and whether the request is a multishot accept, whose
// unreaped completions carry descriptors Close must not leak.
type uringHold struct {
	p      unsafe.Pointer
	accept bool
}

// ErrUringBusy is returned by a builder when a request that holds memory
// is already in flight under the same user_data: the hold table is keyed
// by user_data, so such requests need distinct ones.
var ErrUringBusy = errors.New("evsel: io_uring user_data already holds memory in flight")

// ErrUringSQFull is returned by a builder when the submission queue stays
// full after submitting it (the kernel refuses more while its completion
// overflow list is full: reap, then retry).
var ErrUringSQFull = errors.New("evsel: io_uring submission queue full")

// next returns a zeroed SQE to fill, submitting the queue first when it is
// full. It counts the request in flight; the caller must fill it.
func (r *Uring) next() (*uringSQE, error) {
	if r.closed {
		return nil, ErrClosed
	}
	if r.sqeTail-atomic.LoadUint32(r.sqHead) >= r.sqEntries {
		if err := r.enter(0, 0, -1); err != nil {
			return nil, err
		}
		if r.sqeTail-atomic.LoadUint32(r.sqHead) >= r.sqEntries {
			return nil, ErrUringSQFull
		}
	}
	sqe := &r.sqes[r.sqeTail&r.sqMask]
	*sqe = uringSQE{}
	r.sqeTail++
	r.inflight++
	return sqe, nil
}

// busy reports whether userData already holds memory.
func (r *Uring) busy(userData uint64) error {
	if _, ok := r.hold[userData]; ok {
		return ErrUringBusy
	}
	return nil
}

// keep records p as held by the request of userData until its last
// completion is reaped.
func (r *Uring) keep(userData uint64, h uringHold) {
	if r.hold == nil {
		r.hold = make(map[uint64]uringHold)
	}
	r.hold[userData] = h
}

// Pending returns how many SQEs are queued but not yet submitted.
func (r *Uring) Pending() int { return int(r.sqeTail - atomic.LoadUint32(r.sqHead)) }

// InFlight returns how many requests were queued whose last completion has
// not been reaped; a multishot request counts once until it ends.
func (r *Uring) InFlight() int { return r.inflight }

// Submit hands the queued SQEs to the kernel and, without blocking, lets
// it post the completions it has (on a DEFER_TASKRUN ring they are posted
// only when asked). It makes a system call only when there is something
// to submit or to collect.
func (r *Uring) Submit() error { return r.SubmitAndWait(0) }

// SubmitAndWait hands the queued SQEs to the kernel and waits until at
// least one completion is ready to reap or timeout elapses: a negative
// timeout waits forever, zero does not wait (Submit). A timeout is not an
// error; ForEachCQE then visits nothing. An interrupted wait is resumed with
// the remaining time. It allocates nothing: the wait's timespec is the
// ring's (IORING_ENTER_EXT_ARG, Linux 5.11).
//
// EBUSY (or EAGAIN) means the kernel's completion overflow list is full:
// reap with ForEachCQE and call again. EEXIST means a SingleIssuer ring was
// used from another thread than its creator's.
func (r *Uring) SubmitAndWait(timeout time.Duration) error {
	if r.closed {
		return ErrClosed
	}
	if timeout == 0 {
		return r.enter(0, uringEnterGetEvents, 0)
	}
	return r.enter(1, uringEnterGetEvents, timeout)
}

// SubmitAndWaitRaw is SubmitAndWait made as one raw system call, without
// the Go scheduler's system-call bookkeeping, for the reason and at the
// cost RawWaiter describes: it waits at most MaxRawWait (a negative
// timeout too), and a signal ends the wait as the timeout does, so the
// caller returns to Go code at once.
func (r *Uring) SubmitAndWaitRaw(timeout time.Duration) error {
	if r.closed {
		return ErrClosed
	}
	if timeout == 0 {
		return r.enter(0, uringEnterGetEvents, 0)
	}
	if timeout < 0 || timeout > MaxRawWait {
		timeout = MaxRawWait
	}
	toSubmit := r.publishSQ()
	minComplete := uintptr(1)
	if r.Ready() > 0 {
		minComplete = 0 // do not sleep with completions to reap
	}
	arg, argSize := r.timeoutArg(timeout)
	_, _, e := syscall.RawSyscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), uintptr(toSubmit),
		minComplete, uringEnterGetEvents|uringEnterExtArg, arg, argSize)
	switch e {
	case 0, unix.ETIME, unix.EINTR:
		return nil
	}
	return wrapErr("io_uring_enter", e)
}

// enter calls io_uring_enter for the queued SQEs, waiting for minComplete
// completions for up to timeout (negative: no limit) when flags has
// GETEVENTS.
func (r *Uring) enter(minComplete uint32, flags uint32, timeout time.Duration) error {
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	for {
		toSubmit := r.publishSQ()
		f := flags
		if f&uringEnterGetEvents != 0 && minComplete == 0 && toSubmit == 0 &&
			r.flags&uringSetupDeferTaskrun == 0 &&
			atomic.LoadUint32(r.sqFlags)&(uringSQFlagTaskrun|uringSQFlagCQOverflow) == 0 {
			return nil // the kernel posts completions without being asked
		}
		if f&uringEnterGetEvents != 0 && minComplete > 0 && r.Ready() > 0 {
			minComplete = 0 // do not sleep with completions to reap
		}
		var arg, argSize uintptr
		if timeout > 0 && minComplete > 0 {
			left := time.Until(deadline)
			if left <= 0 {
				minComplete = 0
			}
			arg, argSize = r.timeoutArg(left)
			f |= uringEnterExtArg
		}
		if toSubmit == 0 && f&uringEnterGetEvents == 0 {
			return nil
		}
		_, _, e := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), uintptr(toSubmit),
			uintptr(minComplete), uintptr(f), arg, argSize)
		switch e {
		case 0:
			// A call that submitted reports the count even when a signal
			// cut its wait short; wait again for what is left.
			if minComplete > 0 && r.Ready() == 0 && (timeout < 0 || time.Until(deadline) > 0) {
				continue
			}
			return nil
		case unix.ETIME:
			return nil
		case unix.EINTR:
			continue // Go's preemption signal lands here often; resume with what is left
		}
		return wrapErr("io_uring_enter", e)
	}
}

// publishSQ hands the kernel the SQEs filled since the last call (a release
// store of the tail, after them) and returns how many it has not consumed.
func (r *Uring) publishSQ() uint32 {
	atomic.StoreUint32(r.sqTail, r.sqeTail)
	return r.sqeTail - atomic.LoadUint32(r.sqHead)
}

// timeoutArg returns io_uring_enter's EXT_ARG argument and its size for a
// wait bounded by timeout, in the Uring's fields (see waitArg).
func (r *Uring) timeoutArg(timeout time.Duration) (arg, size uintptr) {
	r.waitTS = toUringTimespec(timeout)
	r.waitArg = uringGeteventsArg{ts: uint64(uintptr(unsafe.Pointer(&r.waitTS)))}
	return uintptr(unsafe.Pointer(&r.waitArg)), unsafe.Sizeof(r.waitArg)
}

// Ready returns how many completions wait to be reaped.
func (r *Uring) Ready() int { return int(atomic.LoadUint32(r.cqTail) - *r.cqHead) }

// ForEachCQE calls fn with each completion ready, in order, and returns how
// many it visited. Each entry is copied out and the ring's head advanced
// before fn sees it, so fn may queue new requests (but must not call
// ForEachCQE, SubmitAndWait or Close), and a panic in fn loses no other
// completion. Reaping a request's last completion (More is false) drops the
// memory the ring held for it. It allocates nothing.
func (r *Uring) ForEachCQE(fn func(UringCQE)) int {
	return r.reap(func(c UringCQE, _ uringHold) { fn(c) })
}

func (r *Uring) reap(fn func(UringCQE, uringHold)) int {
	if r.closed {
		return 0
	}
	head := *r.cqHead // written by this side only
	tail := atomic.LoadUint32(r.cqTail)
	n := 0
	for ; head != tail; head++ {
		c := r.cqes[head&r.cqMask]
		var h uringHold
		if c.Flags&uringCQEFlagMore == 0 {
			r.inflight--
			if len(r.hold) > 0 {
				if held, ok := r.hold[c.UserData]; ok {
					h = held
					delete(r.hold, c.UserData)
				}
			}
		}
		atomic.StoreUint32(r.cqHead, head+1)
		n++
		fn(c, h)
	}
	return n
}

// Close cancels every request still in flight, waits (boundedly) for their
// last completions, closes the descriptors that multishot accepts
// delivered in completions nobody reaped, and releases the ring and its
// provided-buffer rings. Completions not reaped before Close are
// discarded, so an owner that wants them reaps first.
//
// On a SingleIssuer ring Close must run on the creating thread, like every
// other call; from another thread (or if the requests do not finish in
// time) it cannot know when the kernel is done with the memory they hold,
// so it keeps that memory reachable for the life of the process, closes the
// ring anyway and returns an error.
func (r *Uring) Close() error {
	if r.closed {
		return ErrClosed
	}
	err := r.drain()
	drained := err == nil
	if !drained {
		uringGraveyard.keep(r.hold) // and release keeps the buffers
	}
	r.closed = true
	if cerr := unix.Close(r.fd); cerr != nil && err == nil {
		err = os.NewSyscallError("close", cerr)
	}
	r.unmap()
	// Closing the ring drops its buffer-ring registrations; the kernel
	// pinned their pages, so unmapping them here is safe either way, and
	// with nothing in flight no buffer will be filled any more.
	for _, br := range r.bufRings {
		br.release(drained)
	}
	r.hold, r.bufRings = nil, nil
	r.files, r.fileSlots = nil, 0 // the registered file table went with the ring
	return err
}

// drain cancels everything in flight and reaps until nothing is.
func (r *Uring) drain() error {
	if r.inflight == 0 {
		return nil
	}
	sqe, err := r.next()
	if err != nil {
		return err
	}
	sqe.opcode = uint8(UringOpAsyncCancel)
	sqe.fd = -1
	sqe.opFlags = uringCancelAll | uringCancelAny
	sqe.userData = uringCloseUserData
	deadline := time.Now().Add(uringCloseDrain)
	for r.inflight > 0 {
		left := time.Until(deadline)
		if left <= 0 {
			return errors.New("evsel: io_uring requests still in flight after cancelling them")
		}
		if err := r.SubmitAndWait(left); err != nil {
			return err
		}
		r.reap(func(c UringCQE, h uringHold) {
			// An armed accept's hold is still in the table; its last
			// completion's was just taken out and handed over as h.
			accept := h.accept || c.More() && r.hold[c.UserData].accept
			if accept && c.Res >= 0 {
				unix.Close(int(c.Res))
			}
		})
	}
	return nil
}

// uringGraveyard keeps the memory of rings that were closed without knowing
// that the kernel was done with it: freeing it could let the kernel write
// into memory Go has reused. It only grows on misuse (Close from a foreign
// thread) or a kernel that does not finish cancelled requests.
var uringGraveyard graveyard

type graveyard struct {
	mu   sync.Mutex
	kept []any
}

func (g *graveyard) keep(v ...any) {
	g.mu.Lock()
	g.kept = append(g.kept, v...)
	g.mu.Unlock()
}
