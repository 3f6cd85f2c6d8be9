package evsel

import "golang.org/x/sys/unix"

// sysHasUnread asks the receive queue's length (SIOCINQ, FIONREAD's name
// for sockets).
func sysHasUnread(fd int) bool {
	n, err := unix.IoctlGetInt(fd, unix.SIOCINQ)
	return err == nil && n > 0
}
