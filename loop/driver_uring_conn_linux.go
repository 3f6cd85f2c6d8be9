package loop

import (
	"io"
	"math"
	"net"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/evsel/evsel"
)

// The completion driver's connections: receives, sends, connects and
// closes (see uringDriver).

// received serves a completion of a connection's receive.
func (d *uringDriver) received(fd int, cqe evsel.UringCQE) {
	l := d.l
	c := l.fds.get(fd)
	live := c != nil && !c.closed.Load()
	if live && !cqe.More() {
		c.flags &^= flagRecv
		c.markDirty() // settle arms the next if still wanted
	}
	data, id, last, hasBuf := d.br.Take(cqe)
	if cqe.Res > 0 && hasBuf {
		if live && c.flags&(flagCloseNow|flagClosing|flagEOF|flagDialing) == 0 {
			// Capped: past data, an incremental buffer is where the
			// kernel's next receives write.
			d.take(c, data[:len(data):len(data)])
		}
		if last {
			d.bufs.put(id)
		}
		if live && len(data) == cap(data) {
			d.readMore(c) // it filled the room it had
		}
		return
	}
	if hasBuf && last {
		d.bufs.put(id)
	}
	if !live || c.flags&flagEOF != 0 {
		// A multishot receive's completions queued behind the end of the
		// stream, or behind a close_notify that ended it first.
		return
	}
	if c.flags&flagDraining != 0 { // its bytes were dropped above (drain.go)
		switch err := cqe.Err(); {
		case err == unix.ENOBUFS:
			d.bufs.ranShort() // the receive is armed again; what waits is read then
		case err == unix.ECANCELED:
		default: // the peer's end of stream, or a reset: the drain is over
			c.closeWith(nil, true)
		}
		return
	}
	switch err := cqe.Err(); {
	case cqe.Res == 0 && c.holdEnd(heldEOF):
		// Paused by the handler (flow.go): the end waits for the input
		// received before it to be handed over.
	case cqe.Res == 0 && c.flags&flagTLS != 0:
		l.tlsReceived(c, nil, io.EOF) // the handshake or close_notify decides
	case cqe.Res == 0 && c.flags&flagClosing != 0:
		// The receive in flight when the handler closed brought the end
		// of stream: the close keeps its own reason (nil for Close), as
		// on the readiness driver, which reads no more once closing. No
		// flagEOF, which would make it io.EOF; nothing is left unread, so
		// settle finishes it without a drain once its output is out.
	case cqe.Res == 0:
		l.peerEOF(c)
	case err == unix.ENOBUFS:
		d.bufs.ranShort()
		// Bytes are waiting but the ring had no buffer left: read them
		// now, as epoll would, and settle arms the receive again. Only
		// arming it again would starve the connection under a flood: its
		// receive, queued behind the others' in the order their
		// completions came, would find the ring emptied by theirs every
		// time (a client on a loop busy with 75 flooders got no answer
		// for the whole flood).
		if !cqe.More() {
			d.readNow(c)
		}
	case err == unix.ECANCELED:
		// Stopped on purpose: settle decides whether to arm it again.
	default:
		c.fail(err)
	}
}

// readMore follows a receive that filled its buffer with a plain read of
// what else is waiting, into the loop's read buffer, as the readiness
// driver takes up to ReadBufferSize at once. Without it a message larger
// than a provided buffer would take one iteration per buffer, and with
// Nagle's algorithm each piece after the first waits for the peer's
// delayed acknowledgement (40 ms on Linux) before it is echoed. It is
// skipped with multishot receives, which are still armed and would race
// it.
func (d *uringDriver) readMore(c *Conn) {
	if !d.multishot {
		d.readNow(c)
	}
}

// readNow reads what is waiting on c with a plain read into the loop's
// read buffer, unless c should not read now, as on epoll. No receive of
// c's may be armed.
func (d *uringDriver) readNow(c *Conn) {
	l := d.l
	if c.flags&(noRead|flagCloseNow) != 0 ||
		c.outLen > l.e.opts.HighWater ||
		(l.e.opts.MaxMemory > 0 && l.memRefuse(c, len(l.buf))) {
		return
	}
	l.read(c)
}

// take hands received bytes to the handler. A receive cannot be undone:
// bytes that arrive after the loop stopped wanting them (the connection
// was paused meanwhile by output a timer or task wrote, or by the memory
// budget) are handed over all the same: one receive's worth at most, since
// a paused connection's receive is not armed again, or for a multishot
// receive what it takes before the cancel the pause sends lands, at most
// its limit.
func (d *uringDriver) take(c *Conn, data []byte) {
	l := d.l
	c.markDirty()
	if c.flags&flagTLS != 0 {
		// Ciphertext: crypto/tls copies it in, and the plaintext it gives
		// back goes to Inbound as on epoll.
		l.tlsReceived(c, data, nil)
		return
	}
	size := 0
	if l.e.opts.MaxMemory > 0 {
		// What the read path asks the budget before it reads: the bytes
		// alone, or the larger buffer a partial message grows into. A
		// refusal pauses c (or closes the largest holders), but the bytes
		// are received: they go in all the same, in a buffer grown only
		// as much as they need.
		if len(c.in) > 0 && cap(c.in)-len(c.in) < len(data) {
			size, _ = l.inputRoom(c, inputGrowth(c, len(data)), len(c.in)+len(data))
		} else {
			l.memRefuse(c, len(data))
		}
	}
	if c.flags&flagCloseNow == 0 {
		l.input(c, data, size)
	}
}

// sent serves the completion of a connection's send.
func (d *uringDriver) sent(fd int, cqe evsel.UringCQE) {
	if slot := int32(cqe.UserData>>udSlotShift&udSlotMask) - 1; slot >= 0 {
		s := d.sends[slot]
		s.msg = unix.Msghdr{}
		clear(s.iov[:]) // no reference to the chunks is kept
		d.free = append(d.free, slot)
	}
	l := d.l
	c := l.fds.get(fd)
	if c == nil || c.closed.Load() || c.flags&flagSending == 0 {
		return // closed meanwhile: its output went with it
	}
	if cqe.Res == -int32(unix.EAGAIN) {
		d.awaitRoom(c, fd)
		return
	}
	c.flags &^= flagSending
	c.events &^= evsel.EventWrite
	c.markDirty()
	if cqe.Res < 0 {
		c.fail(cqe.Err())
		return
	}
	c.wrote(int(cqe.Res))
	c.advance(int(cqe.Res))
}

// awaitRoom serves a send the kernel gave back unsent with EAGAIN. The
// ring waits for room itself when a socket is full, but not always: with
// small socket buffers (tcp_wmem "4096 16384 131072") a send it retried once
// after the socket polled writable can still find no room, and it then
// completes with EAGAIN instead of waiting again (TestHalfClose failed one
// run in three on io_uring in a namespace with such buffers). Nothing was
// sent, so the output is as it was: the connection waits for POLLOUT
// through the ring, still marked sending so that nothing else is
// submitted, and roomMade sends again.
func (d *uringDriver) awaitRoom(c *Conn, fd int) {
	err := d.r.PrepPoll(ud(kRoom, fd), fd, unix.POLLOUT)
	if err == nil {
		d.started(fd)
		d.roomWaits++
		return
	}
	c.flags &^= flagSending
	c.events &^= evsel.EventWrite
	if !d.ringBusy(c, err) { // else the next iteration sends again
		c.fail(err)
	}
}

// roomMade serves the completion of awaitRoom's poll: whatever it says
// (writable, an error or hang-up the next send will report, or cancelled
// by a close that has already run), the connection may send again.
func (d *uringDriver) roomMade(fd int) {
	c := d.l.fds.get(fd)
	if c == nil || c.closed.Load() || c.flags&flagSending == 0 {
		return
	}
	c.flags &^= flagSending
	c.events &^= evsel.EventWrite
	c.markDirty()
}

// uringMaxSend caps what one send hands the kernel, about what a socket's
// send buffer holds. The kernel finishes a stream send it has taken even
// if that means waiting for the peer, so everything submitted is beyond
// recall: uncapped, a 32 MiB Write followed by Abort would still send all
// 32 MiB, where on epoll Abort drops what the socket has not taken.
const uringMaxSend = 256 << 10

// flush sends the output queue, as much of it as one sendmsg takes; the
// chunks stay pinned until its completion, and writes meanwhile go behind
// them (Conn.queue only appends past what is in flight).
func (d *uringDriver) flush(c *Conn) {
	if c.flags&flagSending != 0 || c.outLen == 0 {
		return
	}
	fd := c.fd()
	var err error
	if len(c.out) == 1 {
		b := c.out[0]
		if len(b) > uringMaxSend {
			b = b[:uringMaxSend]
		}
		err = d.r.PrepSend(ud(kSend, fd), fd, b)
	} else {
		var slot int32
		if k := len(d.free); k > 0 {
			slot, d.free = d.free[k-1], d.free[:k-1]
		} else {
			slot = int32(len(d.sends))
			d.sends = append(d.sends, new(uringSend))
		}
		s := d.sends[slot]
		n, total := 0, 0
		for _, b := range c.out {
			if n == uringMaxIovec || total == uringMaxSend {
				break
			}
			if len(b) > uringMaxSend-total {
				b = b[:uringMaxSend-total]
			}
			total += len(b)
			if len(b) > 0 {
				s.iov[n].Base = unsafe.SliceData(b)
				s.iov[n].SetLen(len(b))
				n++
			}
		}
		s.msg.Iov = &s.iov[0]
		s.msg.SetIovlen(n)
		err = d.r.PrepSendmsg(ud(kSend, fd)|uint64(slot+1)<<udSlotShift, fd, &s.msg)
		if err != nil {
			d.free = append(d.free, slot)
		}
	}
	if err != nil {
		if !d.ringBusy(c, err) {
			c.fail(err)
		}
		return
	}
	if f := d.started(fd); f.sends < uringInstallAfter {
		f.sends++
		if f.sends == uringInstallAfter {
			d.r.InstallFile(fd)
		}
	}
	c.flags |= flagSending
	c.events |= evsel.EventWrite
}

// uringInstallAfter is how many sends a connection queues before the
// driver installs its descriptor in the ring's registered file table
// (evsel.Uring.InstallFile), from where the kernel finds the socket of
// each later receive and send without the process's descriptor table and
// the reference count of fget. Installing and removing cost a system call
// each, which a connection that closes after a request or two would not
// earn back (a connect, one 64-byte echo and a reset: 12.6 µs of server CPU
// per connection unfixed, 13.0 installed at once); one that stays pays
// them once (8,192 connections, 1 KiB echoes: 5.70 → 5.59 µs per message).
const uringInstallAfter = 4

func (d *uringDriver) watch(c *Conn, ev evsel.Events) error {
	d.l.fds.set(c.fd(), c)
	c.events = 0
	return d.update(c, ev)
}

// update arms the connection's receive while the loop wants to read;
// WRITE needs nothing, flush sends. c.events has READ while the receive is
// wanted, flagRecv while one is in flight (a cancelled one until its last
// completion).
//
// Receives are multishot where the kernel takes a limit on the bytes one
// receives (Linux 6.17, evsel.Uring.RecvLimit): armed once, it completes
// once per chunk received until it has taken what the connection may
// still queue before HighWater (recvLimit), then ends, and settle arms the
// next unless the connection is paused by then. That saves the SQE, and
// the kernel's re-arming of its poll, that a one-shot receive costs per
// message. The limit is what bounds it: the kernel runs up to 32 receives
// per wake-up of the socket before the loop sees any, so without it a fast
// sender pushed the output that many buffers past HighWater before the
// cancel a pause sends could land (TestSlowReaderBounded: 811 KB pending
// with 16 KiB buffers against a bound of 272 KB).
//
// A TLS handshake's receives stay one-shot: it buffers input up to
// handshakeInputLimit, far less than HighWater, and takes little.
// Elsewhere receives are one-shot: each takes one buffer and is armed
// again by the settle that follows its completion, unless the connection
// is paused by then, which is backpressure's "do not re-arm" and bounds
// what a paused connection takes to one receive, as one read on epoll.
func (d *uringDriver) update(c *Conn, want evsel.Events) error {
	if c.flags&flagDialing != 0 {
		return nil // the connect is in flight
	}
	fd := c.fd()
	switch {
	case want&evsel.EventRead != 0 && c.flags&flagRecv == 0:
		var err error
		if d.multishot && (c.flags&flagTLS == 0 || c.aux.tls.done) {
			err = d.r.PrepRecvMultishot(ud(kRecv, fd), fd, uringGroup, d.recvLimit(c))
		} else {
			err = d.r.PrepRecvSelect(ud(kRecv, fd), fd, uringGroup)
		}
		if err != nil {
			if d.ringBusy(c, err) {
				return nil
			}
			return err
		}
		d.started(fd)
		d.armed++
		c.flags |= flagRecv
		c.events |= evsel.EventRead
	case want&evsel.EventRead != 0:
		c.events |= evsel.EventRead
	case c.events&evsel.EventRead != 0:
		c.events &^= evsel.EventRead
		if d.multishot && c.flags&flagRecv != 0 {
			if err := d.r.PrepCancel(ud(kCancel, fd), ud(kRecv, fd)); err != nil {
				return err
			}
		}
	}
	return nil
}

// reading: a receive is in flight and wanted (not cancelled).
func (d *uringDriver) reading(c *Conn) bool {
	return c.flags&flagRecv != 0 && c.events&evsel.EventRead != 0
}

// recvLimit is the most a multishot receive armed now may take: what c
// may queue before HighWater (an echo's output stays within HighWater plus
// one buffer, as on epoll within HighWater plus one read), at least one
// byte; with a memory budget at most one read's worth, ReadBufferSize, as
// a one-shot receive and its readMore take.
func (d *uringDriver) recvLimit(c *Conn) uint32 {
	o := &d.l.e.opts
	n := max(o.HighWater-c.outLen, 1)
	if o.MaxMemory > 0 {
		n = min(n, o.ReadBufferSize)
	}
	return uint32(min(uint64(n), math.MaxUint32)) // n > 0; uint64 so that 32-bit int builds
}

// connect hands the connect to the ring; connected follows.
func (d *uringDriver) connect(c *Conn, s *evsel.Socket, a net.Addr) error {
	sa, err := evsel.NewUringSockaddr(a)
	if err != nil {
		s.Close()
		return err
	}
	fd := int(s.Fd())
	if err := d.r.PrepConnect(ud(kConnect, fd), fd, sa); err != nil {
		s.Close()
		return err
	}
	d.started(fd)
	c.sock = *s
	c.flags &^= flagNoSock
	d.l.fds.set(fd, c)
	c.events = evsel.EventWrite
	return nil
}

func (d *uringDriver) connected(fd int, cqe evsel.UringCQE) {
	c := d.l.fds.get(fd)
	if c == nil || c.closed.Load() || c.flags&flagDialing == 0 {
		return
	}
	c.events = 0
	d.l.connectDone(c, cqe.Err())
	c.markDirty()
}

func (d *uringDriver) release(c *Conn) {
	fd := c.fd()
	d.l.fds.set(fd, nil)
	c.events = 0
	// The table's reference would keep the socket open past its close.
	if err := d.removeFile(fd); err != nil {
		// The slot still holds the socket, and a socket given the number
		// later would be served from it, bytes crossing between the two
		// connections: the number stays taken, the descriptor open, until
		// the ring is closed (close). The socket lives on in the table
		// until then anyway, so its peer sees no end of the stream before.
		d.l.e.log.Error("loop: io_uring file table: the descriptor stays open until the loop stops", "loop", d.l.id, "fd", fd, "err", err)
		d.held = append(d.held, c.sock)
		if d.fd(fd).ops > 0 {
			if err := d.r.PrepCancelFd(ud(kCancel, fd), fd); err != nil {
				d.l.e.log.Error("loop: io_uring cancel", "loop", d.l.id, "fd", fd, "err", err)
			}
		}
		return
	}
	d.closeFd(fd, c.sock)
}
