//go:build unix

package evsel

import (
	"math"
	"time"

	"golang.org/x/sys/unix"
)

// pollPoller is the portable poll(2) backend. Its cost per Wait grows with the
// number of watched descriptors, which is why it is never the default; it
// exists for platforms without a better mechanism and to prove that nothing
// above this package depends on one backend's quirks.
type pollPoller struct {
	fds    []unix.PollFd // fds[0] is the waker
	index  map[int]int   // fd -> position in fds
	waker  *waker
	next   int // where the next scan starts, so no descriptor starves
	closed bool
}

// newPollPoller returns a poll(2) poller. It supports level-triggered
// readiness only.
func newPollPoller() (Poller, error) {
	w, err := newWaker()
	if err != nil {
		return nil, err
	}
	return &pollPoller{
		fds:   []unix.PollFd{{Fd: int32(w.rfd), Events: unix.POLLIN}},
		index: make(map[int]int),
		waker: w,
		next:  1,
	}, nil
}

func (p *pollPoller) Name() string { return "poll" }

func pollEvents(ev Events) int16 {
	var e int16
	if ev&EventRead != 0 {
		e |= unix.POLLIN
	}
	if ev&EventWrite != 0 {
		e |= unix.POLLOUT
	}
	return e
}

func (p *pollPoller) Add(fd int, ev Events) error {
	switch {
	case p.closed:
		return ErrClosed
	case ev&EventEdge != 0:
		return ErrEdgeUnsupported
	case fd < 0 || fd > math.MaxInt32: // a pollfd holds a C int
		return wrapErr("poll", unix.EBADF)
	}
	if _, ok := p.index[fd]; ok {
		return ErrAlreadyRegistered
	}
	p.index[fd] = len(p.fds)
	p.fds = append(p.fds, unix.PollFd{Fd: int32(fd), Events: pollEvents(ev)})
	return nil
}

func (p *pollPoller) Modify(fd int, ev Events) error {
	if p.closed {
		return ErrClosed
	}
	if ev&EventEdge != 0 {
		return ErrEdgeUnsupported
	}
	i, ok := p.index[fd]
	if !ok {
		return ErrNotRegistered
	}
	p.fds[i].Events = pollEvents(ev)
	return nil
}

func (p *pollPoller) Delete(fd int) error {
	if p.closed {
		return ErrClosed
	}
	i, ok := p.index[fd]
	if !ok {
		return ErrNotRegistered
	}
	last := len(p.fds) - 1
	if i != last {
		p.fds[i] = p.fds[last]
		p.index[int(p.fds[i].Fd)] = i
	}
	p.fds = p.fds[:last]
	delete(p.index, fd)
	return nil
}

func (p *pollPoller) Wait(events []Event, timeout time.Duration) (int, error) {
	if p.closed {
		return 0, ErrClosed
	}
	dl := newMillisDeadline(timeout)
	n, err := ignoringEINTR(func() (int, error) {
		return unix.Poll(p.fds, timeoutMillis(dl.remaining()))
	})
	if err != nil {
		return 0, wrapErr("poll", err)
	}
	if n == 0 {
		return 0, nil
	}
	if p.fds[0].Revents != 0 {
		p.waker.drain()
		n--
	}
	total := len(p.fds) - 1
	if p.next > total {
		p.next = 1
	}
	out := 0
	for scanned, i := 0, p.next; scanned < total && n > 0 && out < len(events); scanned++ {
		pfd := &p.fds[i]
		if re := pfd.Revents; re != 0 {
			n--
			var ready Events
			if re&(unix.POLLIN|unix.POLLHUP|unix.POLLERR|unix.POLLNVAL|unix.POLLPRI) != 0 {
				ready |= EventRead
			}
			if re&(unix.POLLOUT|unix.POLLHUP|unix.POLLERR|unix.POLLNVAL) != 0 {
				ready |= EventWrite
			}
			interest := Events(0)
			if pfd.Events&unix.POLLIN != 0 {
				interest |= EventRead
			}
			if pfd.Events&unix.POLLOUT != 0 {
				interest |= EventWrite
			}
			if ready&interest != 0 {
				ready &= interest
			}
			events[out] = Event{Fd: int(pfd.Fd), Events: ready}
			out++
			p.next = i + 1
		}
		if i++; i > total {
			i = 1
		}
	}
	return out, nil
}

func (p *pollPoller) Wake() error { return p.waker.wake() }

func (p *pollPoller) Close() error {
	if p.closed {
		return ErrClosed
	}
	p.closed = true
	p.fds, p.index = nil, nil
	return p.waker.close()
}
