package message

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/evsel/evsel/loop"
)

// Errors a Server closes a connection with, beside *ProtocolError.
var (
	// ErrMessageTimeout: a message started arriving and did not complete in
	// ServerOptions.MessageTimeout (a slowloris peer, or one that died).
	ErrMessageTimeout = fmt.Errorf("message: incomplete message timed out: %w", os.ErrDeadlineExceeded)
	// ErrTooManyInFlight: the peer pipelined more requests than
	// ServerOptions.MaxInFlight without reading the answers.
	ErrTooManyInFlight = errors.New("message: too many requests in flight")
	// ErrTruncated: the peer closed the connection in the middle of a message.
	ErrTruncated = errors.New("message: connection closed in the middle of a message")
)

// HandlerFunc answers one request. An error closes the connection (after
// the answers already written) and is logged as the reason.
type HandlerFunc func(req Message) (Message, error)

// ServerHooks let a program watch the exchange, e.g. to print the lines the
// Python reference prints. Each runs on the connection's loop; all are
// optional.
type ServerHooks struct {
	Open     func(c *loop.Conn)
	Request  func(c *loop.Conn, req Message)
	Response func(c *loop.Conn, frame []byte)
	Close    func(c *loop.Conn, err error)
}

// ServerOptions configure a Server. The zero value is the reference's
// behaviour with evsel's safety limits.
type ServerOptions struct {
	// Loop configures the engine (loops, backpressure, ...).
	Loop loop.Options
	// KeepAlive keeps a connection open after a response for further
	// requests; the reference closes after one response (the default).
	KeepAlive bool
	// MaxContentLength bounds a request's content-length; default
	// DefaultMaxContentLength (16 MiB).
	MaxContentLength int
	// MessageTimeout bounds how long a started message may take to arrive
	// in full; default 10 s. Negative disables it.
	MessageTimeout time.Duration
	// MaxInFlight bounds how far a client may pipeline ahead of reading:
	// the requests answered since the connection's output was last fully
	// handed to the kernel. Requests that arrive in one read are answered
	// together, so they count together; default 1024.
	MaxInFlight int
	// Logger receives one line per connection closed for a fault; default
	// slog.Default().
	Logger *slog.Logger
	Hooks  ServerHooks
}

// Server serves the message protocol on the loop engine: per connection, a
// state machine that decodes requests as their bytes arrive, answers each in
// order with the handler, and either closes (reference mode) or waits for
// the next request.
type Server struct {
	h       HandlerFunc
	opts    ServerOptions
	log     *slog.Logger
	e       *loop.Engine
	scratch [][]byte // per loop, for encoding responses without allocating
}

// serverConn is the per-connection state.
type serverConn struct {
	dec      Decoder
	timer    *loop.Timer // running while a message is incomplete
	inFlight int         // responses written since the output was last empty
	done     bool        // reference mode: answered, closing
}

// NewServer starts a server's engine; call Listen to serve.
func NewServer(h HandlerFunc, opts ServerOptions) (*Server, error) {
	if opts.MessageTimeout == 0 {
		opts.MessageTimeout = 10 * time.Second
	}
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = 1024
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Loop.Logger == nil {
		opts.Loop.Logger = opts.Logger
	}
	s := &Server{h: h, opts: opts, log: opts.Logger}
	e, err := loop.New(s, opts.Loop)
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

// Stop shuts the server down; see loop.Engine.Stop.
func (s *Server) Stop(ctx context.Context) error { return s.e.Stop(ctx) }

// Engine returns the server's engine, for stats.
func (s *Server) Engine() *loop.Engine { return s.e }

// OnOpen implements loop.Handler.
func (s *Server) OnOpen(c *loop.Conn) {
	c.SetData(&serverConn{dec: Decoder{MaxContentLength: s.opts.MaxContentLength}})
	if s.opts.Hooks.Open != nil {
		s.opts.Hooks.Open(c)
	}
}

// OnData implements loop.Handler: answer every complete request in order.
func (s *Server) OnData(c *loop.Conn) {
	sc := c.Data().(*serverConn)
	if c.Buffered() == 0 {
		sc.inFlight = 0 // the peer has taken every answer so far
	}
	progressed := false
	for !sc.done {
		req, n, err := sc.dec.Decode(c.Inbound())
		if err != nil {
			s.fault(c, err)
			return
		}
		if n == 0 {
			break
		}
		progressed = true
		if s.opts.Hooks.Request != nil {
			s.opts.Hooks.Request(c, req)
		}
		resp, err := s.h(req)
		c.Consume(n) // after the handler: req.Content points into Inbound
		if err != nil {
			s.fault(c, err)
			return
		}
		if sc.inFlight++; sc.inFlight > s.opts.MaxInFlight {
			s.fault(c, ErrTooManyInFlight)
			return
		}
		id := c.Loop().ID()
		frame, err := resp.AppendFrame(s.scratch[id][:0])
		if err != nil {
			s.fault(c, err)
			return
		}
		s.scratch[id] = frame
		if s.opts.Hooks.Response != nil {
			s.opts.Hooks.Response(c, frame)
		}
		c.Write(frame)
		if !s.opts.KeepAlive {
			sc.done = true
			c.Close()
		}
	}
	s.watchIncomplete(c, sc, progressed)
}

// watchIncomplete runs the message timer while part of a message waits: it
// starts with the message's first bytes and restarts with each new message.
func (s *Server) watchIncomplete(c *loop.Conn, sc *serverConn, progressed bool) {
	if s.opts.MessageTimeout < 0 || sc.done {
		return
	}
	switch {
	case len(c.Inbound()) == 0:
		if sc.timer != nil {
			sc.timer.Stop()
		}
	case sc.timer == nil:
		sc.timer = c.Loop().AfterFunc(s.opts.MessageTimeout, func() {
			if c.Buffered() > 0 {
				// We still owe the peer output, and may have stopped reading
				// it for backpressure: the stall is ours, not the peer's.
				sc.timer.Reset(s.opts.MessageTimeout)
				return
			}
			s.fault(c, ErrMessageTimeout)
		})
	case progressed || !sc.timer.Active():
		sc.timer.Reset(s.opts.MessageTimeout)
	}
}

// fault closes a connection for a protocol violation or a limit, logging why.
func (s *Server) fault(c *loop.Conn, err error) {
	s.log.Warn("message: closing connection", "remote", addrString(c.RemoteAddr()), "err", err)
	c.CloseWithError(err)
}

// OnClose implements loop.Handler.
func (s *Server) OnClose(c *loop.Conn, err error) {
	sc, _ := c.Data().(*serverConn)
	if sc != nil && sc.timer != nil {
		sc.timer.Stop()
	}
	if errors.Is(err, io.EOF) && len(c.Inbound()) > 0 && sc != nil && !sc.done {
		err = fmt.Errorf("%w (%d bytes of it received)", ErrTruncated, len(c.Inbound()))
		s.log.Warn("message: closing connection", "remote", addrString(c.RemoteAddr()), "err", err)
	}
	if s.opts.Hooks.Close != nil {
		s.opts.Hooks.Close(c, err)
	}
}

func addrString(a net.Addr) string {
	if a == nil {
		return "?"
	}
	return a.String()
}
