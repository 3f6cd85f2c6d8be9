package evsel

import (
	"net"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Submission builders. Each queues one SQE under a user_data of the
// caller's choosing, which the request's completions carry back; the queue
// goes to the kernel at the next Submit or SubmitAndWait (or at once when it
// is full). A builder that passes memory to the kernel keeps it in the hold
// table until the request's last completion is reaped (see the memory rule
// in uring_linux.go), which is why such requests need distinct user_data
// while in flight (ErrUringBusy). The memory must also not be changed by
// the caller until then: the kernel reads a send's bytes when the socket
// has room, not when the request is queued.

// SQE flags (IOSQE_*) and per-operation flags.
const (
	uringSQEBufferSelect = 1 << 5
	uringAcceptMultishot = 1 << 0 // IORING_ACCEPT_MULTISHOT, in ioprio
	uringRecvMultishot   = 1 << 1 // IORING_RECV_MULTISHOT, in ioprio
	uringPollAddMulti    = 1 << 0 // IORING_POLL_ADD_MULTI, in len
)

// queue fills the common fields of a new SQE.
func (r *Uring) queue(op UringOp, userData uint64, fd int) (*uringSQE, error) {
	sqe, err := r.next()
	if err != nil {
		return nil, err
	}
	sqe.opcode = uint8(op)
	sqe.fd = int32(fd)
	sqe.userData = userData
	return sqe, nil
}

// queueHeld is queue for a request that passes p to the kernel.
func (r *Uring) queueHeld(op UringOp, userData uint64, fd int, h uringHold) (*uringSQE, error) {
	if err := r.busy(userData); err != nil {
		return nil, err
	}
	sqe, err := r.queue(op, userData, fd)
	if err != nil {
		return nil, err
	}
	r.keep(userData, h)
	return sqe, nil
}

// PrepNop queues a request that does nothing but complete with Res 0.
func (r *Uring) PrepNop(userData uint64) error {
	_, err := r.queue(UringOpNop, userData, -1)
	return err
}

// PrepAcceptMultishot queues a multishot accept (Linux 5.19) on the
// listening socket fd: one completion per accepted connection, Res the new
// descriptor, with More set while the accept stays armed. The descriptors
// are non-blocking and close-on-exec, like those Socket.Accept returns, so
// the engine can hand them to its readiness poller too. An error
// completion (EMFILE, ...) without More ends the accept; re-arm it.
// Descriptors in completions nobody reaps are closed by Close.
func (r *Uring) PrepAcceptMultishot(userData uint64, fd int) error {
	sqe, err := r.queueHeld(UringOpAccept, userData, fd, uringHold{accept: true})
	if err != nil {
		return err
	}
	sqe.ioprio = uringAcceptMultishot
	sqe.opFlags = unix.SOCK_NONBLOCK | unix.SOCK_CLOEXEC
	return nil
}

// PrepRecvMultishot queues a multishot receive (Linux 6.0) on fd into
// buffers of the provided-buffer ring of group: one completion per
// received chunk, Res its length and Buffer() the id of the buffer that
// holds it. It ends (More clear) at end of stream (Res 0), on an error, on
// ENOBUFS when the group's ring is empty (recycle buffers, then re-arm),
// or when cancelled.
//
// A limit other than 0 ends it, too, once it has received that many bytes
// (IORING_OP_RECV's optlen, Linux 6.17; see RecvLimit): the last receive
// may take up to one buffer more. Without a limit the kernel runs up to 32
// receives each time the socket becomes readable before the owner sees
// any, so a limit is what bounds the bytes a multishot receive takes
// before the owner can stop it. Kernels without it refuse the request
// (EINVAL in the completion) rather than ignore the limit.
func (r *Uring) PrepRecvMultishot(userData uint64, fd int, group uint16, limit uint32) error {
	sqe, err := r.queue(UringOpRecv, userData, fd)
	if err != nil {
		return err
	}
	sqe.ioprio = uringRecvMultishot
	sqe.flags = uringSQEBufferSelect
	r.fixFile(sqe, fd)
	sqe.bufIndex = group
	sqe.fileIndex = limit // optlen
	return nil
}

// PrepRecvSelect queues one receive on fd into a buffer the kernel takes
// from the provided-buffer ring of group when data arrives (so a waiting
// receive holds no memory): one completion, as PrepRecvMultishot's.
func (r *Uring) PrepRecvSelect(userData uint64, fd int, group uint16) error {
	sqe, err := r.queue(UringOpRecv, userData, fd)
	if err != nil {
		return err
	}
	sqe.flags = uringSQEBufferSelect
	r.fixFile(sqe, fd)
	sqe.bufIndex = group
	return nil
}

// PrepRecv queues one receive into b; Res is the length received, 0 at end
// of stream.
func (r *Uring) PrepRecv(userData uint64, fd int, b []byte) error {
	p := unsafe.Pointer(unsafe.SliceData(b))
	sqe, err := r.queueHeld(UringOpRecv, userData, fd, uringHold{p: p})
	if err != nil {
		return err
	}
	r.fixFile(sqe, fd)
	sqe.addr = uint64(uintptr(p))
	sqe.len = uint32(len(b))
	return nil
}

// PrepSend queues a send of b (MSG_NOSIGNAL: a reset peer is an EPIPE
// completion, not a signal). Res is how much was sent, which on a stream
// socket may be less than len(b).
func (r *Uring) PrepSend(userData uint64, fd int, b []byte) error {
	p := unsafe.Pointer(unsafe.SliceData(b))
	sqe, err := r.queueHeld(UringOpSend, userData, fd, uringHold{p: p})
	if err != nil {
		return err
	}
	r.fixFile(sqe, fd)
	sqe.addr = uint64(uintptr(p))
	sqe.len = uint32(len(b))
	sqe.opFlags = unix.MSG_NOSIGNAL
	return nil
}

// PrepSendmsg queues a sendmsg of msg (MSG_NOSIGNAL), a gathered send of
// the buffers its iovecs point to. msg's fields are Go pointers, so holding
// msg keeps its iovecs, buffers, name and control data reachable.
func (r *Uring) PrepSendmsg(userData uint64, fd int, msg *unix.Msghdr) error {
	p := unsafe.Pointer(msg)
	sqe, err := r.queueHeld(UringOpSendmsg, userData, fd, uringHold{p: p})
	if err != nil {
		return err
	}
	r.fixFile(sqe, fd)
	sqe.addr = uint64(uintptr(p))
	sqe.len = 1
	sqe.opFlags = unix.MSG_NOSIGNAL
	return nil
}

// PrepConnect queues a connect of the socket fd to addr; Res is 0 once
// connected, or the error (ECONNREFUSED, ...).
func (r *Uring) PrepConnect(userData uint64, fd int, addr *UringSockaddr) error {
	p := unsafe.Pointer(&addr.raw)
	sqe, err := r.queueHeld(UringOpConnect, userData, fd, uringHold{p: p})
	if err != nil {
		return err
	}
	sqe.addr = uint64(uintptr(p))
	sqe.off = uint64(addr.len)
	return nil
}

// PrepClose queues a close of fd. Requests still pending on it are not
// cancelled by the close (the kernel holds its own reference to the file);
// cancel them with PrepCancelFd first.
func (r *Uring) PrepClose(userData uint64, fd int) error {
	_, err := r.queue(UringOpClose, userData, fd)
	return err
}

// PrepCancel queues the cancellation of every request queued under target
// (IORING_ASYNC_CANCEL_ALL). Its own completion's Res is how many were
// found (0 for none); each cancelled request completes with ECANCELED.
func (r *Uring) PrepCancel(userData, target uint64) error {
	sqe, err := r.queue(UringOpAsyncCancel, userData, -1)
	if err != nil {
		return err
	}
	sqe.addr = target
	sqe.opFlags = uringCancelAll
	return nil
}

// PrepCancelFd queues the cancellation of every request on fd (Linux 5.19),
// as PrepCancel does by user_data.
func (r *Uring) PrepCancelFd(userData uint64, fd int) error {
	sqe, err := r.queue(UringOpAsyncCancel, userData, fd)
	if err != nil {
		return err
	}
	sqe.opFlags = uringCancelAll | uringCancelFd
	return nil
}

// PrepPollMultishot queues a multishot poll (Linux 5.13) of fd for events
// (unix.POLLIN, ...): a completion, Res the events, each time the file
// becomes ready, for instance when a wake-up eventfd is written to; the
// owner reads the eventfd to rearm its readiness.
func (r *Uring) PrepPollMultishot(userData uint64, fd int, events uint32) error {
	sqe, err := r.queue(UringOpPollAdd, userData, fd)
	if err != nil {
		return err
	}
	sqe.len = uringPollAddMulti
	sqe.opFlags = pollEvents32(events)
	return nil
}

// PrepPoll queues a one-shot poll of fd for events: one completion, Res
// the events, as soon as the file is ready (at once if it is already),
// which gives level-triggered readiness when it is queued again after
// each completion.
func (r *Uring) PrepPoll(userData uint64, fd int, events uint32) error {
	sqe, err := r.queue(UringOpPollAdd, userData, fd)
	if err != nil {
		return err
	}
	sqe.opFlags = pollEvents32(events)
	return nil
}

// UringSocket wraps a descriptor a multishot accept delivered (already
// non-blocking and close-on-exec) as a Socket, without a system call.
func UringSocket(fd int) Socket { return Socket{fdPlusOne: fd + 1} }

// pollEvents32 lays events out as poll32_events: big-endian kernels read
// the field with its 16-bit halves swapped, for compatibility with the
// original 16-bit poll_events.
func pollEvents32(events uint32) uint32 {
	if bigEndian {
		return events<<16 | events>>16
	}
	return events
}

var bigEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 0
}()

// PrepTimeout queues a timer that completes with ETIME after d. It
// allocates the timespec the request points to (held until completion);
// a loop waiting with SubmitAndWait's timeout needs no timer request.
func (r *Uring) PrepTimeout(userData uint64, d time.Duration) error {
	ts := new(uringTimespec)
	*ts = toUringTimespec(d)
	p := unsafe.Pointer(ts)
	sqe, err := r.queueHeld(UringOpTimeout, userData, -1, uringHold{p: p})
	if err != nil {
		return err
	}
	sqe.addr = uint64(uintptr(p))
	sqe.len = 1
	return nil
}

// UringSockaddr is a socket address in the kernel's layout, for
// PrepConnect.
type UringSockaddr struct {
	raw unix.RawSockaddrAny
	len uint32
}

// NewUringSockaddr converts a *net.TCPAddr or *net.UnixAddr.
func NewUringSockaddr(addr net.Addr) (*UringSockaddr, error) {
	sa, err := toSockaddr(addr)
	if err != nil {
		return nil, err
	}
	u := new(UringSockaddr)
	switch sa := sa.(type) {
	case *sockaddrInet4:
		raw := (*unix.RawSockaddrInet4)(unsafe.Pointer(&u.raw))
		raw.Family = unix.AF_INET
		putPort(&raw.Port, sa.Port)
		raw.Addr = sa.Addr
		u.len = unix.SizeofSockaddrInet4
	case *sockaddrInet6:
		raw := (*unix.RawSockaddrInet6)(unsafe.Pointer(&u.raw))
		raw.Family = unix.AF_INET6
		putPort(&raw.Port, sa.Port)
		raw.Addr = sa.Addr
		raw.Scope_id = sa.ZoneId
		u.len = unix.SizeofSockaddrInet6
	case *sockaddrUnix:
		raw := (*unix.RawSockaddrUnix)(unsafe.Pointer(&u.raw))
		if len(sa.Name) >= len(raw.Path) {
			return nil, wrapErr("sockaddr", errInval)
		}
		raw.Family = unix.AF_UNIX
		for i := range len(sa.Name) {
			raw.Path[i] = int8(sa.Name[i])
		}
		n := len(sa.Name) + 1 // with the terminating NUL
		if len(sa.Name) > 0 && sa.Name[0] == '@' {
			raw.Path[0] = 0 // abstract: the length delimits the name
			n--
		}
		u.len = uint32(2 + n)
	default:
		return nil, wrapErr("sockaddr", errAFNoSupport)
	}
	return u, nil
}

// putPort stores a port in network byte order.
func putPort(p *uint16, port int) {
	b := (*[2]byte)(unsafe.Pointer(p))
	b[0], b[1] = byte(port>>8), byte(port)
}
