package msgloop

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/evsel/evsel/loop"
	"github.com/evsel/evsel/message"
)

// HandlerFunc answers one request. An error closes the connection (after
// the answers already written) and is logged as the reason.
type HandlerFunc func(req message.Message) (message.Message, error)

// ServerHooks let a program watch the exchange, e.g. to print the lines the
// Python reference prints. Each runs on the connection's loop; all are
// optional.
type ServerHooks struct {
	Open     func(c *loop.Conn)
	Request  func(c *loop.Conn, req message.Message)
	Response func(c *loop.Conn, frame []byte)
	Close    func(c *loop.Conn, err error)
}

// ServerOptions configure a Server. The zero value is the reference's
// behaviour with evsel's safety limits.
type ServerOptions struct {
	// Loop configures the engine (loops, backpressure, deadlines, ...).
	// Set Loop.LingerTimeout: a connection closed for a fault (too many
	// requests in flight, say) whose peer never reads is otherwise held,
	// descriptor and pending output, for as long as the peer stays.
	Loop loop.Options
	// ServerConfig holds the protocol's limits, the same for every
	// connection: keep-alive, content size, incomplete-request timeout,
	// requests in flight.
	message.ServerConfig
	// Logger receives a Warn line per connection closed for a fault or
	// for one of the engine's limits (a deadline, shedding, the memory
	// budget, an input or output bound), and a Debug line per connection
	// closed by a socket error (a reset). It is called on the loops, so it
	// must not block: a handler writing to a pipe no one reads would stall
	// every connection of the loop. The default, slog.Default's handler
	// behind a loop.QueuedHandler, never does (nor do the apps' loggers,
	// built on internal/linelog, which drops lines rather than wait).
	Logger *slog.Logger
	Hooks  ServerHooks
}

// Server serves the message protocol on the loop engine: each connection
// runs a message.ServerConn, fed from the connection's read buffer, its
// responses written to the connection, its deadline kept by a loop timer.
type Server struct {
	h       HandlerFunc
	opts    ServerOptions
	log     *slog.Logger
	e       *loop.Engine
	scratch [][]byte // per loop, for encoding responses without allocating
}

// serverConn is the per-connection state: the protocol machine and the
// timer that wakes it at its deadline.
type serverConn struct {
	m       message.ServerConn
	timer   *loop.Timer // armed for m's deadline while one runs
	armed   time.Time   // the deadline timer is armed for
	faulted bool        // closed for a fault: only the engine's linger deadline is left
}

// NewServer starts a server's engine; call Listen to serve.
func NewServer(h HandlerFunc, opts ServerOptions) (*Server, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(loop.NewQueuedHandler(slog.Default().Handler()))
	}
	if opts.Loop.Logger == nil {
		opts.Loop.Logger = opts.Logger
	}
	s := &Server{h: h, opts: opts, log: opts.Logger}
	e, err := loop.New(serverHandler{s}, opts.Loop)
	if err != nil {
		return nil, err
	}
	s.e = e
	s.scratch = make([][]byte, len(e.Loops()))
	return s, nil
}

// Listen serves on address; see loop.Engine.Listen.
func (s *Server) Listen(network, address string) (net.Addr, error) {
	return s.e.Listen(network, address)
}

// ListenTLS serves TLS on address; see loop.Engine.ListenTLS. Hooks.Open
// runs once the handshake has succeeded.
func (s *Server) ListenTLS(network, address string, cfg *tls.Config) (net.Addr, error) {
	return s.e.ListenTLS(network, address, cfg)
}

// Stop shuts the server down; see loop.Engine.Stop. Like the engine's
// Logger, the server's, if it is a loop.QueuedHandler's (the default is),
// has its records handled (for at most a second) before Stop returns.
func (s *Server) Stop(ctx context.Context) error {
	err := s.e.Stop(ctx)
	if q, ok := s.log.Handler().(*loop.QueuedHandler); ok {
		// The engine flushed its own Logger; this one is another when
		// Loop.Logger was given apart, and its lines (those of the
		// connections Stop closed among them) would otherwise be lost to
		// a program that exits next.
		fctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = q.Flush(fctx)
	}
	return err
}

// Engine returns the server's engine, for stats.
func (s *Server) Engine() *loop.Engine { return s.e }

// serverHandler is the loop.Handler of a Server, kept apart so that the
// callbacks are not part of Server's API.
type serverHandler struct{ s *Server }

func (h serverHandler) OnOpen(c *loop.Conn) {
	c.SetData(&serverConn{m: message.ServerConn{Config: h.s.opts.ServerConfig}})
	if h.s.opts.Hooks.Open != nil {
		h.s.opts.Hooks.Open(c)
	}
}

func (h serverHandler) OnData(c *loop.Conn) { h.s.serve(c, c.Data().(*serverConn)) }

func (h serverHandler) OnClose(c *loop.Conn, err error) {
	s := h.s
	sc, _ := c.Data().(*serverConn)
	if sc != nil && sc.timer != nil {
		sc.timer.Stop()
	}
	switch {
	case sc == nil:
	case errors.Is(err, io.EOF) || errors.Is(err, loop.ErrTLSNoCloseNotify):
		// The peer's close; without close_notify (as most TLS clients
		// close) it is as clean as the protocol's framing says it is.
		if perr := sc.m.PeerClosed(c.Inbound()); perr != nil {
			err = perr
			s.log.Warn("message: closing connection", "remote", addrString(c.RemoteAddr()), "err", err)
		}
	case err == nil || sc.faulted || errors.Is(err, loop.ErrStopped):
		// Asked for, logged with its fault, or the engine's stop.
	case loop.IsLimit(err):
		// One line each, as for the protocol's faults, so an operator
		// sees why the server dropped a client.
		s.log.Warn("message: connection closed", "remote", addrString(c.RemoteAddr()), "err", err)
	default:
		// A reset or another socket error: the peer's doing, and common
		// enough on a public network to be noise above Debug.
		s.log.Debug("message: connection closed", "remote", addrString(c.RemoteAddr()), "err", err)
	}
	if s.opts.Hooks.Close != nil {
		s.opts.Hooks.Close(c, err)
	}
}

// serve runs the machine over what the connection has received: it answers
// every complete request in order, then sets the timer for the machine's
// deadline. New bytes and the timer both come here; the machine decides.
func (s *Server) serve(c *loop.Conn, sc *serverConn) {
	if sc.faulted {
		return
	}
	if c.Buffered() == 0 {
		sc.m.Flushed() // the peer has taken every answer so far
	}
	sc.m.ReadPaused(c.ReadPaused())
	now := time.Now()
	for {
		req, n, err := sc.m.Next(c.Inbound(), now)
		if err != nil {
			s.fault(c, sc, err)
			return
		}
		if n == 0 {
			break
		}
		if s.opts.Hooks.Request != nil {
			s.opts.Hooks.Request(c, req)
		}
		resp, err := s.h(req)
		c.Consume(n) // after the handler: req.Content points into Inbound
		if err != nil {
			s.fault(c, sc, err)
			return
		}
		id := c.Loop().ID()
		frame, err := sc.m.Respond(s.scratch[id][:0], resp)
		if err != nil {
			s.fault(c, sc, err)
			return
		}
		s.scratch[id] = frame
		if s.opts.Hooks.Response != nil {
			s.opts.Hooks.Response(c, frame)
		}
		c.Write(frame)
		if sc.m.Done() {
			c.Close()
			break
		}
	}
	s.setTimer(c, sc, now)
}

// setTimer keeps the connection's timer on the machine's deadline, touching
// it only when the deadline moves.
func (s *Server) setTimer(c *loop.Conn, sc *serverConn, now time.Time) {
	dl, ok := sc.m.Deadline()
	switch {
	case !ok:
		if sc.timer != nil {
			sc.timer.Stop()
		}
	case sc.timer == nil:
		sc.timer = c.Loop().AfterFunc(dl.Sub(now), func() { s.serve(c, sc) })
	case !dl.Equal(sc.armed) || !sc.timer.Active():
		sc.timer.Reset(dl.Sub(now))
	default:
		return
	}
	sc.armed = dl
}

// fault closes a connection for a protocol violation or a limit, logging why.
// The message timer stops for good: the close may wait on output a peer
// never reads, and a timer re-armed meanwhile would keep serving a dead
// connection; bounding that wait is loop.Options.LingerTimeout's job.
func (s *Server) fault(c *loop.Conn, sc *serverConn, err error) {
	s.log.Warn("message: closing connection", "remote", addrString(c.RemoteAddr()), "err", err)
	sc.faulted = true
	if sc.timer != nil {
		sc.timer.Stop()
	}
	c.CloseWithError(err)
}

func addrString(a net.Addr) string {
	if a == nil {
		return "?"
	}
	return a.String()
}
