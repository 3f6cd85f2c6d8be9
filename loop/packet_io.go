package loop

import (
	"net/netip"
	"runtime/debug"
	"slices"
	"time"
	"unsafe"

	"github.com/evsel/evsel"
)

// packetLoop is what a loop keeps for its datagram sockets; a loop without
// any has none of it.
type packetLoop struct {
	conns  []*PacketConn // few, so found by a scan like the listeners
	dirty  []*PacketConn // sockets with datagrams to send this iteration
	in     *evsel.Batch  // receive buffers, Options.DatagramSize each
	out    *evsel.Batch  // send scratch
	outCap []evsel.Message
	queued int    // datagrams queued on this loop, for MaxPacketQueue
	bytes  int    // and their bytes, for MaxPacketQueueBytes
	round  uint64 // counts the loop's settleAll calls, for PacketConn.flushed
	kept   int    // the sum of the sockets' PacketConn.kept (PacketConn.keep)

	// panicNext is the loop clock before which a handler panic is not
	// logged, only counted in panicsUnlogged (recoverPacket).
	panicNext      int64
	panicsUnlogged int64
}

// packetBatch is how many datagrams one system call takes at most where
// there are batched calls (Linux); elsewhere it is one.
const packetBatch = 16

func (l *Loop) packets() *packetLoop {
	if l.pk == nil {
		n := 1
		if batchedReceive {
			n = min(packetBatch, l.e.opts.DatagramBatch)
		}
		pk := &packetLoop{in: evsel.NewBatch(n), out: evsel.NewBatch(packetBatch)}
		pk.outCap = pk.out.Msgs
		for i := range pk.in.Msgs {
			pk.in.Msgs[i].Buf = make([]byte, l.e.opts.DatagramSize)
		}
		l.pk = pk
	}
	return l.pk
}

// addPacket registers pc with its loop, on that loop, for READ, and for
// WRITE if datagrams wait: a socket DialPacket made on its own loop may
// have been written to before the task that registers it ran, and what
// the socket did not take then waits for room like any other.
func (l *Loop) addPacket(pc *PacketConn) error {
	if l.stopping {
		return ErrStopped
	}
	pc.events = evsel.EventRead
	if pc.head < len(pc.queue) {
		pc.events |= evsel.EventWrite
	}
	if err := l.drv.addPacket(pc); err != nil {
		pc.events = 0
		return err
	}
	pk := l.packets()
	pk.conns = append(pk.conns, pc)
	return nil
}

// dispatchPacket serves a readiness report of a datagram socket; it
// reports false when fd is none of them.
func (l *Loop) dispatchPacket(ev evsel.Event) bool {
	for _, pc := range l.pk.conns {
		if pc.fd != ev.Fd {
			continue
		}
		ready := ev.Events & pc.events
		if ready&evsel.EventWrite != 0 {
			pc.flush()
		}
		if ready&evsel.EventRead != 0 && !pc.closed.Load() {
			pc.receive()
		}
		// Replies queued by the handlers are flushed at the end of the
		// iteration, which then sets the interest: asking for WRITE now,
		// for datagrams about to be sent anyway, cost two epoll_ctl calls
		// per iteration.
		if !pc.dirty {
			pc.watch()
		}
		return true
	}
	return false
}

// receiveRounds bounds the system calls one readiness report gets, so one
// busy socket does not starve the loop's others (readiness is
// level-triggered: what is left is reported again).
const receiveRounds = 4

func (pc *PacketConn) receive() {
	l := pc.loop
	in := l.pk.in
	batch := len(in.Msgs)
	if pc.path {
		batch = 1 // a path is received one datagram at a time
	}
	for range receiveRounds {
		var n int
		var err error
		if pc.path {
			m := &in.Msgs[0]
			m.Addr = netip.AddrPort{}
			var from string
			m.N, from, m.Flags, err = pc.sock.RecvFromPath(m.Buf)
			if err == nil {
				n = 1
				l.deliver(pc, m, from)
			}
		} else if n, err = pc.sock.RecvBatch(in); err == nil {
			for i := range in.Msgs[:n] {
				l.deliver(pc, &in.Msgs[i], "")
				if pc.closed.Load() {
					return
				}
			}
		}
		switch {
		case err == evsel.ErrWouldBlock:
			return
		case err != nil:
			// An ICMP error for an earlier datagram (ECONNREFUSED on a
			// connected socket), or worse: either way the socket stays.
			l.packetError(pc, err)
			return
		}
		l.stats.reads.Add(1)
		if n < batch || pc.closed.Load() {
			return
		}
	}
}

func (l *Loop) deliver(pc *PacketConn, m *evsel.Message, path string) {
	st := &l.stats
	st.datagramsIn.Add(1)
	st.bytesIn.Add(int64(m.N))
	if m.Flags&evsel.Truncated != 0 {
		// Longer than Options.DatagramSize: a part is no datagram.
		st.datagramsTruncated.Add(1)
		return
	}
	// unmapped: an IPv4 sender on a dual-stack socket (ListenPacket's
	// ":port") is an IPv4 address to the handler, as an accepted
	// connection's RemoteAddrPort is; a reply to it goes out as such.
	l.callPacket(pc, m.Buf[:m.N], PacketAddr{AddrPort: unmapped(m.Addr), Path: path})
}

// callPacket is OnPacket with a panic dropping only the datagram.
func (l *Loop) callPacket(pc *PacketConn, data []byte, from PacketAddr) {
	defer l.recoverPacket(pc)
	pc.h.OnPacket(pc, data, from)
}

// packetPanicLogEvery spaces the logs of a loop's datagram handler panics.
// A panic drops only its datagram, so a peer that sends what makes the
// handler panic gets a panic per datagram, as fast as it sends; a stack
// and a record of kilobytes for each made a one-byte datagram two
// kilobytes of log and cut the loop's rate twentyfold (the stack costs
// even when the logger discards it). So a loop logs the first panic of a
// period with its stack, and the next logged one says how many it left
// out; Stats.DatagramsDropped counts them all.
const packetPanicLogEvery = time.Second

func (l *Loop) recoverPacket(pc *PacketConn) {
	if r := recover(); r != nil {
		l.stats.datagramsDropped.Add(1)
		pk := l.packets()
		if l.clock < pk.panicNext {
			pk.panicsUnlogged++
			return
		}
		pk.panicNext = l.clock + int64(packetPanicLogEvery)
		unlogged := pk.panicsUnlogged
		pk.panicsUnlogged = 0
		l.e.log.Error("loop: packet handler panic; datagram dropped", "loop", l.id, "panic", r,
			"unlogged", unlogged, "stack", string(debug.Stack()))
	}
}

func (l *Loop) packetError(pc *PacketConn, err error) {
	if eh, ok := pc.h.(PacketErrorHandler); ok {
		defer l.recoverPacket(pc)
		eh.OnPacketError(pc, err)
		return
	}
	l.e.log.Debug("loop: datagram socket error", "loop", l.id, "local", pc.local, "err", err)
}

// WriteTo queues p (copied) as one datagram to to, or to the connected
// peer when to is the zero PacketAddr. The datagrams queued during one
// callback, timer or task leave together when it returns, in batches
// (sendmmsg on Linux). When the loop already holds Options.MaxPacketQueue
// datagrams or MaxPacketQueueBytes bytes unsent, p is dropped and
// ErrDatagramDropped returned. Errors the system gives when the datagram
// is sent go to OnPacketError. On the owning loop only.
func (pc *PacketConn) WriteTo(p []byte, to PacketAddr) error {
	if pc.closed.Load() {
		return ErrClosed
	}
	l := pc.loop
	pk := l.packets()
	o := &l.e.opts
	if pk.queued >= o.MaxPacketQueue || pk.bytes+len(p) > o.MaxPacketQueueBytes {
		l.stats.datagramsDropped.Add(1)
		return ErrDatagramDropped
	}
	start := len(pc.arena)
	pc.arena = append(pc.arena, p...)
	pc.queue = append(pc.queue, pendingDatagram{start: start, end: len(pc.arena), to: to})
	pk.queued++
	pk.bytes += len(p)
	if !pc.dirty {
		pc.dirty = true
		pk.dirty = append(pk.dirty, pc)
	}
	return nil
}

// Write is WriteTo the connected peer.
func (pc *PacketConn) Write(p []byte) error { return pc.WriteTo(p, PacketAddr{}) }

// AsyncWriteTo is WriteTo from any goroutine: p is copied and queued to
// the owning loop. A datagram it queued that finds the socket closed (or
// the queue full) when the loop takes it is dropped and counted in
// Stats.DatagramsDropped, as one WriteTo queued before a close is.
func (pc *PacketConn) AsyncWriteTo(p []byte, to PacketAddr) error {
	if pc.closed.Load() {
		return ErrClosed
	}
	b := append([]byte(nil), p...)
	return pc.loop.Do(func() {
		switch err := pc.WriteTo(b, to); err {
		case nil, ErrDatagramDropped: // WriteTo counted it
		case ErrClosed:
			// Closed after AsyncWriteTo took the datagram, which told the
			// caller it was queued: it is one of the close's unsent.
			pc.loop.stats.datagramsDropped.Add(1)
		default:
			pc.loop.packetError(pc, err)
		}
	})
}

// flushPackets sends what the loop's datagram sockets queued this
// iteration.
//
// A socket is flushed here once per round of settleAll. What a handler
// queues on it after that, from OnPacketError or OnClose, waits for
// WRITE, which a datagram socket reports at once: otherwise a handler
// that answers each failed send with another (on the same socket, or two
// sockets answering each other's) would keep the loop here for ever.
func (l *Loop) flushPackets() {
	pk := l.pk
	for len(pk.dirty) > 0 {
		batch := pk.dirty
		pk.dirty = nil
		for i, pc := range batch {
			pc.dirty = false
			if !pc.closed.Load() {
				switch {
				case pc.flushed != pk.round:
					pc.flushed = pk.round
					pc.flush()
					pc.watch()
				case pc.watched != pk.round:
					// Once more per round at most: a watch that fails
					// calls OnPacketError too, which may queue again.
					pc.watched = pk.round
					pc.watch()
				}
			}
			batch[i] = nil
		}
		if pk.dirty == nil {
			pk.dirty = batch[:0]
		}
	}
}

// flush sends the datagrams queued when it began until none of them is
// left or the socket's send buffer is full. Those a handler queues as it
// runs, from OnPacketError, go on a later flush (see flushPackets).
func (pc *PacketConn) flush() {
	l := pc.loop
	end := len(pc.queue)
	// Close, from OnPacketError, empties the queue: then head is 0 again.
	for pc.head < min(end, len(pc.queue)) {
		n, err := pc.send(pc.queue[pc.head:])
		if err == evsel.ErrWouldBlock {
			break
		}
		if err != nil {
			// This datagram cannot go (too long, no route, refused): drop
			// it and go on with the next. It is dropped before the handler
			// hears of it, so that a handler that closes the socket there
			// finds the queue as it is and empties it, which ends this loop.
			l.stats.datagramsDropped.Add(1)
			pc.advance(1)
			l.packetError(pc, err)
			continue
		}
		pc.advance(n)
	}
	if pc.head == len(pc.queue) {
		pc.head, pc.queue, pc.arena = 0, pc.queue[:0], pc.arena[:0]
		pc.keep()
	} else if pc.head > 0 {
		pc.compact()
	}
}

// keepMax is the most a drained socket keeps of its buffers: a burst's
// memory is not kept.
const keepMax = 1 << 20

// keep decides whether a socket that has sent everything keeps its
// buffers, so that its next datagrams are queued without allocating.
// It does if they are small enough and the loop's drained sockets keep no
// more than MaxPacketQueueBytes between them: a loop may serve thousands
// of DialPacket sockets, and each that once queued a burst kept up to
// keepMax for ever (200 sockets, one 600 KB burst each: 142 MiB held
// with nothing left to send, against a queue bound of 4 MiB).
func (pc *PacketConn) keep() {
	pk := pc.loop.pk
	if pk == nil {
		return // nothing written on this loop yet: nothing to keep
	}
	pk.kept -= pc.kept
	pc.kept = cap(pc.arena) + cap(pc.queue)*int(unsafe.Sizeof(pendingDatagram{}))
	if pc.kept > keepMax || pk.kept+pc.kept > pc.loop.e.opts.MaxPacketQueueBytes {
		pc.arena, pc.queue, pc.kept = nil, nil, 0
	}
	pk.kept += pc.kept
}

// send hands the datagrams to the kernel: a batch for UDP, one at a time
// for paths. It returns how many went.
func (pc *PacketConn) send(q []pendingDatagram) (int, error) {
	st := &pc.loop.stats
	if pc.path {
		d := &q[0]
		n, err := pc.sock.SendToPath(pc.arena[d.start:d.end], d.to.Path)
		if err != nil {
			return 0, err
		}
		st.writes.Add(1)
		st.datagramsOut.Add(1)
		st.bytesOut.Add(int64(n))
		return 1, nil
	}
	pk := pc.loop.pk
	k := min(len(q), len(pk.outCap))
	msgs := pk.outCap[:k]
	for i := range msgs {
		msgs[i] = evsel.Message{Buf: pc.arena[q[i].start:q[i].end], Addr: q[i].to.AddrPort}
	}
	pk.out.Msgs = msgs
	n, err := pc.sock.SendBatch(pk.out)
	var bytes int
	for i := range msgs[:n] {
		bytes += msgs[i].N
	}
	clear(msgs) // do not keep the arena alive through the scratch
	if err != nil {
		return 0, err
	}
	st.writes.Add(1)
	st.datagramsOut.Add(int64(n))
	st.bytesOut.Add(int64(bytes))
	return n, nil
}

// advance marks n more queued datagrams as gone.
func (pc *PacketConn) advance(n int) {
	pk := pc.loop.pk
	for _, d := range pc.queue[pc.head : pc.head+n] {
		pk.bytes -= d.end - d.start
	}
	pk.queued -= n
	clear(pc.queue[pc.head : pc.head+n]) // the paths they held
	pc.head += n
}

// compact moves the unsent datagrams to the front, so that a socket that
// never drains completely does not grow its arena for ever.
func (pc *PacketConn) compact() {
	rest := pc.queue[pc.head:]
	base := rest[0].start
	pc.arena = pc.arena[:copy(pc.arena, pc.arena[base:])]
	for i := range rest {
		rest[i].start -= base
		rest[i].end -= base
	}
	pc.queue = pc.queue[:copy(pc.queue, rest)]
	clear(pc.queue[len(pc.queue):cap(pc.queue)][:pc.head])
	pc.head = 0
}

// watch asks the driver for WRITE while datagrams wait for room. A socket
// not yet registered (no events: DialPacket's task has not run) is left
// alone; addPacket asks for what it needs then.
func (pc *PacketConn) watch() {
	if pc.closed.Load() || pc.events == 0 {
		return
	}
	want := evsel.EventRead
	if pc.head < len(pc.queue) {
		want |= evsel.EventWrite
	}
	if want != pc.events {
		if err := pc.loop.drv.watchPacket(pc, want); err != nil {
			pc.loop.packetError(pc, err)
			return
		}
		pc.events = want
	}
}

// Close stops serving the socket and closes it; datagrams still queued are
// sent if the socket takes them now, else dropped. On the owning loop
// only.
func (pc *PacketConn) Close() error {
	if pc.closed.Load() {
		return ErrClosed
	}
	l := pc.loop
	// Closed before the last flush: a handler told of its errors that
	// writes or closes again is refused instead of re-entering it.
	pc.closed.Store(true)
	pc.flush()
	if n := len(pc.queue) - pc.head; n > 0 {
		l.stats.datagramsDropped.Add(int64(n))
		pc.advance(n)
	}
	// A socket closed before it was registered (DialPacket on its loop)
	// may be its loop's first: then the loop has no datagram state yet.
	if pk := l.pk; pk != nil {
		pk.conns = slices.DeleteFunc(pk.conns, func(x *PacketConn) bool { return x == pc })
		pk.kept -= pc.kept
	}
	pc.arena, pc.queue, pc.head, pc.kept = nil, nil, 0, 0
	return l.drv.closePacket(pc)
}

// AsyncClose is Close from any goroutine.
func (pc *PacketConn) AsyncClose() error {
	return pc.loop.Do(func() { pc.Close() })
}

// closePackets closes the loop's datagram sockets when it stops.
func (l *Loop) closePackets() {
	if l.pk == nil {
		return
	}
	for _, pc := range slices.Clone(l.pk.conns) {
		pc.Close()
	}
}
