package evsel

import "golang.org/x/sys/windows"

// sysHasUnread peeks at one byte; the socket is non-blocking, so it does
// not wait.
func sysHasUnread(fd int) bool {
	var b [1]byte
	n, _, err := windows.Recvfrom(windows.Handle(fd), b[:], windows.MSG_PEEK)
	return err == nil && n > 0
}
