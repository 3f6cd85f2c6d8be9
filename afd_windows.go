//go:build windows

package evsel

import (
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Bindings of the AFD driver (\Device\Afd), the kernel side of Winsock,
// that the IOCP poller asks for readiness: IOCTL_AFD_POLL and its structures,
// the ntdll calls that start and cancel it, and the handles it works on. The
// poller's logic is in poller_iocp.go.

var (
	modntdll                  = windows.NewLazySystemDLL("ntdll.dll")
	procNtDeviceIoControlFile = modntdll.NewProc("NtDeviceIoControlFile")
	procNtCancelIoFileEx      = modntdll.NewProc("NtCancelIoFileEx")
)

const (
	sioBaseHandle = 0x48000022 // SIO_BASE_HANDLE, for WSAIoctl

	ioctlAFDPoll = 0x00012024 // IOCTL_AFD_POLL: FILE_DEVICE_NETWORK, function 9, METHOD_BUFFERED

	afdPollReceive     = 0x0001
	afdPollSend        = 0x0004
	afdPollDisconnect  = 0x0008 // the peer shut down its side (FIN)
	afdPollAbort       = 0x0010 // the connection was reset
	afdPollLocalClose  = 0x0020 // the socket was closed by this process
	afdPollConnect     = 0x0040 // connected; Wine keeps it set, so not used as writability
	afdPollAccept      = 0x0080
	afdPollConnectFail = 0x0100

	// Always asked for, whatever the interest set: errors are readiness for
	// every interest, and a local close must be noticed to forget the socket.
	afdPollAlways = afdPollAbort | afdPollConnectFail | afdPollLocalClose
	afdPollRead   = afdPollReceive | afdPollAccept | afdPollDisconnect
	afdPollWrite  = afdPollSend // also what a completed connect reports
)

// afdPollInfo is AFD_POLL_INFO with room for one handle, the input and the
// output of IOCTL_AFD_POLL.
type afdPollInfo struct {
	timeout    int64 // absolute or relative NT time; MaxInt64 is "never"
	numHandles uint32
	exclusive  uint32
	handle     windows.Handle
	events     uint32
	status     windows.NTStatus
}

// afdSeq makes the device name of each poller unique, which helps when
// reading handle listings; AFD ignores what follows \Device\Afd.
var afdSeq atomic.Uint32

// openAFD opens a handle on the AFD device and associates it with port.
func openAFD(port windows.Handle) (windows.Handle, error) {
	name, err := windows.NewNTUnicodeString(`\Device\Afd\Evsel` + itoa(int(afdSeq.Add(1))))
	if err != nil {
		return 0, err
	}
	oa := windows.OBJECT_ATTRIBUTES{ObjectName: name}
	oa.Length = uint32(unsafe.Sizeof(oa))
	var h windows.Handle
	var iosb windows.IO_STATUS_BLOCK
	if err := windows.NtCreateFile(&h, windows.SYNCHRONIZE, &oa, &iosb, nil, 0,
		windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE, windows.FILE_OPEN, 0, 0, 0); err != nil {
		return 0, wrapErr("NtCreateFile(\\Device\\Afd)", ntErr(err))
	}
	if _, err := windows.CreateIoCompletionPort(h, port, keyAFD, 0); err != nil {
		windows.CloseHandle(h)
		return 0, wrapErr("CreateIoCompletionPort", err)
	}
	// Completions are consumed from the port only; nobody waits on the handle.
	_ = windows.SetFileCompletionNotificationModes(h, windows.FILE_SKIP_SET_EVENT_ON_HANDLE)
	return h, nil
}

// ntErr turns an NTSTATUS error into the Win32 errno it stands for.
func ntErr(err error) error {
	if st, ok := err.(windows.NTStatus); ok {
		return st.Errno()
	}
	return err
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		if n /= 10; n == 0 {
			return string(b[i:])
		}
	}
}

// baseHandle asks Winsock for the handle of the base service provider,
// beneath any layered providers: that is the handle AFD can poll.
func baseHandle(fd int) (windows.Handle, error) {
	var base windows.Handle
	var n uint32
	err := windows.WSAIoctl(windows.Handle(fd), sioBaseHandle, nil, 0,
		(*byte)(unsafe.Pointer(&base)), uint32(unsafe.Sizeof(base)), &n, nil, 0)
	if err != nil {
		return 0, wrapErr("WSAIoctl(SIO_BASE_HANDLE)", err)
	}
	return base, nil
}

// ntDeviceIoControlFile starts an asynchronous device control. The buffers
// and iosb must stay where they are until the operation's completion packet
// has been dequeued: the kernel writes to them after this call returns.
// apcContext is what the completion port hands back as lpOverlapped.
func ntDeviceIoControlFile(h windows.Handle, apcContext unsafe.Pointer, iosb *windows.IO_STATUS_BLOCK, code uint32,
	in unsafe.Pointer, inLen uint32, out unsafe.Pointer, outLen uint32) windows.NTStatus {
	r, _, _ := syscall.SyscallN(procNtDeviceIoControlFile.Addr(), uintptr(h), 0, 0, uintptr(apcContext),
		uintptr(unsafe.Pointer(iosb)), uintptr(code), uintptr(in), uintptr(inLen), uintptr(out), uintptr(outLen))
	return windows.NTStatus(r)
}

// ntCancelIoFileEx asks for the cancellation of the operation whose status
// block is req (all of h's operations if req is nil). The cancelled
// operation still completes, through the completion port, with
// STATUS_CANCELLED — or with its own result, if it finished first.
func ntCancelIoFileEx(h windows.Handle, req, iosb *windows.IO_STATUS_BLOCK) windows.NTStatus {
	r, _, _ := syscall.SyscallN(procNtCancelIoFileEx.Addr(), uintptr(h), uintptr(unsafe.Pointer(req)), uintptr(unsafe.Pointer(iosb)))
	return windows.NTStatus(r)
}
