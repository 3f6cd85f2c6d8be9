package msgloop

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"sync"
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
	// ResponseTimeout bounds how long a connection waits for the server
	// in silence: while requests wait for their responses, the server
	// must send something within ResponseTimeout of the later of the
	// oldest waiting request's send and the last bytes it sent (so a
	// large response arriving slowly is not cut, and a long pipeline
	// answered steadily is not either). Otherwise the connection is
	// aborted, requests not yet sent are dropped, and every waiting
	// request fails with ErrResponseTimeout (responses come in request
	// order, so one that is late holds up all behind it). The clock runs
	// while a request is being sent too: a request that a slow server
	// takes longer than that to read fails. The loop's clock is read once
	// an iteration, so it may fire up to an iteration early. A connection
	// with nothing waiting is not bounded by it. Default 30 s; negative
	// for none, in which case a server that stops answering holds every
	// request sent with Send for as long as it keeps the connection (Do's
	// ctx bounds only Do's own wait).
	ResponseTimeout time.Duration
}

// ErrResponseTimeout fails the requests of a connection whose server did not
// answer within ClientOptions.ResponseTimeout; it is the reason even if the
// connection was closing already (Close waits for the requests written to be
// sent). It matches os.ErrDeadlineExceeded with errors.Is and its Timeout
// method reports true, for os.IsTimeout and net.Error, as net's timeouts do.
var ErrResponseTimeout = loop.NewTimeoutError("msgloop: no response within the response timeout")

// defaultResponseTimeout is ClientOptions.ResponseTimeout's default:
// generous for a request-response protocol whose server answers at once,
// short enough that a hung server does not hold a client's requests for
// ever.
const defaultResponseTimeout = 30 * time.Second

// Client sends requests and reads responses over connections owned by its
// own loop engine, so thousands of connections with many requests in flight
// cost no goroutine each. It works with servers that close after one
// response (the reference) and with servers that keep the connection open.
type Client struct {
	e    *loop.Engine
	opts ClientOptions
}

// NewClient starts a client's engine.
func NewClient(opts ClientOptions) (*Client, error) {
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 10 * time.Second
	}
	if opts.ResponseTimeout == 0 {
		opts.ResponseTimeout = defaultResponseTimeout
	}
	cl := &Client{opts: opts}
	e, err := loop.New(clientHandler{}, opts.Loop)
	if err != nil {
		return nil, err
	}
	cl.e = e
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
// goroutine; Do, which waits, refuses to on the connection's own loop.
type ClientConn struct {
	cl     *Client
	opened chan error
	// Owned by the loop once opened:
	c       *loop.Conn
	m       message.ClientConn
	waiting []func(message.Message, error) // one per request sent, oldest first, from head
	head    int                            // the first of waiting still waiting
	err     error                          // why the connection closed, once it has
	timer   *loop.Timer                    // the response timeout, armed while requests wait
}

// Dial connects to address, waiting until the connection is up, ctx ends
// or the dial timeout passes. Called on one of the client's loops (in a
// Send's done function, say), where the connection it waits for may have
// to open, it returns loop.ErrOnLoop at once.
func (cl *Client) Dial(ctx context.Context, network, address string) (*ClientConn, error) {
	// Asked first, at some microseconds (loop.Engine.OnLoopGoroutine) where
	// a connect costs tens: the answer must not depend on which loop the
	// connection lands on, or on how fast it opens.
	if cl.e.OnLoopGoroutine() {
		return nil, loop.ErrOnLoop
	}
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
	select {
	case err := <-cc.opened:
		if err != nil {
			return nil, err
		}
		return cc, nil
	case <-ctx.Done():
		c.AsyncClose(ctx.Err())
		return nil, ctx.Err()
	}
}

// Send writes req and arranges for done to be called with its response, on
// the connection's loop (or at once, on the caller's goroutine, if the
// connection is known to be closed or req cannot be encoded: see
// message.Message.AppendFrame). Responses come back in request order, so
// many requests may be in flight (up to the server's limit; evsel's Server
// allows 1024 by default). req is encoded before Send returns, so its
// memory is the caller's again; the response's content is the callee's to
// keep.
func (cc *ClientConn) Send(req message.Message, done func(resp message.Message, err error)) {
	// Encoded here, not on the loop: the frame needs no machine, the
	// caller's goroutine does the work, and req need not be copied for
	// the loop to read later.
	op := newSendOp()
	frame, err := req.AppendFrame(op.frame[:0])
	if err != nil {
		op.free()
		done(message.Message{}, err)
		return
	}
	op.cc, op.frame, op.done = cc, frame, done
	// Loop.Do rather than Conn.Do: the task must run even if the connection
	// closes meanwhile, so that done is always called.
	if err := cc.c.Loop().Do(op.run); err != nil {
		op.free()
		done(message.Message{}, err)
	}
}

// sendOp is a request on its way to the loop: its frame and its done.
// Pooled, with its task bound once, so that a request allocates neither
// a closure nor a frame.
type sendOp struct {
	cc    *ClientConn
	frame []byte
	done  func(message.Message, error)
	run   func() // write
}

var sendOps sync.Pool

func newSendOp() *sendOp {
	if op, ok := sendOps.Get().(*sendOp); ok {
		return op
	}
	op := new(sendOp)
	op.run = op.write
	return op
}

// maxPooledFrame bounds the frames the pool keeps: a large request's
// buffer goes with it.
const maxPooledFrame = 64 << 10

// write runs on the connection's loop.
func (op *sendOp) write() {
	cc, done := op.cc, op.done
	err := cc.err
	if err == nil {
		err = cc.m.Expect()
	}
	if err == nil {
		cc.wait(done)
		if len(cc.waiting)-cc.head == 1 {
			cc.awaitResponse() // the first to wait: the clock starts
		}
		cc.c.Write(op.frame) // copies
	}
	op.free()
	if err != nil {
		done(message.Message{}, err)
	}
}

// wait queues done behind the requests in flight. The answered ones
// before head are dropped when the array is full and they are at least
// half of it: a connection that always has a request in flight never
// empties the queue (OnData), and appending past them alone kept every
// request it ever sent, the array growing for ever. Moving at most half
// the array to free at least half keeps this amortised O(1), and the
// array within four times the most in flight.
func (cc *ClientConn) wait(done func(message.Message, error)) {
	if cc.head > 0 && len(cc.waiting) == cap(cc.waiting) && 2*cc.head >= len(cc.waiting) {
		n := copy(cc.waiting, cc.waiting[cc.head:])
		clear(cc.waiting[n:])
		cc.waiting, cc.head = cc.waiting[:n], 0
	}
	cc.waiting = append(cc.waiting, done)
}

// awaitResponse (re)starts the response timeout, on the loop, while
// requests wait. A loop timer rather than the connection's read
// deadline: that one closes gracefully, sending the requests still
// queued first, which a server that neither reads nor answers would hold
// for ever; a late server's connection has nothing left worth sending.
func (cc *ClientConn) awaitResponse() {
	t := cc.cl.opts.ResponseTimeout
	switch {
	case t <= 0:
	case cc.timer == nil:
		cc.timer = cc.c.Loop().AfterFunc(t, cc.timedOut)
	default:
		cc.timer.Reset(t)
	}
}

// timedOut fails the connection whose server did not answer in time.
func (cc *ClientConn) timedOut() {
	if cc.head < len(cc.waiting) {
		cc.c.Abort(ErrResponseTimeout)
	}
}

func (op *sendOp) free() {
	op.cc, op.done = nil, nil
	if cap(op.frame) > maxPooledFrame {
		op.frame = nil
	}
	sendOps.Put(op)
}

type result struct {
	m   message.Message
	err error
}

// doCall is one Do's wait: the channel its response comes on, the done
// that sends it, and the timer of the on-loop check. Pooled, once its
// response has been taken; one whose Do gave up on ctx is left to the
// collector, as its response may still come.
type doCall struct {
	l     *loop.Loop
	ch    chan result
	done  func(message.Message, error) // answer
	check *time.Timer
}

var doCalls = sync.Pool{New: func() any {
	dc := &doCall{ch: make(chan result, 1)}
	dc.done = dc.answer
	return dc
}}

func (dc *doCall) answer(m message.Message, err error) {
	// On the loop, for a response: let the waiting goroutine take it
	// before the loop waits again (loop.Loop.Woke). Before the send: once
	// it has the result, Do may hand dc to another call.
	dc.l.Woke()
	dc.ch <- result{m, err}
}

// Do sends req and waits for its response or for ctx to end. Abandoning a
// request on ctx leaves the connection usable: its response, when it comes,
// is dropped. Called on the connection's own loop, where the response
// would have to arrive, it returns loop.ErrOnLoop after a millisecond; the
// request is sent all the same, and its response dropped. On another of
// the client's loops it waits, holding that loop up, and so it does on a
// loop of another engine (a Server's handler asking its own server would
// wait for ever, with a ctx without deadline): use Send there.
func (cc *ClientConn) Do(ctx context.Context, req message.Message) (message.Message, error) {
	dc := doCalls.Get().(*doCall)
	dc.l = cc.c.Loop()
	cc.Send(req, dc.done)
	select {
	case r := <-dc.ch:
		doCalls.Put(dc)
		return r.m, r.err
	case <-ctx.Done():
		return message.Message{}, ctx.Err()
	default:
	}
	// Whether the caller is on the loop costs some microseconds
	// (loop.Loop.OnLoopGoroutine): asked only of a wait that lasts, as
	// an answer on loopback usually comes sooner. On that loop none can
	// come, so the answer does not depend on the timing.
	if dc.check == nil {
		dc.check = time.NewTimer(onLoopCheckAfter)
	} else {
		dc.check.Reset(onLoopCheckAfter) // no stale tick since Go 1.23
	}
	for {
		select {
		case r := <-dc.ch:
			dc.check.Stop()
			doCalls.Put(dc)
			return r.m, r.err
		case <-ctx.Done():
			dc.check.Stop()
			return message.Message{}, ctx.Err()
		case <-dc.check.C:
			if dc.l.OnLoopGoroutine() {
				return message.Message{}, loop.ErrOnLoop
			}
		}
	}
}

// onLoopCheckAfter is how long Do waits before it asks whether it runs on
// the connection's loop.
const onLoopCheckAfter = time.Millisecond

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
// req, read one response, close. Like Dial, it returns loop.ErrOnLoop at
// once on one of the client's loops.
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
			cc.heard()
			return
		}
		// Taken from the front by index, and the slice emptied when all
		// are answered, so that its array serves the next requests: a
		// slice moved past its first element reallocated at every append
		// once in flight meant one at a time.
		done := cc.waiting[cc.head]
		cc.waiting[cc.head] = nil
		if cc.head++; cc.head == len(cc.waiting) {
			cc.waiting, cc.head = cc.waiting[:0], 0
		}
		m.Content = bytes.Clone(m.Content) // it leaves the loop
		c.Consume(n)
		done(m, nil)
	}
}

// heard restarts the response timeout after the server sent something,
// whole responses or part of one, or stops it if none is awaited now.
// Once per OnData, not per response: a batch of pipelined responses
// moves the timer once.
func (cc *ClientConn) heard() {
	if cc.head == len(cc.waiting) {
		if cc.timer != nil {
			cc.timer.Stop()
		}
		return
	}
	cc.awaitResponse()
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
	if cc.timer != nil {
		cc.timer.Stop()
	}
	cc.err = err
	for _, done := range cc.waiting[cc.head:] {
		done(message.Message{}, err)
	}
	cc.waiting, cc.head = nil, 0
}
