package evsel

import "golang.org/x/sys/unix"

func newWaker() (*waker, error) {
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return nil, wrapErr("eventfd", err)
	}
	return &waker{rfd: fd, wfd: fd}, nil
}
