//go:build darwin || linux || openbsd

package evsel

import "golang.org/x/sys/unix"

func sysWritev(fd int, bufs [][]byte) (int, error) { return unix.Writev(fd, bufs) }
