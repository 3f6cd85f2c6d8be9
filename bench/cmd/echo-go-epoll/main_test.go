//go:build linux

package main

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestReadOutcome: a read that finds nothing (EAGAIN) leaves the
// connection alone, made either way; a raw read returns 0 with it, which
// taken for the peer's EOF dropped the connection.
func TestReadOutcome(t *testing.T) {
	for name, sys := range map[string]calls{"raw": rawCalls, "ordinary": ordinaryCalls} {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 16)
		if n, gone := readOutcome(sys.read(fds[0], buf)); n != 0 || gone {
			t.Errorf("%s: nothing to read: n %d, gone %v", name, n, gone)
		}
		if _, err := unix.Write(fds[1], []byte("hi")); err != nil {
			t.Fatal(err)
		}
		if n, gone := readOutcome(sys.read(fds[0], buf)); n != 2 || gone {
			t.Errorf("%s: two bytes: n %d, gone %v", name, n, gone)
		}
		unix.Close(fds[1])
		if n, gone := readOutcome(sys.read(fds[0], buf)); n != 0 || !gone {
			t.Errorf("%s: the peer's EOF: n %d, gone %v", name, n, gone)
		}
		unix.Close(fds[0])
	}
}
