//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package evsel

import (
	"errors"
	"time"

	"golang.org/x/sys/unix"
)

// kqueuePoller is the BSD and macOS backend. kqueue watches read and write as
// two independent filters, so the poller remembers each descriptor's interest
// to know which filters to add or delete on Modify.
type kqueuePoller struct {
	kq       int
	waker    *waker
	interest map[int]Events
	changes  []unix.Kevent_t
	buf      []unix.Kevent_t
	ts       unix.Timespec
	closed   bool
}

// newKqueuePoller returns a kqueue(2) poller.
func newKqueuePoller() (Poller, error) {
	kq, err := unix.Kqueue()
	if err != nil {
		return nil, wrapErr("kqueue", err)
	}
	unix.CloseOnExec(kq)
	w, err := newWaker()
	if err != nil {
		unix.Close(kq)
		return nil, err
	}
	p := &kqueuePoller{kq: kq, waker: w, interest: make(map[int]Events)}
	p.changes = p.changes[:0]
	p.change(w.rfd, unix.EVFILT_READ, unix.EV_ADD|unix.EV_ENABLE)
	if err := p.apply(); err != nil {
		w.close()
		unix.Close(kq)
		return nil, err
	}
	return p, nil
}

func (p *kqueuePoller) Name() string { return "kqueue" }

func (p *kqueuePoller) change(fd, filter, flags int) {
	var k unix.Kevent_t
	unix.SetKevent(&k, fd, filter, flags)
	p.changes = append(p.changes, k)
}

func (p *kqueuePoller) apply() error {
	_, err := ignoringEINTR(func() (int, error) {
		return unix.Kevent(p.kq, p.changes, nil, nil)
	})
	p.changes = p.changes[:0]
	return wrapErr("kevent", err)
}

// update moves fd's filters from interest old to new.
func (p *kqueuePoller) update(fd int, old, ev Events) error {
	add := unix.EV_ADD | unix.EV_ENABLE
	if ev&EventEdge != 0 {
		add |= unix.EV_CLEAR
	}
	edgeChanged := (old^ev)&EventEdge != 0
	for _, f := range [...]struct {
		bit    Events
		filter int
	}{{EventRead, unix.EVFILT_READ}, {EventWrite, unix.EVFILT_WRITE}} {
		switch {
		case ev&f.bit != 0 && (old&f.bit == 0 || edgeChanged):
			p.change(fd, f.filter, add)
		case ev&f.bit == 0 && old&f.bit != 0:
			p.change(fd, f.filter, unix.EV_DELETE)
		}
	}
	if len(p.changes) == 0 {
		return nil
	}
	return p.apply()
}

func (p *kqueuePoller) Add(fd int, ev Events) error {
	if p.closed {
		return ErrClosed
	}
	if _, ok := p.interest[fd]; ok {
		return ErrAlreadyRegistered
	}
	if err := p.update(fd, 0, ev); err != nil {
		return err
	}
	p.interest[fd] = ev
	return nil
}

func (p *kqueuePoller) Modify(fd int, ev Events) error {
	if p.closed {
		return ErrClosed
	}
	old, ok := p.interest[fd]
	if !ok {
		return ErrNotRegistered
	}
	if err := p.update(fd, old, ev); err != nil {
		return err
	}
	p.interest[fd] = ev
	return nil
}

func (p *kqueuePoller) Delete(fd int) error {
	if p.closed {
		return ErrClosed
	}
	old, ok := p.interest[fd]
	if !ok {
		return ErrNotRegistered
	}
	delete(p.interest, fd)
	err := p.update(fd, old, 0)
	// kqueue drops the filters of a closed descriptor by itself.
	if err != nil && (errors.Is(err, unix.EBADF) || errors.Is(err, unix.ENOENT)) {
		return nil
	}
	return err
}

func (p *kqueuePoller) Wait(events []Event, timeout time.Duration) (int, error) {
	if p.closed {
		return 0, ErrClosed
	}
	if len(events) == 0 {
		return 0, nil
	}
	if cap(p.buf) < len(events) {
		p.buf = make([]unix.Kevent_t, len(events))
	}
	buf := p.buf[:len(events)]
	dl := newDeadline(timeout)
	n, err := ignoringEINTR(func() (int, error) {
		var tsp *unix.Timespec
		if left := dl.remaining(); left >= 0 {
			p.ts = unix.NsecToTimespec(int64(left))
			tsp = &p.ts
		}
		return unix.Kevent(p.kq, nil, buf, tsp)
	})
	if err != nil {
		return 0, wrapErr("kevent", err)
	}
	out := 0
	for i := 0; i < n; i++ {
		k := &buf[i]
		fd := int(k.Ident)
		if fd == p.waker.rfd {
			p.waker.drain()
			continue
		}
		var ready Events
		switch {
		case k.Flags&unix.EV_ERROR != 0:
			ready = EventReadWrite & p.interest[fd]
		case k.Filter == unix.EVFILT_READ:
			ready = EventRead
		case k.Filter == unix.EVFILT_WRITE:
			ready = EventWrite
		}
		if ready == 0 {
			continue
		}
		// Read and write filters of one descriptor arrive as two kevents;
		// they are usually adjacent, and merging them keeps one report per fd.
		if out > 0 && events[out-1].Fd == fd {
			events[out-1].Events |= ready
			continue
		}
		events[out] = Event{Fd: fd, Events: ready}
		out++
	}
	return out, nil
}

func (p *kqueuePoller) Wake() error { return p.waker.wake() }

func (p *kqueuePoller) Close() error {
	if p.closed {
		return ErrClosed
	}
	p.closed = true
	err := unix.Close(p.kq)
	if err2 := p.waker.close(); err == nil {
		return err2
	}
	return wrapErr("close", err)
}
