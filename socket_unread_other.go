//go:build unix && !linux

package evsel

import "golang.org/x/sys/unix"

// sysHasUnread peeks at one byte without waiting (x/sys has no FIONREAD
// for these systems).
func sysHasUnread(fd int) bool {
	var b [1]byte
	n, _, err := unix.Recvfrom(fd, b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
	return err == nil && n > 0
}
