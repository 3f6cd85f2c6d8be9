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

// sysAcceptNoAddr is accept4 with no address buffer: x/sys's Accept4 always
// converts the address into a freshly allocated Sockaddr.
func sysAcceptNoAddr(fd int) (int, error) {
	nfd, _, errno := unix.Syscall6(unix.SYS_ACCEPT4, uintptr(fd), 0, 0, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
	if errno != 0 {
		return -1, errno
	}
	return int(nfd), nil
}
