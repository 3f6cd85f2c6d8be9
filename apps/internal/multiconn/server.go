package multiconn

import (
	"errors"
	"net/netip"
	"strconv"
	"sync/atomic"

	"github.com/evsel/evsel/apps/internal/pyfmt"
	"github.com/evsel/evsel/loop"
)

// Server is the echo handler of multiconn-server: it sends back everything
// it reads and closes a connection when the peer does. With a printing Out
// it prints, like multiconn-server.py,
//
//	Accepted connection from ('127.0.0.1', 50000)
//	Echoing b'...' to ('127.0.0.1', 50000)
//	Closing connection to ('127.0.0.1', 50000)
//
// Connections closed by Engine.Stop are not announced, as Python's server
// just closes its selector on Ctrl-C.
type Server struct {
	// Out receives the per-connection lines; nil for quiet.
	Out *Printer
	// Err receives a line for each connection that ends in an error.
	Err *Printer

	accepted, closed, echoed, errs atomic.Int64
}

// ServerStats counts what a Server saw.
type ServerStats struct {
	Accepted, Closed, BytesEchoed, Errors int64
}

// Stats returns the server's counters.
func (s *Server) Stats() ServerStats {
	return ServerStats{
		Accepted: s.accepted.Load(), Closed: s.closed.Load(),
		BytesEchoed: s.echoed.Load(), Errors: s.errs.Load(),
	}
}

// OnOpen implements loop.Handler.
func (s *Server) OnOpen(c *loop.Conn) {
	s.accepted.Add(1)
	if s.Out.On() || s.Err.On() {
		// Remember the address: after a reset the kernel no longer knows it.
		p := rememberPeer(c)
		if s.Out.On() {
			// Built on the stack: 10,000 accepts in a burst otherwise
			// leave ~150 bytes of garbage each for the collector to
			// catch up with, which an idle server carries as RSS.
			var buf [80]byte
			b := append(buf[:0], "Accepted connection from "...)
			b = append(p.appendTo(b, c), '\n')
			s.Out.lineBytes(b)
		}
	}
}

// OnData implements loop.Handler.
func (s *Server) OnData(c *loop.Conn) {
	in := c.Inbound()
	if s.Out.On() {
		s.Out.Line("Echoing " + pyfmt.Bytes(in) + " to " + connAddr(c))
	}
	c.Write(in)
	s.echoed.Add(int64(len(in)))
	c.Consume(len(in))
}

// OnClose implements loop.Handler.
func (s *Server) OnClose(c *loop.Conn, err error) {
	s.closed.Add(1)
	switch {
	case errors.Is(err, loop.ErrStopped):
	case expectedClose(err):
		s.Out.Line("Closing connection to " + connAddr(c))
	default:
		s.errs.Add(1)
		s.Err.Line("Error on connection to " + connAddr(c) + ": " + err.Error())
		s.Out.Line("Closing connection to " + connAddr(c))
	}
}

func connAddr(c *loop.Conn) string {
	switch a := c.Data().(type) {
	case peer4:
		return a.String(c)
	case string:
		return a
	}
	return addrOf(c)
}

// peer4 is an IPv4 peer address and port packed into one word (address in
// the high bits, port in the low 16), which is what an idle connection
// keeps of its peer: boxed as a Conn's data it costs 8 bytes of heap,
// where the formatted address cost about 56 with its string header, and
// issue 13 holds an idle connection to 256 bytes in all. Any other peer
// (IPv6, a Unix socket, one the kernel no longer knows) keeps its
// formatted address, as before.
type peer4 uint64

// rememberPeer stores the peer's address in c's data and returns what it
// stored; the zero peer4 (never a real peer) means the formatted string.
func rememberPeer(c *loop.Conn) peer4 {
	ap := c.RemoteAddrPort()
	// An IPv4-mapped peer prints as IPv4, as addrOf prints it.
	if ip := ap.Addr().Unmap(); ip.Is4() {
		b := ip.As4()
		p := peer4(uint64(b[0])<<40 | uint64(b[1])<<32 | uint64(b[2])<<24 | uint64(b[3])<<16 | uint64(ap.Port()))
		if p != 0 {
			c.SetData(p)
			return p
		}
	}
	c.SetData(addrOf(c))
	return 0
}

// String is the Python repr of the address, ('127.0.0.1', 50000), as
// addrOf spells it; the zero peer4 stands for c's stored string.
func (p peer4) String(c *loop.Conn) string {
	if p == 0 {
		return connAddr(c)
	}
	var buf [len("('255.255.255.255', 65535)")]byte
	return string(p.appendTo(buf[:0], c))
}

// appendTo appends String(c) to b.
func (p peer4) appendTo(b []byte, c *loop.Conn) []byte {
	if p == 0 {
		return append(b, connAddr(c)...)
	}
	ip := netip.AddrFrom4([4]byte{byte(p >> 40), byte(p >> 32), byte(p >> 24), byte(p >> 16)})
	b = append(b, "('"...)
	b = ip.AppendTo(b)
	b = append(b, "', "...)
	b = strconv.AppendUint(b, uint64(p&0xffff), 10)
	return append(b, ')')
}
