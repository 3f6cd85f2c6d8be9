package evsel

import "golang.org/x/sys/unix"

// sysBindAddressNoPort defers the choice of a bound socket's port to its
// connect (Linux 4.2 and later; older kernels refuse the option, and the
// bind then picks the port as before).
func sysBindAddressNoPort(fd int) {
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
}
