package evsel

import (
	"net/netip"

	"golang.org/x/sys/unix"
)

// The keep-alive options; macOS calls the idle time TCP_KEEPALIVE.
const (
	tcpKeepIdle  = unix.TCP_KEEPALIVE
	tcpKeepIntvl = unix.TCP_KEEPINTVL
	tcpKeepCnt   = unix.TCP_KEEPCNT
)

// addrPort goes through libc here (Apple does not support raw system
// calls), which allocates.
func (s *Socket) addrPort(peer bool) (netip.AddrPort, error) { return s.addrPortAlloc(peer) }
