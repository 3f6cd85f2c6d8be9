//go:build unix

package evsel

import (
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// waker lets any goroutine interrupt a Wait: a descriptor that the poller
// watches for reading and that Wake makes readable. On Linux it is one
// eventfd; elsewhere it is a pipe. Wakes between two drains coalesce, so a
// storm of Wake calls costs one system call per loop iteration.
type waker struct {
	rfd, wfd int
	pending  atomic.Bool
	buf      [64]byte

	// mu keeps close from recycling the descriptors while a Wake from
	// another goroutine is writing to them. closed is set under mu, and read
	// without it only on the fast path.
	mu     sync.RWMutex
	closed atomic.Bool
}

// wakeToken is what Wake writes: an eventfd counter increment of 1 (non-zero
// whether read little- or big-endian). It lives outside wake because a local
// array escapes to the heap in race-enabled builds, where x/sys hands the
// buffer to the race detector; Wake must not allocate.
var wakeToken = [8]byte{1}

func (w *waker) wake() error {
	// Checked before the coalescing test too, so that a Wake after Close
	// fails the same way whether or not a wake-up was pending at Close.
	if w.closed.Load() {
		return ErrClosed
	}
	if !w.pending.CompareAndSwap(false, true) {
		return nil
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed.Load() {
		return ErrClosed
	}
	_, err := ignoringEINTR(func() (int, error) { return unix.Write(w.wfd, wakeToken[:]) })
	switch err {
	case nil, unix.EAGAIN: // EAGAIN: already readable, the wake-up is pending anyway
		return nil
	default:
		w.pending.Store(false)
		return wrapErr("write", err)
	}
}

// drain consumes pending wake-ups, then clears the flag. The order matters.
// A Wake that still finds the flag set returns without writing; that is
// safe because it happened before the flag was cleared, that is before the
// Wait now returning, so the caller's loop sees whatever the Wake announced.
// A Wake after the clear writes and makes the next Wait return. Clearing the
// flag first instead would let a Wake set it again and land its write in the
// read below: the flag would then stay set with nothing to read, and every
// later Wake would be swallowed, leaving a Wait(-1) blocked for ever.
func (w *waker) drain() {
	for {
		_, err := ignoringEINTR(func() (int, error) { return unix.Read(w.rfd, w.buf[:]) })
		if err != nil || w.rfd == w.wfd { // eventfd: one read resets the counter
			break
		}
	}
	w.pending.Store(false)
}

func (w *waker) close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed.Store(true)
	err := unix.Close(w.rfd)
	if w.wfd != w.rfd {
		if err2 := unix.Close(w.wfd); err == nil {
			err = err2
		}
	}
	return wrapErr("close", err)
}
