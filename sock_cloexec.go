//go:build linux || freebsd || dragonfly

package evsel

import "golang.org/x/sys/unix"

// These systems create and accept sockets non-blocking and close-on-exec in
// one system call, so no fork can ever inherit a descriptor by accident.

func sysSocket(family, sotype, proto int) (int, error) {
	return unix.Socket(family, sotype|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, proto)
}

func sysSocketpair(family, sotype, proto int) ([2]int, error) {
	return unix.Socketpair(family, sotype|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, proto)
}

func sysAccept(fd int) (int, unix.Sockaddr, error) {
	return unix.Accept4(fd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
}
