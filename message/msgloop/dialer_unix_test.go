//go:build unix

package msgloop_test

import "syscall"

// setRcvBuf sets a socket's SO_RCVBUF (smallBufferDialer).
func setRcvBuf(fd uintptr, n int) error {
	return syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, n)
}
