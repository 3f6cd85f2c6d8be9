//go:build unix && !linux

package evsel

import "golang.org/x/sys/unix"

func sysWrite(fd int, p []byte) (int, error) { return unix.Write(fd, p) }
