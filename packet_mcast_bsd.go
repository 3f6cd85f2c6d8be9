//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package evsel

import "golang.org/x/sys/unix"

// sysSetMulticast4 sets IPv4's multicast TTL or loopback, a u_char on the
// BSDs (as Go's net and x/net/ipv4 set them there).
func sysSetMulticast4(fd, opt, v int) error { return unix.SetsockoptByte(fd, ipprotoIP, opt, byte(v)) }
