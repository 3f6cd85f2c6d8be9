package loop

import (
	"golang.org/x/sys/unix"

	"github.com/evsel/evsel"
)

// The completion driver's listeners (multishot accepts) and datagram
// sockets (see uringDriver).

func (d *uringDriver) listen(ln *listener) error {
	if err := d.r.PrepAcceptMultishot(ud(kAccept, ln.fd), ln.fd); err != nil {
		return err
	}
	d.started(ln.fd)
	ln.armed = true
	return nil
}

// accepted serves a completion of a listener's multishot accept. An error
// (EMFILE ...) ends the accept; it is armed again at once unless
// acceptFailed paused the listener, whose resume arms it after
// acceptBackoff.
func (d *uringDriver) accepted(fd int, cqe evsel.UringCQE) {
	var ln *listener
	for _, x := range d.l.listeners {
		if x.fd == fd && x.sock != nil {
			ln = x
			break
		}
	}
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
		d.r.PrepCancel(ud(kCancel, ln.fd), ud(kAccept, ln.fd))
	}
}

func (d *uringDriver) resumeListener(ln *listener) error {
	if ln.armed {
		return nil // its cancel has not completed; the completion re-arms it
	}
	return d.listen(ln)
}

func (d *uringDriver) closeListener(ln *listener) {
	ln.armed = false
	d.closeFd(ln.fd, *ln.sock)
}

// Datagram sockets: a one-shot poll, queued again after each completion,
// gives the readiness the packet code expects (level-triggered).

func (d *uringDriver) addPacket(pc *PacketConn) error {
	return d.pollPacket(pc, evsel.EventRead)
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
	return nil
}
