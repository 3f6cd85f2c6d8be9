//go:build unix

package loop

import "syscall"

// setRcvBuf sets a socket's SO_RCVBUF (smallBufferDialer, in helpers_test.go).
func setRcvBuf(fd uintptr, n int) error {
	return syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, n)
}
