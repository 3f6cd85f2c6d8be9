package multiconn

import (
	"errors"
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
		addr := addrOf(c)
		c.SetData(addr)
		s.Out.Line("Accepted connection from " + addr)
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
	if a, ok := c.Data().(string); ok {
		return a
	}
	return addrOf(c)
}
