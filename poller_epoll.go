//go:build linux

package evsel

import (
	"fmt"
	"math"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// epollPoller is the Linux backend. The interest set of each descriptor is
// stored in the kernel's copy of the event (the Pad field beside Fd), so
// Wait can mask hang-up and error bits by interest without a lookup table.
type epollPoller struct {
	epfd   int
	waker  *waker
	buf    []unix.EpollEvent
	closed bool
}

// newEpollPoller returns an epoll(7) poller.
func newEpollPoller() (Poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, wrapErr("epoll_create1", err)
	}
	w, err := newWaker()
	if err != nil {
		unix.Close(epfd)
		return nil, err
	}
	p := &epollPoller{epfd: epfd, waker: w}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(w.rfd)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, w.rfd, &ev); err != nil {
		w.close()
		unix.Close(epfd)
		return nil, wrapErr("epoll_ctl", err)
	}
	return p, nil
}

func (p *epollPoller) Name() string { return "epoll" }

func (p *epollPoller) ctl(op, fd int, ev Events) error {
	if p.closed {
		return ErrClosed
	}
	if fd < 0 || fd > math.MaxInt32 { // the kernel's int, which the event's Fd holds
		return wrapErr("epoll_ctl", unix.EBADF)
	}
	e := unix.EpollEvent{Fd: int32(fd), Pad: int32(ev)}
	if ev&EventRead != 0 {
		e.Events |= unix.EPOLLIN | unix.EPOLLRDHUP
	}
	if ev&EventWrite != 0 {
		e.Events |= unix.EPOLLOUT
	}
	if ev&EventEdge != 0 {
		e.Events |= unix.EPOLLET
	}
	return epollErr(unix.EpollCtl(p.epfd, op, fd, &e))
}

// epollErr turns the registration errnos into the sentinels every backend
// shares, so callers need not know which poller they hold; the errno stays
// in the chain, as Python's selectors reports it (FileNotFoundError from a
// modify of a descriptor closed and reused).
func epollErr(err error) error {
	switch err {
	case unix.ENOENT:
		return fmt.Errorf("%w (%w)", ErrNotRegistered, wrapErr("epoll_ctl", err))
	case unix.EEXIST:
		return fmt.Errorf("%w (%w)", ErrAlreadyRegistered, wrapErr("epoll_ctl", err))
	}
	return wrapErr("epoll_ctl", err)
}

func (p *epollPoller) Add(fd int, ev Events) error {
	return p.ctl(unix.EPOLL_CTL_ADD, fd, ev)
}

func (p *epollPoller) Modify(fd int, ev Events) error {
	return p.ctl(unix.EPOLL_CTL_MOD, fd, ev)
}

func (p *epollPoller) Delete(fd int) error {
	if p.closed {
		return ErrClosed
	}
	// A non-nil event keeps kernels before 2.6.9 happy and costs nothing.
	var e unix.EpollEvent
	return epollErr(unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, fd, &e))
}

func (p *epollPoller) Wait(events []Event, timeout time.Duration) (int, error) {
	buf, err := p.prepare(events)
	if err != nil || len(buf) == 0 {
		return 0, err
	}
	dl := newMillisDeadline(timeout)
	n, err := ignoringEINTR(func() (int, error) {
		ms := timeoutMillis(dl.remaining())
		if ms == 0 {
			return epollLook(p.epfd, buf)
		}
		return unix.EpollWait(p.epfd, buf, ms)
	})
	if err != nil {
		return 0, wrapErr("epoll_wait", err)
	}
	return p.deliver(buf[:n], events), nil
}

// WaitRaw is Wait as one raw system call, bounded by MaxRawWait; see
// RawWaiter.
func (p *epollPoller) WaitRaw(events []Event, timeout time.Duration) (int, error) {
	buf, err := p.prepare(events)
	if err != nil || len(buf) == 0 {
		return 0, err
	}
	if timeout < 0 || timeout > MaxRawWait {
		timeout = MaxRawWait
	}
	n, err := epollWaitRaw(p.epfd, buf, timeoutMillis(timeout))
	if err == errEINTR {
		return 0, nil // back to Go code, where a preemption the runtime asked for is taken
	}
	if err != nil {
		return 0, wrapErr("epoll_wait", err)
	}
	return p.deliver(buf[:n], events), nil
}

// prepare returns the kernel's event buffer for a wait that fills events.
func (p *epollPoller) prepare(events []Event) ([]unix.EpollEvent, error) {
	if p.closed {
		return nil, ErrClosed
	}
	if cap(p.buf) < len(events) {
		p.buf = make([]unix.EpollEvent, len(events))
	}
	return p.buf[:len(events)], nil
}

// deliver converts what the kernel reported into events, draining the
// waker's, and returns how many it filled.
func (p *epollPoller) deliver(buf []unix.EpollEvent, events []Event) int {
	out := 0
	for i := range buf {
		e := &buf[i]
		if int(e.Fd) == p.waker.rfd {
			p.waker.drain()
			continue
		}
		interest := Events(e.Pad)
		var ready Events
		if e.Events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR|unix.EPOLLPRI) != 0 {
			ready |= EventRead
		}
		if e.Events&(unix.EPOLLOUT|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
			ready |= EventWrite
		}
		ready &= interest
		if ready == 0 {
			// Hang-up or error on a descriptor with an empty interest set.
			// Report it as both so the owner notices; it asked for nothing,
			// so it must look at the descriptor's state itself.
			ready = EventReadWrite
		}
		events[out] = Event{Fd: int(e.Fd), Events: ready}
		out++
	}
	return out
}

func (p *epollPoller) Wake() error { return p.waker.wake() }

func (p *epollPoller) Close() error {
	if p.closed {
		return ErrClosed
	}
	p.closed = true
	err := unix.Close(p.epfd)
	if err2 := p.waker.close(); err == nil {
		return err2
	}
	return wrapErr("close", err)
}

// epollLook is epoll_wait with a zero timeout, which returns at once, so
// it is made without telling the scheduler (RawSyscall), as the sockets'
// Try calls are: see socket_try.go. An event loop looks this way after
// every busy iteration.
func epollLook(epfd int, buf []unix.EpollEvent) (int, error) {
	return epollWaitRaw(epfd, buf, 0)
}

// epollWaitRaw is epoll_wait without telling the scheduler; ms must be
// short (see RawWaiter).
func epollWaitRaw(epfd int, buf []unix.EpollEvent, ms int) (int, error) {
	r, _, e := syscall.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd),
		uintptr(unsafe.Pointer(unsafe.SliceData(buf))), uintptr(len(buf)), uintptr(ms), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

var _ RawWaiter = (*epollPoller)(nil)
