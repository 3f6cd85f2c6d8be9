package loop

import (
	"errors"
	"runtime"
	"slices"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/evsel/evsel"
	"github.com/evsel/evsel/internal/testdriver"
)

// uringDriver is the completion driver: the loop hands its sockets' I/O
// to an io_uring and serves the completions. Per loop: one ring, one
// provided-buffer ring that every connection receives into (an idle
// connection holds no input memory), and an eventfd polled through the
// ring for wake-ups. Per connection: a receive while the loop
// wants to read, and at most one send (or sendmsg of the whole output
// queue) in flight. Per listener: a poll, then accepts (see
// uringMultishotAccept). Datagram sockets
// keep the readiness code: a one-shot poll through the ring says when to
// run it. Timers bound the one wait (SubmitAndWait's timeout).
//
// Descriptors. The kernel may still act on a descriptor while a request on
// it is in flight, so a descriptor is closed only once none is: fds counts
// the requests per descriptor, release and the closes of listeners and
// datagram sockets cancel what is in flight, and the descriptor is closed
// when the count falls to zero. Until then it cannot be reused, which also
// keeps the descriptor in user_data unambiguous.
//
// Thread. The ring is set up with SINGLE_ISSUER|DEFER_TASKRUN where the
// kernel has it, which ties it to the creating thread: start runs on the
// loop goroutine, which stays locked to its thread from there to close,
// waits included. The readiness driver unlocks around its wait (measured,
// see pollDriver.poll); here unlocking would let the goroutine resume on
// another thread, where every io_uring_enter fails with EEXIST. The
// alternative was measured: a ring without SINGLE_ISSUER (so without
// DEFER_TASKRUN) and the thread unlocked around the wait, as on epoll.
// Server CPU µs per 64-byte echo, bench, 3 rounds, quiet 2-core machine,
// io_uring ÷ epoll in the same run to cancel the drift between the runs:
// one connection 56.31 (1.88×) unlocked against 58.16 (1.88×) locked,
// 64 connections 8.44 (1.00×) against 8.42 (0.98×), 1,024 connections
// 11.92 (1.09×) against 9.80 (0.91×). Unlocking gains nothing where
// io_uring loses (one connection: each message is a wake-up either way)
// and costs where it wins, so the ring stays single-issuer and locked.
// (Both were measured before poll yielded, see below, which cut the one
// connection figure by a sixth.)
//
// Yield. A goroutine that never passes through the scheduler looks to the
// runtime's monitor (sysmon) like one that has run for over 10 ms, so it
// takes the loop's P at every blocking io_uring_enter it sees and keeps
// polling every 20 µs to do it again: a storm of thread switches on the
// loop's core. The readiness driver avoids it by yielding before each
// blocking wait (cheap on an unlocked goroutine); here a yield costs two
// thread hand-offs, because the goroutine is locked, so poll yields at
// most once per uringYieldInterval.
type uringDriver struct {
	l       *Loop
	r       *evsel.Uring
	br      *evsel.UringBufRing
	bufs    *uringBufPool // br's buffers, given to the kernel a few at a time
	wakeMu  sync.RWMutex  // wake against close
	wakeFd  int
	wakeBuf [8]byte
	fds     []uringFd
	retry   []*Conn        // connections whose request found the ring full (ringBusy)
	held    []evsel.Socket // sockets whose removal from the file table failed (release)
	// unarmed: the wake-up eventfd's poll ended and could not be queued
	// again (the ring full, as when its completion queue overflowed,
	// which also ends multishot polls); poll queues it before it waits.
	unarmed  bool
	relisten []*listener // listeners whose poll could not be queued again
	failArm  int         // the next failArm polls queued fail, as on a full ring (tests)
	// removeFile is d.r.RemoveFile; a test makes it fail.
	removeFile func(fd int) error
	pending    int          // descriptors waiting to be closed (uringFd.closing)
	sends      []*uringSend // sendmsgs, by slot (user_data's middle bits); nil while free
	free       []int32      // free slots of sends
	onCQE      func(evsel.UringCQE)
	onAside    func(evsel.UringCQE)
	aside      []evsel.UringCQE // reaped by settleClose, for the next dispatch
	settling   int              // the descriptor settleClose waits for, or -1
	inCQE      bool             // dispatch is serving completions
	yielded    int64            // Loop.clock at poll's last yield
	// multishot: receives are multishot, with a limit (see update).
	multishot bool
	armed     int // receives queued, for the tests
	roomWaits int // sends given back with EAGAIN (awaitRoom), for the tests
}

// uringYieldInterval is how often at most a busy loop yields before it
// blocks (see the type's comment); it must stay well under sysmon's 10 ms.
// Server CPU µs per 64-byte echo, one loop pinned to a core, the same
// binary with and without the yield, interleaved: one connection 32.97 →
// 27.26 (the C io_uring server: 25.67), 8,192 connections 11.49 → 10.75;
// sysmon's sleeps fell from 7,400 to 100 a second. Yielding every 4 ms
// rather than every 1 ms, 3 interleaved rounds: one connection 32.87 →
// 31.44, 64 connections 8.11 → 7.66, 8,192 connections 11.41 → 10.62.
// The cost: a goroutine that a handler makes runnable on the loop's P,
// when no idle P can take it, runs at the loop's next yield or once sysmon
// takes the P from the blocked loop, rather than before the loop blocks as
// on epoll.
const uringYieldInterval = 4 * time.Millisecond

// uringFd is what the driver knows of one descriptor; 4 bytes, as the
// table has a slot for every descriptor number a connection has had.
type uringFd struct {
	ops     uint8  // requests in flight whose last completion is not reaped (at most 3)
	closing bool   // close the descriptor once ops is 0
	pollEv  uint16 // a datagram socket's armed poll, 0 if none
	sends   uint8  // sends queued, counted up to uringInstallAfter
}

// uringSend is the kernel's view of one connection's output: a msghdr
// whose iovecs point at the output queue's chunks, pinned (the ring holds
// the msghdr, so they stay reachable) until the completion.
type uringSend struct {
	msg unix.Msghdr
	iov [uringMaxIovec]unix.Iovec
}

// uringMaxIovec bounds the chunks of the output queue one sendmsg takes;
// 64 chunks are 1 MiB, HighWater's default.
const uringMaxIovec = 64

// user_data: the request's kind in the top byte, its descriptor in the
// low 32 bits, and for a sendmsg its slot in d.sends plus one in between.
const (
	udKindShift        = 56
	udSlotShift        = 32
	udFdMask    uint64 = 1<<32 - 1
	udSlotMask  uint64 = 1<<24 - 1
)

func ud(kind uint64, fd int) uint64 { return kind<<udKindShift | uint64(uint32(fd)) }

// The kinds of request.
const (
	kWake uint64 = iota + 1
	kRecv
	kSend
	kAccept
	kConnect
	kPoll
	kCancel
	kListen
	kRoom
)

// The ring's size and the provided buffers, at most uringBufBytes per
// loop, made and given to the kernel as receives need them (uringBufPool).
// Where the kernel has incremental buffer rings (Linux 6.12), buffers of
// ReadBufferSize (at most a sixteenth of the whole), each filled by as
// many receives as fit: a receive takes what it needs, so one 64 KiB
// buffer holds a thousand 64-byte messages, and a 16 KiB message arrives
// in one receive, as one read takes it on epoll. Elsewhere uringBufs of up
// to uringBufSize each: a receive takes a whole buffer however little it
// gets, so the count bounds how many connections one iteration can read
// (1,024, the largest cell of issue 14's benchmark but one), and the size
// holds its small messages whole; a receive that fills its buffer is
// followed by a plain read (readMore). A receive that finds the ring
// empty fails (ENOBUFS), and its bytes are read at once (received).
const (
	uringBufBytes = 4 << 20
	uringBufs     = 1024
	uringBufSize  = 4 << 10
	uringGroup    = 1
	uringEntries  = 1024
	// uringCQEntries is room for a receive's and a send's completion of
	// 4,096 connections in one iteration (128 KiB): more wait in the
	// kernel's overflow list, which costs an extra io_uring_enter.
	uringCQEntries = 8192
)

func newUringDriver(l *Loop) (driver, error) {
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return nil, err
	}
	d := &uringDriver{l: l, wakeFd: fd, settling: -1}
	d.onCQE = d.complete
	d.onAside = d.setAside
	return d, nil
}

// uringWakeOne is what wake adds to the eventfd (any non-zero count
// will do, whatever the byte order).
var uringWakeOne = [8]byte{1}

func (d *uringDriver) name() string { return DriverIOUring }

// start sets the ring up on the loop's thread (see the type's comment).
func (d *uringDriver) start() error {
	r, err := evsel.NewUring(evsel.UringOptions{
		Entries: uringEntries, CQEntries: uringCQEntries, Require: uringRequired,
		NoSingleIssuer: testdriver.Basic,
	})
	if err != nil {
		return err
	}
	br, size, err := newUringBufRing(r, d.l.e.opts.ReadBufferSize, !testdriver.Basic)
	if err != nil {
		r.Close()
		return err
	}
	d.r, d.br, d.bufs = r, br, newUringBufPool(br, size)
	d.bufs.fill()
	d.removeFile = r.RemoveFile
	d.multishot = r.RecvLimit() && !testdriver.Basic
	// A kernel without sparse tables (before 5.19) serves unfixed. The
	// kernel refuses a table larger than the open-file limit; min keeps
	// RLIM_INFINITY from overflowing int (RegisterFiles caps it far lower).
	var lim unix.Rlimit
	err = unix.Getrlimit(unix.RLIMIT_NOFILE, &lim)
	if err == nil {
		err = r.RegisterFiles(int(min(lim.Cur, 1<<20)))
	}
	if err != nil {
		d.l.e.log.Debug("loop: io_uring without a registered file table", "loop", d.l.id, "err", err)
	}
	return d.armWake()
}

// newUringBufRing registers the loop's provided buffers (see uringBufBytes),
// incremental if inc and the kernel has them, and returns the size of each.
func newUringBufRing(r *evsel.Uring, readSize int, inc bool) (*evsel.UringBufRing, int, error) {
	size := min(readSize, uringBufBytes/16)
	n := 16
	for n*2*size <= uringBufBytes && n < 1<<15 {
		n *= 2
	}
	if inc {
		br, err := r.NewIncBufRing(uringGroup, n)
		if err == nil {
			return br, size, nil
		}
		if !errors.Is(err, unix.EINVAL) {
			return nil, 0, err
		}
	}
	// Whole buffers, as kernels before 6.12 have them.
	br, err := r.NewBufRing(uringGroup, uringBufs)
	return br, min(readSize, uringBufSize), err
}

func (d *uringDriver) armWake() error {
	if d.armFails() {
		return evsel.ErrUringSQFull
	}
	return d.r.PrepPollMultishot(ud(kWake, d.wakeFd), d.wakeFd, unix.POLLIN)
}

// armFails says whether a test asked the poll about to be queued to fail.
func (d *uringDriver) armFails() bool {
	if d.failArm == 0 {
		return false
	}
	d.failArm--
	return true
}

// rearm queues the polls that could not be queued when their last
// completion came, and reports whether any still could not: without the
// eventfd's, no Do, AsyncWrite or Stop would wake an idle loop, and
// without a listener's, it would accept no more.
func (d *uringDriver) rearm() bool {
	if d.unarmed && d.armWake() == nil {
		d.unarmed = false
	}
	d.relisten = slices.DeleteFunc(d.relisten, func(ln *listener) bool {
		return ln.sock == nil || ln.paused || ln.armed || d.listen(ln) == nil
	})
	return d.unarmed || len(d.relisten) > 0
}

// wake writes the eventfd, which the ring's poll of it completes; any
// goroutine may, as it does not touch the ring. The lock keeps close from
// closing the eventfd under a wake that has not written yet, which would
// write to whatever file reused the number.
func (d *uringDriver) wake() error {
	d.wakeMu.RLock()
	defer d.wakeMu.RUnlock()
	if d.wakeFd < 0 {
		return ErrStopped
	}
	_, err := unix.Write(d.wakeFd, uringWakeOne[:])
	if err == unix.EAGAIN {
		return nil // the counter is full: a wake-up is pending anyway
	}
	return err
}

// poll submits what the iteration queued and waits for a completion.
func (d *uringDriver) poll(timeout time.Duration, busy bool) (int, error) {
	if len(d.retry) > 0 || len(d.aside) > 0 || (d.unarmed || len(d.relisten) > 0) && d.rearm() {
		timeout = 0
	}
	d.bufs.fill()
	var err error
	if timeout != 0 {
		// A second yield for a woken goroutine only where it has no P
		// to run on but the loop's: each yield of the locked loop costs
		// two hand-offs of its P between threads (see woken.go).
		if d.l.yieldToWoken() && !d.l.spareP() ||
			busy && d.l.clock-d.yielded >= int64(uringYieldInterval) {
			d.yielded = d.l.clock
			runtime.Gosched()
		}
	}
	if busy && timeout != 0 && d.l.rawWaitFair() {
		// Raw after a busy iteration, bounded, as the readiness driver
		// waits (see pollDriver.poll): an ordinary wait a round trip long
		// kept the runtime's monitor polling every 20 µs (one connection,
		// 5 interleaved rounds: 24–47 µs by its mode, 25.2 raw in every
		// round, the C io_uring server 24.9).
		err = d.r.SubmitAndWaitRaw(timeout)
	} else {
		err = d.r.SubmitAndWait(timeout)
	}
	if errors.Is(err, unix.EBUSY) || errors.Is(err, unix.EAGAIN) {
		err = nil // the completion queue overflowed: reap, then submit again
	}
	return d.r.Ready() + len(d.aside), err
}

func (d *uringDriver) dispatch(int) {
	d.inCQE = true
	for i := range d.aside {
		d.complete(d.aside[i])
	}
	d.aside = d.aside[:0]
	d.r.ForEachCQE(d.onCQE)
	d.inCQE = false
	// Completions reaped: room for the requests that found none.
	for i, c := range d.retry {
		c.markDirty()
		d.retry[i] = nil
	}
	d.retry = d.retry[:0]
}

// ringBusy reports a request refused because the ring is full for now
// (the kernel's completion overflow list is full until the loop reaps):
// the connection is settled again next iteration instead of failing.
func (d *uringDriver) ringBusy(c *Conn, err error) bool {
	if !errors.Is(err, evsel.ErrUringSQFull) && !errors.Is(err, unix.EBUSY) && !errors.Is(err, unix.EAGAIN) {
		return false
	}
	d.retry = append(d.retry, c)
	return true
}

// fd returns the state of descriptor fd, growing the table.
func (d *uringDriver) fd(fd int) *uringFd {
	if fd >= len(d.fds) {
		grown := make([]uringFd, max(fd+1, 2*len(d.fds), 64))
		copy(grown, d.fds)
		d.fds = grown
	}
	return &d.fds[fd]
}

// started counts a request queued on fd, and returns fd's record.
func (d *uringDriver) started(fd int) *uringFd {
	f := d.fd(fd)
	f.ops++
	return f
}

// ended counts the last completion of a request on fd, and closes the
// descriptor if it waited for that.
func (d *uringDriver) ended(fd int) {
	f := d.fd(fd)
	f.ops--
	if f.ops == 0 && f.closing {
		unix.Close(fd) // what Socket.Close does on Linux
		*f = uringFd{}
		d.pending--
	}
}

// closeFd closes s (descriptor fd) once nothing is in flight on it,
// cancelling what is.
func (d *uringDriver) closeFd(fd int, s evsel.Socket) {
	f := d.fd(fd)
	if f.ops == 0 {
		s.Close()
		*f = uringFd{}
		return
	}
	f.closing = true
	d.pending++
	if err := d.r.PrepCancelFd(ud(kCancel, fd), fd); err != nil {
		d.l.e.log.Error("loop: io_uring cancel", "loop", d.l.id, "fd", fd, "err", err)
	}
}

func (d *uringDriver) complete(cqe evsel.UringCQE) {
	kind, fd := cqe.UserData>>udKindShift, int(cqe.UserData&udFdMask)
	if kind == kCancel {
		return
	}
	if kind == kWake {
		unix.Read(d.wakeFd, d.wakeBuf[:])
		if !cqe.More() && d.armWake() != nil {
			d.unarmed = true
		}
		return
	}
	if !cqe.More() {
		d.ended(fd)
	}
	switch kind {
	case kRecv:
		d.received(fd, cqe)
	case kSend:
		d.sent(fd, cqe)
	case kAccept:
		d.accepted(fd, cqe)
	case kConnect:
		d.connected(fd, cqe)
	case kPoll:
		d.polled(fd, cqe)
	case kListen:
		d.readable(fd, cqe)
	case kRoom:
		d.roomMade(fd)
	}
}

// settleClose waits, for a second at most, until the requests cancelled
// on fd have completed and fd is closed, setting the other completions
// reaped meanwhile aside for the next dispatch, so that no handler runs
// from here. A listening socket must leave the kernel when it is closed,
// as on epoll: while a request holds it, it stays in its SO_REUSEPORT group
// and takes connections into a backlog nobody will accept from
// (TestReusePortKeepsConnections, whose loop is busy after the close).
func (d *uringDriver) settleClose(fd int) {
	if d.inCQE || !d.fd(fd).closing {
		return // a handler closed it: the loop reaps next, soon enough
	}
	d.settling = fd
	defer func() { d.settling = -1 }()
	deadline := time.Now().Add(time.Second)
	for d.fd(fd).closing {
		left := time.Until(deadline)
		if left <= 0 {
			d.l.e.log.Warn("loop: io_uring requests on a closed listener still in flight", "loop", d.l.id, "fd", fd)
			return
		}
		err := d.r.SubmitAndWait(min(left, 10*time.Millisecond))
		if err != nil && !errors.Is(err, unix.EBUSY) && !errors.Is(err, unix.EAGAIN) {
			d.l.e.log.Error("loop: io_uring wait", "loop", d.l.id, "err", err)
			return
		}
		d.r.ForEachCQE(d.onAside)
	}
}

// setAside serves the completions of the descriptor settleClose waits for
// (a closed listener's or datagram socket's: they touch no handler) and
// keeps the others.
func (d *uringDriver) setAside(cqe evsel.UringCQE) {
	kind, fd := cqe.UserData>>udKindShift, int(cqe.UserData&udFdMask)
	if fd == d.settling && (kind == kListen || kind == kAccept || kind == kPoll) {
		d.complete(cqe)
		return
	}
	d.aside = append(d.aside, cqe)
}

// closing reports descriptors waiting for their requests to complete
// before they are closed.
func (d *uringDriver) closing() bool { return d.pending > 0 }

// close releases the ring (which cancels and reaps what is still in
// flight), then closes the descriptors that waited for that.
func (d *uringDriver) close() error {
	var err error
	if d.r != nil {
		err = d.r.Close()
	}
	for fd := range d.fds {
		if d.fds[fd].closing {
			unix.Close(fd)
		}
	}
	d.fds = nil
	for _, s := range d.held {
		s.Close()
	}
	d.held = nil
	d.wakeMu.Lock()
	unix.Close(d.wakeFd)
	d.wakeFd = -1
	d.wakeMu.Unlock()
	return err
}
