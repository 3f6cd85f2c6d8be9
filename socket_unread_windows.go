package evsel

import (
	"unsafe"

	"golang.org/x/sys/windows"
)

// fionread is FIONREAD, _IOR('f', 127, u_long), which x/sys/windows does
// not name.
const fionread = 0x4004667f

// sysHasUnread asks the receive queue's length (FIONREAD). A one-byte
// MSG_PEEK, as on the BSDs, found nothing under Wine.
func sysHasUnread(fd int) bool {
	var n, ret uint32
	err := windows.WSAIoctl(windows.Handle(fd), fionread, nil, 0, (*byte)(unsafe.Pointer(&n)), uint32(unsafe.Sizeof(n)), &ret, nil, 0)
	return err == nil && n > 0
}
