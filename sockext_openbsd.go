package evsel

import "net/netip"

// OpenBSD has no per-socket keep-alive tuning (only the net.inet.tcp
// sysctls): -1 marks the options as missing.
const (
	tcpKeepIdle  = -1
	tcpKeepIntvl = -1
	tcpKeepCnt   = -1
)

// addrPort goes through libc here (OpenBSD only allows system calls from
// it), which allocates.
func (s *Socket) addrPort(peer bool) (netip.AddrPort, error) { return s.addrPortAlloc(peer) }
