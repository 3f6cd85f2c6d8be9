package evsel

import (
	"errors"
	"os"
	"strings"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// An io_uring binding over golang.org/x/sys/unix: ring setup, the mapping
// of the shared rings, the probe and detection. Submission builders are in
// uring_ops_linux.go, submitting, waiting and reaping in
// uring_enter_linux.go, provided-buffer rings in uring_pbuf_linux.go.
// The layouts below are <linux/io_uring.h>'s, written out because x/sys has
// only the system call numbers.
//
// Memory rule. An SQE carries raw addresses; the kernel may read or write
// what they point to at any time until that SQE's last completion (the one
// without IORING_CQE_F_MORE). Go's collector does not move heap objects,
// but it frees unreachable ones, so every builder that passes Go memory
// records it in the ring's hold table under the SQE's user_data, and
// reaping the last completion of that user_data drops it (uringHold).
// Being stored in the table also makes the compiler place that memory on
// the heap, never on a goroutine stack, which does move. The
// control words shared with the kernel (ring heads and tails) and the
// provided-buffer rings are mmap'd, outside Go's heap. The wait's timespec
// and getevents_arg live in the Uring, which outlives every call. Close
// cancels what is still in flight and reaps it before it unmaps anything.

// Setup flags (IORING_SETUP_*).
const (
	uringSetupCQSize       = 1 << 3
	uringSetupClamp        = 1 << 4
	uringSetupSubmitAll    = 1 << 7
	uringSetupCoopTaskrun  = 1 << 8
	uringSetupTaskrunFlag  = 1 << 9
	uringSetupSingleIssuer = 1 << 12
	uringSetupDeferTaskrun = 1 << 13
)

// Feature bits (IORING_FEAT_*) the binding uses.
const (
	uringFeatSingleMmap = 1 << 0
	uringFeatExtArg     = 1 << 8
)

// mmap offsets and io_uring_register opcodes.
const (
	uringOffSQRing = 0
	uringOffCQRing = 0x8000000
	uringOffSQEs   = 0x10000000

	uringRegisterProbe             = 8
	uringRegisterPbufRing          = 22
	uringUnregisterPbufRing        = 23
	uringOpSupported               = 1 << 0 // io_uring_probe_op.flags
	uringProbeOps                  = 256
	uringMaxEntries                = 32768
	uringDefaultEntries            = 256
	uringSQFlagCQOverflow          = 1 << 1 // IORING_SQ_CQ_OVERFLOW
	uringSQFlagTaskrun             = 1 << 2 // IORING_SQ_TASKRUN
	uringSysctlDisabled            = "/proc/sys/kernel/io_uring_disabled"
	uringCQEBufferShift            = 16
	uringCQEFlagBuffer      uint32 = 1 << 0
	uringCQEFlagMore        uint32 = 1 << 1
	uringCQEFlagBufMore     uint32 = 1 << 4 // IORING_CQE_F_BUF_MORE: an incremental buffer is not used up
)

// uringSQE is struct io_uring_sqe (64 bytes), its unions flattened to the
// members the builders use.
type uringSQE struct {
	opcode      uint8
	flags       uint8
	ioprio      uint16
	fd          int32
	off         uint64 // off, addr2
	addr        uint64
	len         uint32
	opFlags     uint32 // msg_flags, accept_flags, poll32_events, cancel_flags, timeout_flags
	userData    uint64
	bufIndex    uint16 // buf_index, buf_group
	personality uint16
	fileIndex   uint32
	addr3       uint64
	_           uint64
}

// UringCQE is one completion (struct io_uring_cqe). Res is the operation's
// result: a count or a descriptor, or a negated errno.
type UringCQE struct {
	UserData uint64
	Res      int32
	Flags    uint32
}

// More reports IORING_CQE_F_MORE: the multishot operation stays armed and
// more completions of this user_data follow. Its absence ends the operation.
func (c UringCQE) More() bool { return c.Flags&uringCQEFlagMore != 0 }

// Buffer returns the provided buffer the kernel filled (IORING_CQE_F_BUFFER),
// whose id is the high 16 bits of the flags.
func (c UringCQE) Buffer() (id uint16, ok bool) {
	return uint16(c.Flags >> uringCQEBufferShift), c.Flags&uringCQEFlagBuffer != 0
}

// Err returns the negated errno in Res as an error, or nil for Res >= 0.
func (c UringCQE) Err() error {
	if c.Res >= 0 {
		return nil
	}
	return unix.Errno(-c.Res)
}

type uringSQOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

type uringCQOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

type uringParams struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFd uint32
	resv                                                                   [3]uint32
	sqOff                                                                  uringSQOffsets
	cqOff                                                                  uringCQOffsets
}

// UringOptions configure NewUring. The zero value is a ring of 256
// submission entries that needs the operations of an echo server.
type UringOptions struct {
	// Entries is the submission queue's size, rounded up to a power of two
	// and clamped to the kernel's limit; 0 means 256.
	Entries uint32
	// CQEntries is the completion queue's size; 0 means 4 × Entries, room
	// for the bursts of multishot completions between two reaps.
	CQEntries uint32
	// Require lists operations the ring must support besides those the
	// binding always needs (UringRequiredOps); one the probe does not list
	// fails NewUring with a UringError of reason UringMissingOp. Asking for
	// one no kernel has is how a test forces the fallback path.
	Require []UringOp
	// NoSingleIssuer skips the IORING_SETUP_SINGLE_ISSUER|DEFER_TASKRUN tier
	// for a ring that several threads use (see Uring).
	NoSingleIssuer bool
}

// UringRequiredOps are the operations an engine built on the binding uses;
// NewUring and UringAvailable require them all.
var UringRequiredOps = []UringOp{
	UringOpNop, UringOpPollAdd, UringOpSendmsg, UringOpTimeout, UringOpAccept,
	UringOpAsyncCancel, UringOpConnect, UringOpClose, UringOpSend, UringOpRecv,
	UringOpSendZC, // stands for multishot receive, see UringOpSendZC
}

// Uring is one io_uring instance: its submission and completion queues
// mapped into the process, and the hold table of the memory its requests
// point at.
//
// A Uring is owned by one goroutine, as a Poller is. When SetupFlags
// includes IORING_SETUP_SINGLE_ISSUER (the default where the kernel has it),
// the kernel also ties the ring to the OS thread that created it: every
// submission, wait and registration must come from that thread, or fails
// with EEXIST. The owner therefore calls runtime.LockOSThread before
// NewUring and keeps the lock until after Close; a ring used by several
// threads is asked for with UringOptions.NoSingleIssuer.
type Uring struct {
	fd       int
	flags    uint32 // the setup flags the kernel accepted
	features uint32
	ops      [uringProbeOps / 64]uint64 // supported opcodes, from the probe
	// recvLimit: multishot receives take a byte limit (probeRecvLimit).
	recvLimit bool

	sqMem, cqMem, sqeMem []byte // the mappings (cqMem aliases sqMem with SINGLE_MMAP)
	sqHead, sqTail       *uint32
	sqFlags              *uint32
	sqMask, sqEntries    uint32
	sqes                 []uringSQE
	sqeTail              uint32 // the next SQE to fill; published to *sqTail on submit

	cqHead, cqTail *uint32
	cqMask         uint32
	cqes           []UringCQE

	// wait is the EXT_ARG of io_uring_enter and the timespec it points to.
	// They are fields so that the kernel is handed heap addresses that stay
	// valid through the call, and so that waiting allocates nothing.
	waitArg uringGeteventsArg
	waitTS  uringTimespec

	hold     map[uint64]uringHold // memory in flight, by user_data (uring_enter_linux.go)
	inflight int                  // SQEs queued whose last completion is not reaped yet
	bufRings map[uint16]*UringBufRing
	closed   bool

	// files has a bit set for each descriptor in the registered file table
	// of fileSlots slots (slot fd holds descriptor fd; uring_files_linux.go);
	// fileUpdate and fileFd are the argument of the system call that
	// changes it.
	files      []uint64
	fileSlots  int
	fileUpdate uringFilesUpdate
	fileFd     int32
}

// NewUring sets up a ring. It fails with a *UringError (matching
// ErrUringUnavailable) when io_uring cannot be used here; see
// UringAvailable.
func NewUring(opts UringOptions) (*Uring, error) {
	entries := opts.Entries
	if entries == 0 {
		entries = uringDefaultEntries
	}
	entries = min(entries, uringMaxEntries)
	cqEntries := opts.CQEntries
	if cqEntries == 0 {
		cqEntries = 4 * entries
	}
	fd, p, err := uringSetup(entries, cqEntries, !opts.NoSingleIssuer)
	if err != nil {
		return nil, err
	}
	r := &Uring{fd: fd, flags: p.flags, features: p.features}
	if err := r.check(opts.Require); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if err := r.mapRings(&p); err != nil {
		unix.Close(fd)
		return nil, err
	}
	r.recvLimit = r.probeRecvLimit()
	return r, nil
}

// probeRecvLimit asks the kernel whether a multishot receive takes a byte
// limit (Linux 6.17), with one request on the new ring. The limit goes in
// the field that older kernels know as file_index, which their receive
// refuses at preparation (EINVAL); a kernel with the limit accepts it and
// fails the request only when it runs, here with EBADF for descriptor -1.
// The probe asks behaviour rather than the version, so a backport counts.
func (r *Uring) probeRecvLimit() bool {
	if err := r.PrepRecvMultishot(0, -1, 0xffff, 1); err != nil {
		return false
	}
	if err := r.SubmitAndWait(time.Second); err != nil {
		return false
	}
	res := int32(0)
	r.ForEachCQE(func(c UringCQE) { res = c.Res })
	return res == -int32(unix.EBADF)
}

// RecvLimit reports whether PrepRecvMultishot's limit is available; where
// it is not, a request with a limit fails with EINVAL.
func (r *Uring) RecvLimit() bool { return r.recvLimit }

// uringSetupTiers are the setup flags tried, best first; a kernel that
// does not know a flag fails with EINVAL and the next tier is tried.
//
//   - SINGLE_ISSUER|DEFER_TASKRUN (6.1): completions are posted only when
//     the owner asks for them in io_uring_enter, in one batch on its own
//     thread, instead of by task work that interrupts it at any time; the
//     fastest mode for a loop that submits and reaps once per iteration, as
//     the C io_uring echo server of issue 14 is set up.
//   - COOP_TASKRUN|TASKRUN_FLAG (5.19): no inter-processor interrupt to run
//     task work; the kernel raises IORING_SQ_TASKRUN and the next enter runs
//     it, which SubmitAndWait always does.
//   - COOP_TASKRUN (5.18).
//   - none (every kernel).
//
// SUBMIT_ALL (5.18) goes with the tiers that have it, so that one failing
// SQE does not leave those behind it unsubmitted; CQSIZE and CLAMP (5.5,
// 5.6) go with every tier.
var uringSetupTiers = []uint32{
	uringSetupSubmitAll | uringSetupSingleIssuer | uringSetupDeferTaskrun,
	uringSetupSubmitAll | uringSetupCoopTaskrun | uringSetupTaskrunFlag,
	uringSetupSubmitAll | uringSetupCoopTaskrun,
	0,
}

func uringSetup(entries, cqEntries uint32, singleIssuer bool) (int, uringParams, error) {
	var err error
	for _, tier := range uringSetupTiers {
		if tier&uringSetupSingleIssuer != 0 && !singleIssuer {
			continue
		}
		p := uringParams{flags: tier | uringSetupCQSize | uringSetupClamp, cqEntries: cqEntries}
		var fd uintptr
		fd, err = ignoringEINTR(func() (uintptr, error) {
			fd, _, e := unix.Syscall(unix.SYS_IO_URING_SETUP, uintptr(entries), uintptr(unsafe.Pointer(&p)), 0)
			if e != 0 {
				return 0, e
			}
			return fd, nil
		})
		if err == nil {
			return int(fd), p, nil
		}
		if err != unix.EINVAL {
			break
		}
	}
	return -1, uringParams{}, uringSetupError(err)
}

// uringSetupError classifies io_uring_setup's failure. ENOSYS and EPERM
// each have two causes, told apart by the sysctl: kernels since 6.6 have
// kernel.io_uring_disabled, so a kernel that has the file has io_uring, and
// its value says whether the administrator refused it.
func uringSetupError(err error) error {
	sysctl, serr := os.ReadFile(uringSysctlDisabled)
	disabled := strings.TrimSpace(string(sysctl))
	switch {
	case err == unix.ENOSYS && serr != nil:
		return &UringError{Reason: UringNoKernel, Detail: "io_uring_setup: ENOSYS (or a seccomp filter)", Err: err}
	case err == unix.ENOSYS:
		return &UringError{Reason: UringBlocked, Detail: "io_uring_setup: ENOSYS on a kernel with io_uring", Err: err}
	case err == unix.EPERM && serr == nil && disabled != "0":
		return &UringError{Reason: UringDisabled, Detail: "kernel.io_uring_disabled=" + disabled, Err: err}
	case err == unix.EPERM:
		return &UringError{Reason: UringBlocked, Detail: "io_uring_setup: EPERM", Err: err}
	case err == unix.EINVAL:
		return &UringError{Reason: UringMissingFeature, Detail: "io_uring_setup rejects every flag set", Err: err}
	}
	return &UringError{Reason: UringSetupFailed, Err: os.NewSyscallError("io_uring_setup", err)}
}

// check probes the kernel and tests the features and operations needed.
func (r *Uring) check(require []UringOp) error {
	if r.features&uringFeatExtArg == 0 {
		return &UringError{Reason: UringMissingFeature, Detail: "IORING_FEAT_EXT_ARG (Linux 5.11)"}
	}
	if err := r.probe(); err != nil {
		return err
	}
	for _, list := range [][]UringOp{UringRequiredOps, require} {
		for _, op := range list {
			if !r.Supports(op) {
				return &UringError{Reason: UringMissingOp, Op: op, Detail: op.String()}
			}
		}
	}
	return nil
}

// probe fills r.ops with IORING_REGISTER_PROBE (Linux 5.6).
func (r *Uring) probe() error {
	// struct io_uring_probe: a 16-byte header then 8-byte io_uring_probe_op
	// entries {op, resv, flags u16, resv2 u32}.
	var buf [16 + 8*uringProbeOps]byte
	if err := r.register(uringRegisterProbe, unsafe.Pointer(&buf[0]), uringProbeOps); err != nil {
		return &UringError{Reason: UringMissingFeature, Detail: "IORING_REGISTER_PROBE (Linux 5.6)", Err: err}
	}
	n := int(buf[1]) // ops_len
	for i := range min(n, uringProbeOps) {
		e := buf[16+8*i:]
		if (uint16(e[2])|uint16(e[3])<<8)&uringOpSupported != 0 {
			r.ops[e[0]/64] |= 1 << (e[0] % 64)
		}
	}
	return nil
}

// Supports reports whether the kernel's probe lists op.
func (r *Uring) Supports(op UringOp) bool { return r.ops[op/64]&(1<<(op%64)) != 0 }

// SetupFlags returns the IORING_SETUP_* flags the ring was created with,
// the first tier of uringSetupTiers the kernel accepted.
func (r *Uring) SetupFlags() uint32 { return r.flags }

// SingleIssuer reports whether the ring is tied to the thread that created
// it (IORING_SETUP_SINGLE_ISSUER).
func (r *Uring) SingleIssuer() bool { return r.flags&uringSetupSingleIssuer != 0 }

// Features returns the IORING_FEAT_* bits the kernel reported at setup.
func (r *Uring) Features() uint32 { return r.features }

// Fd returns the ring's descriptor.
func (r *Uring) Fd() int { return r.fd }

func (r *Uring) register(opcode uintptr, arg unsafe.Pointer, n uintptr) error {
	_, err := ignoringEINTR(func() (struct{}, error) {
		_, _, e := unix.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(r.fd), opcode, uintptr(arg), n, 0, 0)
		if e != 0 {
			return struct{}{}, e
		}
		return struct{}{}, nil
	})
	return err
}

// mapRings maps the queues and points the fields at the shared words.
func (r *Uring) mapRings(p *uringParams) error {
	sqSize := int(p.sqOff.array + 4*p.sqEntries)
	cqSize := int(p.cqOff.cqes + uint32(unsafe.Sizeof(UringCQE{}))*p.cqEntries)
	single := p.features&uringFeatSingleMmap != 0
	if single {
		sqSize = max(sqSize, cqSize)
	}
	const prot, flags = unix.PROT_READ | unix.PROT_WRITE, unix.MAP_SHARED | unix.MAP_POPULATE
	var err error
	if r.sqMem, err = unix.Mmap(r.fd, uringOffSQRing, sqSize, prot, flags); err != nil {
		return &UringError{Reason: UringSetupFailed, Err: os.NewSyscallError("mmap", err)}
	}
	r.cqMem = r.sqMem
	if !single {
		if r.cqMem, err = unix.Mmap(r.fd, uringOffCQRing, cqSize, prot, flags); err != nil {
			r.unmap()
			return &UringError{Reason: UringSetupFailed, Err: os.NewSyscallError("mmap", err)}
		}
	}
	sqeSize := int(p.sqEntries) * int(unsafe.Sizeof(uringSQE{}))
	if r.sqeMem, err = unix.Mmap(r.fd, uringOffSQEs, sqeSize, prot, flags); err != nil {
		r.unmap()
		return &UringError{Reason: UringSetupFailed, Err: os.NewSyscallError("mmap", err)}
	}
	word := func(mem []byte, off uint32) *uint32 { return (*uint32)(unsafe.Pointer(&mem[off])) }
	r.sqHead, r.sqTail, r.sqFlags = word(r.sqMem, p.sqOff.head), word(r.sqMem, p.sqOff.tail), word(r.sqMem, p.sqOff.flags)
	r.sqMask, r.sqEntries = *word(r.sqMem, p.sqOff.ringMask), *word(r.sqMem, p.sqOff.ringEntries)
	r.sqes = unsafe.Slice((*uringSQE)(unsafe.Pointer(&r.sqeMem[0])), p.sqEntries)
	// SQEs are always submitted in ring order, so the indirection array is
	// the identity, written once.
	array := unsafe.Slice(word(r.sqMem, p.sqOff.array), p.sqEntries)
	for i := range array {
		array[i] = uint32(i)
	}
	r.sqeTail = *r.sqTail
	r.cqHead, r.cqTail = word(r.cqMem, p.cqOff.head), word(r.cqMem, p.cqOff.tail)
	r.cqMask = *word(r.cqMem, p.cqOff.ringMask)
	r.cqes = unsafe.Slice((*UringCQE)(unsafe.Pointer(&r.cqMem[p.cqOff.cqes])), p.cqEntries)
	return nil
}

func (r *Uring) unmap() {
	if r.sqeMem != nil {
		unix.Munmap(r.sqeMem)
	}
	if r.cqMem != nil && &r.cqMem[0] != &r.sqMem[0] {
		unix.Munmap(r.cqMem)
	}
	if r.sqMem != nil {
		unix.Munmap(r.sqMem)
	}
	r.sqeMem, r.cqMem, r.sqMem, r.sqes, r.cqes = nil, nil, nil, nil, nil
}

var uringProbed struct {
	once sync.Once
	ops  [uringProbeOps / 64]uint64
	err  error
}

// UringAvailable reports whether an io_uring ring with the operations the
// binding needs, and those in required, can be set up here: nil, or a
// *UringError saying why not, to log once before falling back to epoll.
// The kernel is asked once per process (a throwaway ring); later calls
// check required against that answer.
func UringAvailable(required ...UringOp) error {
	p := &uringProbed
	p.once.Do(func() {
		// The probe ring is created and closed on whatever thread this
		// runs on; NoSingleIssuer keeps that thread out of it.
		r, err := NewUring(UringOptions{Entries: 2, CQEntries: 4, NoSingleIssuer: true})
		if err != nil {
			p.err = err
			return
		}
		p.ops = r.ops
		if err := r.testBufRing(); err != nil {
			p.err = err
		}
		p.err = errors.Join(p.err, r.Close())
	})
	if p.err != nil {
		return p.err
	}
	for _, op := range required {
		if p.ops[op/64]&(1<<(op%64)) == 0 {
			return &UringError{Reason: UringMissingOp, Op: op, Detail: op.String()}
		}
	}
	return nil
}

// testBufRing registers and drops a one-entry provided-buffer ring: the
// probe lists operations, not registrations, and IORING_REGISTER_PBUF_RING
// (5.19) is what multishot receive needs.
func (r *Uring) testBufRing() error {
	br, err := r.NewBufRing(0xffff, 1)
	if err != nil {
		return &UringError{Reason: UringMissingFeature, Detail: "IORING_REGISTER_PBUF_RING (Linux 5.19)", Err: errors.Unwrap(err)}
	}
	return br.Close()
}
