package loop

import (
	"golang.org/x/sys/unix"

	"github.com/evsel/evsel"
)

// The completion driver's listeners and datagram sockets (see
// uringDriver).

// uringMultishotAccept chooses a multishot accept per listener over a
// one-shot poll of it followed by the readiness driver's accept loop.
//
// The kernel waits for connections of an accept request exclusively
// (EPOLLEXCLUSIVE: one waiter is woken per connection, against the
// thundering herd). When a listening socket is shared with another
// process, as in a handoff (PassListeners, ServeInherited), a wake-up
// handed to the draining process's accept just as it is cancelled is
// lost: the connection waits in the backlog, and the successor's accept
// is not woken until another one arrives (TestHandoff on io_uring: the
// clients stalled in 1 run in 20). A poll request waits like epoll, not
// exclusively, and the accept loop then takes the backlog whole, so
// listeners are polled; what multishot accept saves is one accept4 system
// call per connection, not per message.
const uringMultishotAccept = false

func (d *uringDriver) listen(ln *listener) error {
	if d.armFails() {
		return evsel.ErrUringSQFull
	}
	var err error
	if uringMultishotAccept {
		err = d.r.PrepAcceptMultishot(ud(kAccept, ln.fd), ln.fd)
	} else {
		err = d.r.PrepPoll(ud(kListen, ln.fd), ln.fd, unix.POLLIN)
	}
	if err != nil {
		return err
	}
	d.started(ln.fd)
	ln.armed = true
	return nil
}

// listener returns the live listener of descriptor fd, or nil.
func (d *uringDriver) listener(fd int) *listener {
	for _, ln := range d.l.listeners {
		if ln.fd == fd && ln.sock != nil {
			return ln
		}
	}
	return nil
}

// readable serves the completion of a listener's poll: the accept loop
// takes what is pending, and the poll is queued again (level-triggered:
// it completes at once if the loop left connections in the backlog).
func (d *uringDriver) readable(fd int, cqe evsel.UringCQE) {
	ln := d.listener(fd)
	if ln == nil {
		return
	}
	ln.armed = false
	if cqe.Res > 0 && !ln.paused {
		ln.accept()
	}
	if ln.sock != nil && !ln.paused && !ln.armed && d.listen(ln) != nil {
		d.relisten = append(d.relisten, ln) // poll queues it (rearm)
	}
}

// accepted serves a completion of a listener's multishot accept. An error
// (EMFILE ...) ends the accept; it is armed again at once unless
// acceptFailed paused the listener, whose resume arms it after
// acceptBackoff. (acceptFailed does not pause on an EMFILE with nobody
// waiting: armed again at once, a multishot accept, which takes a
// descriptor before it looks at the backlog, would fail at once again.
// Before uringMultishotAccept is turned on, that case must pause.)
func (d *uringDriver) accepted(fd int, cqe evsel.UringCQE) {
	ln := d.listener(fd)
	if ln != nil && !cqe.More() {
		ln.armed = false
	}
	switch err := cqe.Err(); {
	case err == nil && ln == nil:
		unix.Close(int(cqe.Res)) // the listener closed meanwhile
	case err == nil:
		ln.accepted(evsel.UringSocket(int(cqe.Res)))
	case ln != nil && err != unix.ECANCELED:
		ln.acceptFailed(err)
	}
	if ln != nil && ln.sock != nil && !ln.paused && !ln.armed {
		if err := d.listen(ln); err != nil {
			d.l.e.log.Error("loop: re-arming accept", "loop", d.l.id, "err", err)
		}
	}
}

func (d *uringDriver) pauseListener(ln *listener) {
	if ln.armed {
		target := ud(kListen, ln.fd)
		if uringMultishotAccept {
			target = ud(kAccept, ln.fd)
		}
		d.r.PrepCancel(ud(kCancel, ln.fd), target)
	}
}

func (d *uringDriver) resumeListener(ln *listener) error {
	if ln.armed {
		return nil // its cancel has not completed; the completion re-arms it
	}
	return d.listen(ln)
}

// closeListener closes the listener's socket once its poll is cancelled.
// The listener is dead (see listener.close) before settleClose serves that
// cancellation: found live, readable would accept on the descriptor closed
// a moment before and queue a poll of it again, which the next file to
// take its number (any socket the process opens) would get, held in the
// kernel past its close.
func (d *uringDriver) closeListener(ln *listener, s *evsel.Socket) {
	ln.armed = false
	d.closeFd(ln.fd, *s)
	d.settleClose(ln.fd)
}

// Datagram sockets: a one-shot poll, queued again after each completion,
// gives the readiness the packet code expects (level-triggered).

func (d *uringDriver) addPacket(pc *PacketConn) error {
	return d.pollPacket(pc, pc.events)
}

func (d *uringDriver) pollPacket(pc *PacketConn, want evsel.Events) error {
	var mask uint16
	if want&evsel.EventRead != 0 {
		mask |= unix.POLLIN
	}
	if want&evsel.EventWrite != 0 {
		mask |= unix.POLLOUT
	}
	if err := d.r.PrepPoll(ud(kPoll, pc.fd), pc.fd, uint32(mask)); err != nil {
		return err
	}
	d.started(pc.fd)
	d.fd(pc.fd).pollEv = mask
	return nil
}

// watchPacket changes the poll's events: an armed poll with others is
// cancelled, and its completion queues the new one.
func (d *uringDriver) watchPacket(pc *PacketConn, want evsel.Events) error {
	f := d.fd(pc.fd)
	if f.pollEv == 0 {
		return d.pollPacket(pc, want)
	}
	return d.r.PrepCancel(ud(kCancel, pc.fd), ud(kPoll, pc.fd))
}

func (d *uringDriver) polled(fd int, cqe evsel.UringCQE) {
	d.fd(fd).pollEv = 0
	l := d.l
	if l.pk == nil {
		return
	}
	var pc *PacketConn
	for _, x := range l.pk.conns {
		if x.fd == fd {
			pc = x
			break
		}
	}
	if pc == nil || pc.closed.Load() {
		return
	}
	if cqe.Res > 0 {
		var ev evsel.Events
		if cqe.Res&(unix.POLLIN|unix.POLLERR|unix.POLLHUP) != 0 {
			ev |= evsel.EventRead
		}
		if cqe.Res&(unix.POLLOUT|unix.POLLERR|unix.POLLHUP) != 0 {
			ev |= evsel.EventWrite
		}
		l.dispatchPacket(evsel.Event{Fd: fd, Events: ev})
	}
	if !pc.closed.Load() && d.fd(fd).pollEv == 0 {
		if err := d.pollPacket(pc, pc.events); err != nil {
			l.packetError(pc, err)
		}
	}
}

func (d *uringDriver) closePacket(pc *PacketConn) error {
	d.closeFd(pc.fd, *pc.sock)
	d.settleClose(pc.fd)
	return nil
}
