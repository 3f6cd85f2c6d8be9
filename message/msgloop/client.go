package msgloop

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"slices"
	"time"

	"github.com/evsel/evsel/loop"
	"github.com/evsel/evsel/message"
)

// ClientOptions configure a Client. The zero value is usable.
type ClientOptions struct {
	// Loop configures the client's engine.
	Loop loop.Options
	// MaxContentLength bounds a response's content-length; default
	// message.DefaultMaxContentLength.
	MaxContentLength int
	// MaxJSONContentLength bounds a text/json response's content-length;
	// default message.DefaultMaxJSONContentLength.
	MaxJSONContentLength int
	// DialTimeout bounds a connect when the context has no deadline;
	// default 10 s.
	DialTimeout time.Duration
	// TLS, if set, makes every connection a TLS client with it (see
	// loop.WithTLS); Dial returns once the handshake is done.
	TLS *tls.Config
}

// Client sends requests and reads responses over connections owned by its
// own loop engine, so thousands of connections with many requests in flight
// cost no goroutine each. It works with servers that close after one
// response (the reference) and with servers that keep the connection open.
type Client struct {
	e       *loop.Engine
	opts    ClientOptions
	scratch [][]byte // per loop, for encoding requests without allocating
}

// NewClient starts a client's engine.
func NewClient(opts ClientOptions) (*Client, error) {
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 10 * time.Second
	}
	cl := &Client{opts: opts}
	e, err := loop.New(clientHandler{}, opts.Loop)
	if err != nil {
		return nil, err
	}
	cl.e = e
	cl.scratch = make([][]byte, len(e.Loops()))
	return cl, nil
}

// Engine returns the client's engine, for stats.
func (cl *Client) Engine() *loop.Engine { return cl.e }

// Close closes every connection and stops the engine.
func (cl *Client) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return cl.e.Stop(ctx)
}

// ClientConn is one connection of a Client. Its methods are safe from any
// goroutine; Do, which waits, refuses to on the client's loops.
type ClientConn struct {
	cl     *Client
	opened chan error
	// Owned by the loop once opened:
	c       *loop.Conn
	m       message.ClientConn
	waiting []func(message.Message, error) // one per request sent, oldest first
	err     error                          // why the connection closed, once it has
}

// Dial connects to address, waiting until the connection is up, ctx ends
// or the dial timeout passes. Called on one of the client's loops (in a
// Send's done function, say), where the connection it waits for would
// open, it returns loop.ErrOnLoop within a millisecond.
func (cl *Client) Dial(ctx context.Context, network, address string) (*ClientConn, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cl.opts.DialTimeout)
		defer cancel() // harmless once connected: the engine stops watching ctx
	}
	cc := &ClientConn{cl: cl, opened: make(chan error, 1), m: message.ClientConn{
		MaxContentLength: cl.opts.MaxContentLength, MaxJSONContentLength: cl.opts.MaxJSONContentLength}}
	opts := []loop.DialOption{loop.WithData(cc)}
	if cl.opts.TLS != nil {
		opts = append(opts, loop.WithTLS(cl.opts.TLS))
	}
	c, err := cl.e.Dial(ctx, network, address, opts...)
	if err != nil {
		return nil, err
	}
	openErr, err := awaitOffLoop(cl.e, ctx, cc.opened)
	if err != nil { // ctx ended, or the caller is on a loop
		c.AsyncClose(err)
		return nil, err
	}
	if openErr != nil {
		return nil, openErr
	}
	return cc, nil
}

// onLoopCheckAfter is how long a wait of the client's lasts before it asks
// whether it runs on one of the client's loops, which it would be waiting
// for: the answer costs microseconds (loop.Engine.OnLoopGoroutine), a
// loopback connect or answer usually comes sooner, and a caller on a loop
// then holds it up for this long at most.
const onLoopCheckAfter = time.Millisecond

// awaitOffLoop receives from ch, unless ctx ends first (its error) or the
// caller turns out to be on one of e's loops (loop.ErrOnLoop).
func awaitOffLoop[T any](e *loop.Engine, ctx context.Context, ch <-chan T) (T, error) {
	var zero T
	select {
	case v := <-ch:
		return v, nil
	case <-ctx.Done():
		return zero, ctx.Err()
	default:
	}
	check := time.NewTimer(onLoopCheckAfter)
	defer check.Stop()
	for {
		select {
		case v := <-ch:
			return v, nil
		case <-ctx.Done():
			return zero, ctx.Err()
		case <-check.C:
			if e.OnLoopGoroutine() {
				return zero, loop.ErrOnLoop
			}
		}
	}
}

// Send writes req and arranges for done to be called with its response, on
// the connection's loop (or at once, on the caller's goroutine, if the
// connection is known to be closed). Responses come back in request order,
// so many requests may be in flight (up to the server's limit; evsel's
// Server allows 1024 by default). req is copied before Send returns; the
// response's content is the callee's to keep. A request that cannot be
// encoded (see message.Message.AppendFrame) fails through done too.
func (cc *ClientConn) Send(req message.Message, done func(resp message.Message, err error)) {
	// The loop encodes the request, since the connection's machine lives
	// there; copy what it reads, as the caller may reuse req's memory once
	// Send returns.
	req.Content = bytes.Clone(req.Content)
	req.Header.Extra = slices.Clone(req.Header.Extra)
	l := cc.c.Loop()
	// Loop.Do rather than Conn.Do: the task must run even if the connection
	// closes meanwhile, so that done is always called.
	err := l.Do(func() {
		if cc.err != nil {
			done(message.Message{}, cc.err)
			return
		}
		id := l.ID()
		frame, err := cc.m.Send(cc.cl.scratch[id][:0], req)
		if err != nil {
			done(message.Message{}, err)
			return
		}
		cc.cl.scratch[id] = frame
		cc.waiting = append(cc.waiting, done)
		cc.c.Write(frame)
	})
	if err != nil {
		done(message.Message{}, err)
	}
}

type result struct {
	m   message.Message
	err error
}

// Do sends req and waits for its response or for ctx to end. Abandoning a
// request on ctx leaves the connection usable: its response, when it comes,
// is dropped. Called on one of the client's loops, where the response
// would arrive, it returns loop.ErrOnLoop within a millisecond: use Send
// there.
func (cc *ClientConn) Do(ctx context.Context, req message.Message) (message.Message, error) {
	ch := make(chan result, 1)
	cc.Send(req, func(m message.Message, err error) { ch <- result{m, err} })
	r, err := awaitOffLoop(cc.cl.e, ctx, ch)
	if err != nil {
		return message.Message{}, err
	}
	return r.m, r.err
}

// Close closes the connection after the requests already written are sent;
// requests still waiting for a response fail. Closing a connection the
// server already closed is not an error.
func (cc *ClientConn) Close() error {
	if err := cc.c.AsyncClose(nil); err != nil && !errors.Is(err, loop.ErrClosed) && !errors.Is(err, loop.ErrStopped) {
		return err
	}
	return nil
}

// Request is the reference client's whole life in one call: connect, send
// req, read one response, close. Like Dial, it returns loop.ErrOnLoop on
// one of the client's loops.
func (cl *Client) Request(ctx context.Context, network, address string, req message.Message) (message.Message, error) {
	cc, err := cl.Dial(ctx, network, address)
	if err != nil {
		return message.Message{}, err
	}
	defer cc.Close()
	return cc.Do(ctx, req)
}

// clientHandler feeds the client connections' machines on the loops.
type clientHandler struct{}

func (clientHandler) OnOpen(c *loop.Conn) {
	cc := c.Data().(*ClientConn)
	cc.c = c
	cc.opened <- nil
}

func (clientHandler) OnData(c *loop.Conn) {
	cc := c.Data().(*ClientConn)
	for {
		m, n, err := cc.m.Next(c.Inbound())
		if err != nil {
			c.CloseWithError(err)
			return
		}
		if n == 0 {
			return
		}
		done := cc.waiting[0]
		cc.waiting[0] = nil
		cc.waiting = cc.waiting[1:]
		m.Content = bytes.Clone(m.Content) // it leaves the loop
		c.Consume(n)
		done(m, nil)
	}
}

func (clientHandler) OnClose(c *loop.Conn, err error) {
	cc := c.Data().(*ClientConn)
	if cc.c == nil { // the dial failed
		cc.c = c
		if err == nil {
			err = loop.ErrClosed
		}
		cc.err = err
		cc.opened <- err
		return
	}
	switch {
	case err == nil:
		err = loop.ErrClosed
	case errors.Is(err, io.EOF):
		err = io.ErrUnexpectedEOF // the server closed with requests unanswered
	}
	cc.err = err
	for _, done := range cc.waiting {
		done(message.Message{}, err)
	}
	cc.waiting = nil
}
