//go:build unix && !(darwin || dragonfly || freebsd || netbsd || openbsd)

package evsel

// sysSetMulticast4 sets IPv4's multicast TTL or loopback, an int here.
func sysSetMulticast4(fd, opt, v int) error { return sysSetsockoptInt(fd, ipprotoIP, opt, v) }
