//go:build windows

package evsel

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// The Windows backend gets readiness, not completions, out of an I/O
// completion port, the way wepoll and Rust's mio do. Every socket is a
// handle of the AFD driver (\Device\Afd), and AFD answers IOCTL_AFD_POLL, an
// asynchronous poll(2) on one or more sockets. The poller opens one AFD
// device handle of its own, associates it with its completion port, and
// keeps one such poll outstanding per registered socket; when the socket
// becomes ready the poll completes and its completion packet, carrying the
// poll operation as its APC context, wakes GetQueuedCompletionStatusEx.
//
// An AFD poll is one-shot. To be level-triggered like the other backends, a
// socket whose poll completed goes on the update queue and its poll is
// submitted again at the start of the next Wait; if the socket is still
// ready, the new poll completes at once. Add and Modify only queue the
// socket too, so the kernel is asked once per Wait whatever the caller did.
//
// A pending poll that no longer covers the interest set (Modify asked for
// more) or whose socket was deleted is cancelled with NtCancelIoFileEx and
// becomes stale; Modify's new poll is submitted at once beside it. The
// kernel keeps writing into a poll's status block and output buffer until
// its packet is dequeued, so each poll operation lives on the Go heap (which
// does not move) and stays reachable from the poller until then, after
// which it is recycled. A stale poll's packet is recognised by its
// operation, before anything of its status or events is read, and dropped.

const (
	// Completion keys: packets of the AFD handle, and wake-ups.
	keyAFD  = 1
	keyWake = 2
)

// pollOp is one IOCTL_AFD_POLL. While it is outstanding the kernel owns
// iosb and info: the object must neither move (Go's heap objects never do)
// nor be collected (the poller holds it as its socket's current poll, or in
// its stale list, until the completion packet is dequeued). Finished
// operations are recycled, so polling allocates nothing in steady state.
type pollOp struct {
	iosb windows.IO_STATUS_BLOCK
	info afdPollInfo

	sock     *afdSock // whose poll it is; nil once stale
	mask     uint32   // the AFD events it asks for
	staleIdx int      // position in iocpPoller.stale, or -1
}

// afdSock is the state of one registered socket.
type afdSock struct {
	fd       int
	base     windows.Handle // the socket's base provider handle, what AFD knows
	interest Events
	cur      *pollOp // the outstanding poll, if any
	queued   bool    // on the update queue
	deleted  bool    // no longer registered: the update queue skips it
	failed   bool    // the last submission failed; reported as an error
}

type iocpPoller struct {
	port windows.Handle
	afd  windows.Handle

	socks   map[int]*afdSock
	updates []*afdSock // sockets whose poll must be (re)submitted
	stale   []*pollOp  // cancelled polls whose completion is still to come
	free    []*pollOp  // finished polls, for reuse
	buf     []overlappedEntry

	cancelIOSB windows.IO_STATUS_BLOCK

	wakePending atomic.Bool
	// mu keeps Close from closing the port while a Wake on another goroutine
	// posts to it. closed is set under mu, and read without it by the
	// owner and on Wake's fast path.
	mu     sync.RWMutex
	closed atomic.Bool
}

// newIOCPPoller returns a poller on an I/O completion port that learns socket
// readiness from the AFD driver. It supports level-triggered readiness of
// sockets only (no pipes or files), and Wake.
func newIOCPPoller() (Poller, error) {
	port, err := windows.CreateIoCompletionPort(windows.InvalidHandle, 0, 0, 1)
	if err != nil {
		return nil, wrapErr("CreateIoCompletionPort", err)
	}
	afd, err := openAFD(port)
	if err != nil {
		windows.CloseHandle(port)
		return nil, err
	}
	return &iocpPoller{port: port, afd: afd, socks: make(map[int]*afdSock)}, nil
}

func (p *iocpPoller) Name() string { return "iocp" }

func (p *iocpPoller) Add(fd int, ev Events) error {
	switch {
	case p.closed.Load():
		return ErrClosed
	case ev&EventEdge != 0:
		return ErrEdgeUnsupported
	}
	if _, ok := p.socks[fd]; ok {
		return ErrAlreadyRegistered
	}
	// Only sockets can be polled. Asking for the socket type is the cheap
	// check (Wine hands back any handle as its own SIO_BASE_HANDLE).
	if _, err := windows.GetsockoptInt(windows.Handle(fd), windows.SOL_SOCKET, soType); err != nil {
		return wrapErr("getsockopt(SO_TYPE)", err)
	}
	base, err := baseHandle(fd)
	if err != nil {
		return err
	}
	s := &afdSock{fd: fd, base: base, interest: ev}
	p.socks[fd] = s
	p.enqueue(s)
	return nil
}

func (p *iocpPoller) Modify(fd int, ev Events) error {
	if p.closed.Load() {
		return ErrClosed
	}
	if ev&EventEdge != 0 {
		return ErrEdgeUnsupported
	}
	s, ok := p.socks[fd]
	if !ok {
		return ErrNotRegistered
	}
	if s.interest != ev {
		s.interest = ev
		p.enqueue(s)
	}
	return nil
}

func (p *iocpPoller) Delete(fd int) error {
	if p.closed.Load() {
		return ErrClosed
	}
	s, ok := p.socks[fd]
	if !ok {
		return ErrNotRegistered
	}
	delete(p.socks, fd)
	s.deleted = true // the update queue skips it from now on
	p.retire(s)
	return nil
}

func (p *iocpPoller) enqueue(s *afdSock) {
	if !s.queued {
		s.queued = true
		p.updates = append(p.updates, s)
	}
}

// retire cancels s's outstanding poll, if any. The cancelled poll is stale:
// its completion packet still comes (with STATUS_CANCELLED, or with its own
// result if it finished first), and is then only recycled.
func (p *iocpPoller) retire(s *afdSock) {
	op := s.cur
	if op == nil {
		return
	}
	s.cur = nil
	op.sock = nil
	op.staleIdx = len(p.stale)
	p.stale = append(p.stale, op)
	// STATUS_NOT_FOUND means the poll completed already and its packet is
	// queued; either way exactly one packet will come.
	ntCancelIoFileEx(p.afd, &op.iosb, &p.cancelIOSB)
}

func afdEvents(ev Events) uint32 {
	m := uint32(afdPollAlways)
	if ev&EventRead != 0 {
		m |= afdPollRead
	}
	if ev&EventWrite != 0 {
		m |= afdPollWrite
	}
	return m
}

// update brings s's outstanding poll in line with its interest set.
func (p *iocpPoller) update(s *afdSock) {
	want := afdEvents(s.interest)
	if op := s.cur; op != nil {
		if want&^op.mask == 0 {
			// The outstanding poll asks for everything wanted (and maybe
			// more, which completion filters out): leave it be.
			return
		}
		// Asking for more: replace the poll at once rather than wait for
		// the cancellation, so that a Wait right after a Modify sees the
		// new interest's readiness.
		p.retire(s)
	}
	var op *pollOp
	if n := len(p.free); n > 0 {
		op = p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
	} else {
		op = new(pollOp)
	}
	*op = pollOp{
		iosb: windows.IO_STATUS_BLOCK{Status: windows.STATUS_PENDING},
		info: afdPollInfo{
			timeout:    math.MaxInt64,
			numHandles: 1,
			handle:     s.base,
			events:     want,
		},
		sock:     s,
		mask:     want,
		staleIdx: -1,
	}
	st := ntDeviceIoControlFile(p.afd, unsafe.Pointer(op), &op.iosb, ioctlAFDPoll,
		unsafe.Pointer(&op.info), uint32(unsafe.Sizeof(op.info)),
		unsafe.Pointer(&op.info), uint32(unsafe.Sizeof(op.info)))
	switch st {
	case windows.STATUS_SUCCESS, windows.STATUS_PENDING:
		// Either way the result comes as a completion packet.
		s.cur = op
		s.failed = false
		return
	case windows.STATUS_INVALID_HANDLE:
		// The socket was closed without Delete: forget it, as epoll
		// forgets a closed descriptor.
		p.forget(s)
	default:
		// Report the socket as ready so its owner's next read or write
		// meets the error; try again on the next Wait.
		s.failed = true
	}
	op.sock = nil
	p.free = append(p.free, op) // no packet comes for a failed submission
}

// forget drops a socket whose handle is gone.
func (p *iocpPoller) forget(s *afdSock) {
	if p.socks[s.fd] == s {
		delete(p.socks, s.fd)
	}
	s.deleted = true
}

// complete handles the completion of op and returns its socket and the
// readiness to report, if any.
func (p *iocpPoller) complete(op *pollOp) (*afdSock, Events) {
	s := op.sock
	st, numHandles, afd := op.iosb.Status, op.info.numHandles, op.info.events
	// The kernel is done with op.
	if i := op.staleIdx; i >= 0 {
		last := len(p.stale) - 1
		p.stale[i] = p.stale[last]
		p.stale[i].staleIdx = i
		p.stale[last] = nil
		p.stale = p.stale[:last]
	}
	op.sock = nil
	p.free = append(p.free, op)
	if s == nil || s.cur != op {
		// A stale poll, cancelled by Modify or Delete: a newer poll or
		// nothing at all stands for its socket now.
		return nil, 0
	}
	s.cur = nil
	// The status comes first: a cancelled poll's output buffer holds nothing
	// meaningful.
	switch {
	case st == windows.STATUS_CANCELLED:
		afd = 0
	case st >= 0xC0000000: // NT_ERROR: the poll itself failed
		afd = afdPollAbort
	case numHandles < 1:
		afd = 0 // completed without an event (it has no timeout, so rare)
	case afd&afdPollLocalClose != 0:
		// The socket was closed: nothing will ever be ready again.
		p.forget(s)
		return nil, 0
	}
	p.enqueue(s) // level-triggered: poll again on the next Wait
	return s, readiness(afd, s.interest)
}

// readiness maps AFD events to the readiness reported for an interest set.
// Errors are readiness for every interest, as in the other backends.
func readiness(afd uint32, interest Events) Events {
	var r Events
	if afd&afdPollRead != 0 {
		r |= EventRead
	}
	if afd&afdPollWrite != 0 {
		r |= EventWrite
	}
	if afd&(afdPollAbort|afdPollConnectFail) != 0 {
		r |= EventReadWrite
	}
	if interest == 0 && afd&(afdPollAbort|afdPollConnectFail) != 0 {
		// An error on a socket with an empty interest set: report both so
		// that the owner notices, as epoll does.
		return EventReadWrite
	}
	return r & interest
}

// flush submits the queued updates. Sockets whose submission failed are
// reported in events, which it returns the count of, and stay queued: the
// error is level-triggered too.
func (p *iocpPoller) flush(events []Event) int {
	out := 0
	q := p.updates
	keep := q[:0] // compacted in place: it never overtakes the reading
	for _, s := range q {
		s.queued = false
		if s.deleted {
			continue
		}
		p.update(s)
		if s.failed {
			if out < len(events) {
				ev := s.interest
				if ev == 0 {
					ev = EventReadWrite
				}
				events[out] = Event{Fd: s.fd, Events: ev}
				out++
			}
			s.queued = true
			keep = append(keep, s)
		}
	}
	clear(q[len(keep):])
	p.updates = keep
	return out
}

func (p *iocpPoller) Wait(events []Event, timeout time.Duration) (int, error) {
	if p.closed.Load() {
		return 0, ErrClosed
	}
	if len(events) == 0 {
		return 0, nil
	}
	if cap(p.buf) < len(events) {
		p.buf = make([]overlappedEntry, len(events))
	}
	dl := newMillisDeadline(timeout)
	for {
		out := 0
		if len(p.updates) > 0 {
			out = p.flush(events)
		}
		if out == len(events) {
			return out, nil
		}
		ms := uint32(timeoutMillis(dl.remaining())) // -1 becomes INFINITE
		if out > 0 {
			ms = 0
		}
		n, errno := getQueuedCompletionStatusEx(p.port, p.buf[:len(events)-out], ms)
		switch errno {
		case 0:
		case windows.WAIT_TIMEOUT:
			n = 0
		default:
			return out, errnoErr("GetQueuedCompletionStatusEx", errno)
		}
		woke := false
		for i := range p.buf[:n] {
			e := &p.buf[i]
			op := e.op
			e.op = nil // let the operation go when the poller does
			if e.key == keyWake {
				p.wakePending.Store(false)
				woke = true
				continue
			}
			if op == nil {
				continue
			}
			if s, ev := p.complete(op); ev != 0 {
				events[out] = Event{Fd: s.fd, Events: ev}
				out++
			}
		}
		// Completions that reported nothing (cancellations, interest that
		// changed) do not end the Wait: they only queue a new poll.
		if out > 0 || woke || dl.remaining() == 0 {
			return out, nil
		}
	}
}

func (p *iocpPoller) Wake() error {
	// Checked before the coalescing test too, so that a Wake after Close
	// fails the same way whether or not a wake-up was pending at Close.
	if p.closed.Load() {
		return ErrClosed
	}
	if !p.wakePending.CompareAndSwap(false, true) {
		return nil // a wake-up packet is queued already
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed.Load() {
		return ErrClosed
	}
	if err := windows.PostQueuedCompletionStatus(p.port, 0, keyWake, nil); err != nil {
		p.wakePending.Store(false)
		return wrapErr("PostQueuedCompletionStatus", err)
	}
	return nil
}

// closeDrainTimeout bounds how long Close waits for cancelled polls.
const closeDrainTimeout = 2 * time.Second

// leaked keeps the polls that never completed during Close, so
// that the kernel can never write into memory Go has reused.
var leaked struct {
	sync.Mutex
	ops []*pollOp
}

func (p *iocpPoller) Close() error {
	p.mu.Lock()
	if p.closed.Load() {
		p.mu.Unlock()
		return ErrClosed
	}
	p.closed.Store(true)
	p.mu.Unlock()

	// Cancel every outstanding poll and wait for the packets, after which
	// the kernel no longer touches any operation.
	out := make(map[*pollOp]bool)
	for _, s := range p.socks {
		if s.cur != nil {
			out[s.cur] = true
		}
	}
	for _, op := range p.stale {
		out[op] = true
	}
	if len(out) > 0 {
		ntCancelIoFileEx(p.afd, nil, &p.cancelIOSB)
	}
	buf := make([]overlappedEntry, 64)
	end := time.Now().Add(closeDrainTimeout)
	for len(out) > 0 {
		left := time.Until(end)
		if left <= 0 {
			break
		}
		n, errno := getQueuedCompletionStatusEx(p.port, buf, uint32(timeoutMillis(left)))
		if errno != 0 {
			break
		}
		for _, e := range buf[:n] {
			if e.op != nil {
				delete(out, e.op)
			}
		}
	}
	if len(out) > 0 {
		leaked.Lock()
		for op := range out {
			leaked.ops = append(leaked.ops, op)
		}
		leaked.Unlock()
	}
	err := windows.CloseHandle(p.afd)
	if err2 := windows.CloseHandle(p.port); err == nil {
		err = err2
	}
	p.socks, p.updates, p.stale, p.free, p.buf = nil, nil, nil, nil, nil
	return wrapErr("CloseHandle", err)
}
