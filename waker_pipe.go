//go:build unix && !linux

package evsel

import (
	"syscall"

	"golang.org/x/sys/unix"
)

func newWaker() (*waker, error) {
	var p [2]int
	if err := pipeNonblock(p[:]); err != nil {
		return nil, wrapErr("pipe", err)
	}
	return &waker{rfd: p[0], wfd: p[1]}, nil
}

// pipeNonblock makes a non-blocking close-on-exec pipe without pipe2, which
// macOS lacks; the ForkLock keeps a concurrent fork from inheriting it.
func pipeNonblock(p []int) error {
	syscall.ForkLock.RLock()
	err := unix.Pipe(p)
	if err == nil {
		unix.CloseOnExec(p[0])
		unix.CloseOnExec(p[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return err
	}
	for _, fd := range p {
		if err := unix.SetNonblock(fd, true); err != nil {
			unix.Close(p[0])
			unix.Close(p[1])
			return err
		}
	}
	return nil
}
