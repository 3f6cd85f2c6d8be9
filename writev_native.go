//go:build darwin || openbsd

package evsel

import "golang.org/x/sys/unix"

// sysWritev is writev(2), given at most maxWritevBufs buffers: more is
// EINVAL where a short write is what the caller expects.
func sysWritev(fd int, bufs [][]byte) (int, error) {
	return unix.Writev(fd, bufs[:min(len(bufs), maxWritevBufs)])
}
