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
	// another goroutine is writing to them.
	mu     sync.RWMutex
	closed bool
}

func (w *waker) wake() error {
	if !w.pending.CompareAndSwap(false, true) {
		return nil
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		return ErrClosed
	}
	one := [8]byte{1} // an eventfd counter increment of 1 (little- or big-endian both non-zero)
	for {
		_, err := unix.Write(w.wfd, one[:])
		switch err {
		case nil, unix.EAGAIN: // EAGAIN: already readable, the wake-up is pending anyway
			return nil
		case unix.EINTR:
			continue
		default:
			w.pending.Store(false)
			return wrapErr("write", err)
		}
	}
}

// drain consumes pending wake-ups. The flag is cleared before reading so that
// a Wake racing with drain either lands in this read or makes the next Wait
// return; it is never lost.
func (w *waker) drain() {
	w.pending.Store(false)
	for {
		_, err := unix.Read(w.rfd, w.buf[:])
		if err == unix.EINTR {
			continue
		}
		if err != nil || w.rfd == w.wfd { // eventfd: one read resets the counter
			return
		}
	}
}

func (w *waker) close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	err := unix.Close(w.rfd)
	if w.wfd != w.rfd {
		if err2 := unix.Close(w.wfd); err == nil {
			err = err2
		}
	}
	return wrapErr("close", err)
}
