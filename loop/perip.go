package loop

import (
	"hash/maphash"
	"net/netip"
	"sync"

	"github.com/evsel/evsel"
)

// ipCounts counts the connections held per peer address for
// Options.MaxConnsPerIP. The key is a keyed hash of the address, so that
// a Conn carries it in 4 bytes (the padding at the end of its 128-byte
// allocation class) instead of 24, and so that a peer cannot pick
// addresses whose keys are a victim's, as it could with a fixed hash.
type ipCounts struct {
	seed maphash.Seed
	mu   sync.Mutex
	n    map[uint32]int32
}

func newIPCounts() *ipCounts {
	return &ipCounts{seed: maphash.MakeSeed(), n: make(map[uint32]int32)}
}

// key is a's count's key, never 0: an IPv4 address (IPv4-mapped ones
// too, from a dual-stack listener) whole, an IPv6 one by its /64.
func (p *ipCounts) key(a netip.Addr) uint32 {
	a = a.Unmap()
	var k uint32
	if a.Is4() {
		b := a.As4()
		k = uint32(maphash.Bytes(p.seed, b[:]))
	} else {
		b := a.As16()
		k = uint32(maphash.Bytes(p.seed, b[:8]))
	}
	return max(k, 1)
}

// admit counts s's peer and reports whether it is within limit, with the key
// to release when the connection goes. A peer without an address any more
// (reset already: getpeername fails) is let through uncounted (key 0); its
// connection fails at its first read.
func (p *ipCounts) admit(s *evsel.Socket, limit int) (uint32, bool) {
	ap, err := s.RemoteAddrPort()
	if err != nil || !ap.IsValid() {
		return 0, true
	}
	k := p.key(ap.Addr())
	p.mu.Lock()
	defer p.mu.Unlock()
	if int(p.n[k]) >= limit {
		return 0, false
	}
	p.n[k]++
	return k, true
}

// releaseIP uncounts c's peer, once.
func (e *Engine) releaseIP(c *Conn) {
	k := c.ipKey
	if k == 0 {
		return
	}
	c.ipKey = 0
	p := e.perIP
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n[k]--; p.n[k] <= 0 {
		delete(p.n, k)
	}
}
