package evsel

import (
	"errors"
	"fmt"
)

// The parts of the io_uring layer that every platform sees, so that portable
// code (the loop choosing its driver) can ask UringAvailable and log the
// answer without build tags. The ring itself (Uring) exists on Linux only.

// UringOp is an io_uring operation code (enum io_uring_op of
// <linux/io_uring.h>), as the kernel's probe reports it.
type UringOp uint8

// The operations the binding builds submissions for.
const (
	UringOpNop         UringOp = 0
	UringOpPollAdd     UringOp = 6
	UringOpSendmsg     UringOp = 9
	UringOpTimeout     UringOp = 11
	UringOpAccept      UringOp = 13
	UringOpAsyncCancel UringOp = 14
	UringOpConnect     UringOp = 16
	UringOpClose       UringOp = 19
	UringOpSend        UringOp = 26
	UringOpRecv        UringOp = 27
	// UringOpSendZC is not built by the binding; its presence is how the
	// probe tells a 6.0 kernel, the first with multishot receive (a flag,
	// which no probe reports).
	UringOpSendZC UringOp = 47
)

var uringOpNames = map[UringOp]string{
	UringOpNop: "NOP", UringOpPollAdd: "POLL_ADD", UringOpSendmsg: "SENDMSG",
	UringOpTimeout: "TIMEOUT", UringOpAccept: "ACCEPT", UringOpAsyncCancel: "ASYNC_CANCEL",
	UringOpConnect: "CONNECT", UringOpClose: "CLOSE", UringOpSend: "SEND",
	UringOpRecv: "RECV", UringOpSendZC: "SEND_ZC",
}

// String returns the kernel's name of the operation (IORING_OP_ without
// the prefix), or its number.
func (op UringOp) String() string {
	if s, ok := uringOpNames[op]; ok {
		return s
	}
	return fmt.Sprintf("op %d", uint8(op))
}

// UringReason says why io_uring cannot be used.
type UringReason int

const (
	// UringNoKernel: the system has no io_uring (not Linux, or a kernel
	// built without it); io_uring_setup fails with ENOSYS and the kernel has
	// no kernel.io_uring_disabled sysctl. A seccomp filter answering ENOSYS
	// on a kernel older than 6.6 looks the same.
	UringNoKernel UringReason = iota + 1
	// UringDisabled: the administrator turned it off with the sysctl
	// kernel.io_uring_disabled (2, or 1 for a process outside
	// kernel.io_uring_group).
	UringDisabled
	// UringBlocked: the kernel has io_uring and the sysctl allows it, yet
	// io_uring_setup is refused: a seccomp filter (as Docker's default
	// profile and gVisor-like sandboxes install) or a security module.
	UringBlocked
	// UringMissingOp: the kernel's probe does not list a required operation
	// (or a flag of one, inferred from the operations that came with it).
	UringMissingOp
	// UringMissingFeature: the kernel lacks a feature the binding needs
	// regardless of operations (IORING_FEAT_EXT_ARG, the probe, provided
	// buffer rings).
	UringMissingFeature
	// UringSetupFailed: any other failure of setting the ring up (out of
	// locked memory on kernels before 5.12, out of descriptors).
	UringSetupFailed
)

// String describes the reason, for log lines.
func (r UringReason) String() string {
	switch r {
	case UringNoKernel:
		return "kernel without io_uring"
	case UringDisabled:
		return "disabled by kernel.io_uring_disabled"
	case UringBlocked:
		return "blocked by seccomp or a security module"
	case UringMissingOp:
		return "operation not supported by the kernel"
	case UringMissingFeature:
		return "feature not supported by the kernel"
	case UringSetupFailed:
		return "ring setup failed"
	}
	return fmt.Sprintf("reason %d", int(r))
}

// ErrUringUnavailable matches (errors.Is) every *UringError: io_uring cannot
// be used here and the caller should fall back to a readiness poller.
var ErrUringUnavailable = errors.New("evsel: io_uring unavailable")

// UringError is why io_uring is unavailable, returned by UringAvailable and
// NewUring. It is meant to be logged once by a caller falling back to epoll.
type UringError struct {
	Reason UringReason
	Op     UringOp // the missing operation, for UringMissingOp
	Detail string  // what exactly was missing or refused
	Err    error   // the system call's error, if one failed
}

// Error says what failed and why, in one line.
func (e *UringError) Error() string {
	s := "evsel: io_uring unavailable: " + e.Reason.String()
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the system call's error, so errors.Is(err, syscall.EPERM)
// works.
func (e *UringError) Unwrap() error { return e.Err }

// Is makes every UringError match ErrUringUnavailable.
func (e *UringError) Is(target error) bool { return target == ErrUringUnavailable }
