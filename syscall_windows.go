//go:build windows

package evsel

import (
	"math"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

// System calls that golang.org/x/sys/windows lacks, or wraps in a way that
// allocates on the hot path (it boxes every errno into an error, and
// WSAEWOULDBLOCK is the common answer of a non-blocking socket). These
// return the raw windows.Errno; callers turn it into an error with
// errnoError or errnoErr.

var (
	modws2_32   = windows.NewLazySystemDLL("ws2_32.dll")
	modkernel32 = windows.NewLazySystemDLL("kernel32.dll")

	procAccept                      = modws2_32.NewProc("accept")
	procRecv                        = modws2_32.NewProc("recv")
	procSend                        = modws2_32.NewProc("send")
	procWSASend                     = modws2_32.NewProc("WSASend")
	procIoctlsocket                 = modws2_32.NewProc("ioctlsocket")
	procGetQueuedCompletionStatusEx = modkernel32.NewProc("GetQueuedCompletionStatusEx")
)

// Winsock constants x/sys/windows does not define.
const (
	soError            = 0x1007     // SO_ERROR
	soType             = 0x1008     // SO_TYPE
	soExclusiveAddrUse = ^int32(4)  // SO_EXCLUSIVEADDRUSE: ~SO_REUSEADDR
	fionbio            = 0x8004667e // FIONBIO, for ioctlsocket
	socketError        = -1         // SOCKET_ERROR
)

// clampLen bounds a buffer length to what the int-sized Winsock calls take.
func clampLen(n int) int {
	return min(n, math.MaxInt32)
}

func winAccept(s windows.Handle, rsa *windows.RawSockaddrAny, rsaLen *int32) (windows.Handle, windows.Errno) {
	r, _, e := syscall.SyscallN(procAccept.Addr(), uintptr(s), uintptr(unsafe.Pointer(rsa)), uintptr(unsafe.Pointer(rsaLen)))
	if windows.Handle(r) == windows.InvalidHandle {
		return windows.InvalidHandle, e
	}
	return windows.Handle(r), 0
}

func winRecv(s windows.Handle, p []byte) (int, windows.Errno) {
	var ptr *byte
	if len(p) > 0 {
		ptr = &p[0]
	}
	r, _, e := syscall.SyscallN(procRecv.Addr(), uintptr(s), uintptr(unsafe.Pointer(ptr)), uintptr(clampLen(len(p))), 0)
	if int32(r) == socketError {
		return 0, e
	}
	return int(int32(r)), 0
}

func winSend(s windows.Handle, p []byte) (int, windows.Errno) {
	var ptr *byte
	if len(p) > 0 {
		ptr = &p[0]
	}
	r, _, e := syscall.SyscallN(procSend.Addr(), uintptr(s), uintptr(unsafe.Pointer(ptr)), uintptr(clampLen(len(p))), 0)
	if int32(r) == socketError {
		return 0, e
	}
	return int(int32(r)), 0
}

// winWSASend is a synchronous (non-overlapped) gather send.
func winWSASend(s windows.Handle, bufs []windows.WSABuf) (int, windows.Errno) {
	var sent uint32
	var ptr *windows.WSABuf
	if len(bufs) > 0 {
		ptr = &bufs[0]
	}
	r, _, e := syscall.SyscallN(procWSASend.Addr(), uintptr(s), uintptr(unsafe.Pointer(ptr)), uintptr(len(bufs)),
		uintptr(unsafe.Pointer(&sent)), 0, 0, 0)
	if int32(r) == socketError {
		return 0, e
	}
	return int(sent), 0
}

func winIoctlsocket(s windows.Handle, cmd uint32, arg *uint32) windows.Errno {
	r, _, e := syscall.SyscallN(procIoctlsocket.Addr(), uintptr(s), uintptr(cmd), uintptr(unsafe.Pointer(arg)))
	if int32(r) == socketError {
		return e
	}
	return 0
}

// overlappedEntry is OVERLAPPED_ENTRY. Its lpOverlapped field is typed as a
// pointer to the poller's poll operation, which is what every AFD poll
// passes as its APC context; wake-up packets carry nil there.
type overlappedEntry struct {
	key      uintptr
	op       *pollOp
	internal uintptr
	bytes    uint32
}

func getQueuedCompletionStatusEx(port windows.Handle, entries []overlappedEntry, timeoutMs uint32) (int, windows.Errno) {
	var n uint32
	r, _, e := syscall.SyscallN(procGetQueuedCompletionStatusEx.Addr(), uintptr(port),
		uintptr(unsafe.Pointer(&entries[0])), uintptr(len(entries)), uintptr(unsafe.Pointer(&n)), uintptr(timeoutMs), 0)
	if r == 0 {
		return 0, e
	}
	return int(n), 0
}
