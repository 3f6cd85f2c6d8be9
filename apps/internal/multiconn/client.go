package multiconn

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evsel/evsel/apps/internal/pyfmt"
	"github.com/evsel/evsel/loop"
)

// ClientConfig configures a Client. The zero value is the Python client:
// two messages per connection, "Message 1 from client." and "Message 2 from
// client.", printing nothing (set Out).
type ClientConfig struct {
	// Messages is the number of messages per connection; default 2.
	Messages int
	// Size is the bytes per message; 0 means the Python client's messages,
	// otherwise random payloads of that size.
	Size int
	// Seed makes random payloads reproducible; 0 picks one at random.
	Seed uint64
	// Window bounds the bytes a connection has sent and not yet received
	// back (at least one message is always allowed); default 64 KiB. It keeps
	// memory bounded and stops both ends from filling each other's buffers
	// while neither reads.
	Window int
	// DialTimeout bounds each connect; default 10s.
	DialTimeout time.Duration
	// TLS, if set, makes every connection a TLS client with it.
	TLS *tls.Config
	// Out receives the lines of multiconn-client.py (Starting, Sending,
	// Received, Closing); nil for quiet.
	Out *Printer
	// Err receives one line per connection that fails.
	Err *Printer
}

// Client is the handler of multiconn-client: create it, make an engine
// with it, then Start.
type Client struct {
	cfg   ClientConfig
	total int64 // bytes each connection sends

	conns     int64
	remaining atomic.Int64
	done      chan struct{}
	doneOnce  sync.Once
	start     time.Time
	end       atomic.Int64 // unix ns when the last connection ended

	opened, completed, messages, sent, verified, errs atomic.Int64

	errMu     sync.Mutex
	firstErrs []string
}

// maxFirstErrors bounds the error texts a Result keeps.
const maxFirstErrors = 5

// NewClient returns a Client with cfg's defaults filled in.
func NewClient(cfg ClientConfig) *Client {
	if cfg.Messages <= 0 {
		cfg.Messages = 2
	}
	if cfg.Window <= 0 {
		cfg.Window = 64 << 10
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 10 * time.Second
	}
	if cfg.Seed == 0 {
		cfg.Seed = rand.Uint64() | 1
	}
	cl := &Client{cfg: cfg, done: make(chan struct{})}
	for m := 1; m <= cfg.Messages; m++ {
		cl.total += int64(cl.msgLen(m))
	}
	return cl
}

// msgLen is the length of message m (1-based) of every connection.
func (cl *Client) msgLen(m int) int {
	if cl.cfg.Size > 0 {
		return cl.cfg.Size
	}
	return len("Message  from client.") + len(strconv.Itoa(m))
}

// Config returns the configuration in effect.
func (cl *Client) Config() ClientConfig { return cl.cfg }

// clientConn is one connection's state, owned by its loop.
type clientConn struct {
	id      int
	stop    context.CancelFunc // ends the dial's timeout
	next    int                // messages sent
	v       Verifier
	closing bool // "Closing connection" printed
	failed  bool // counted as an error
}

// Start prints "Starting connection N to (host, port)" and dials for each of
// n connections, on e's loops. Call it once; Done is closed when every
// connection has ended.
func (cl *Client) Start(e *loop.Engine, host string, port int, n int) {
	cl.conns = int64(n)
	cl.start = time.Now()
	cl.remaining.Store(int64(n))
	if n <= 0 {
		cl.finishAll()
		return
	}
	target := pyfmt.HostPort(host, port)
	address := net.JoinHostPort(host, strconv.Itoa(port))
	for i := 1; i <= n; i++ {
		cl.cfg.Out.Line("Starting connection " + strconv.Itoa(i) + " to " + target)
		ctx, stop := context.WithTimeout(context.Background(), cl.cfg.DialTimeout)
		st := &clientConn{id: i, stop: stop}
		opts := []loop.DialOption{loop.WithData(st)}
		if cl.cfg.TLS != nil {
			opts = append(opts, loop.WithTLS(cl.cfg.TLS))
		}
		if _, err := e.Dial(ctx, "tcp", address, opts...); err != nil {
			stop()
			cl.fail(st, err)
			cl.cfg.Out.Line("Closing connection " + strconv.Itoa(i))
			cl.connDone()
		}
	}
}

// Done is closed when no connection is left.
func (cl *Client) Done() <-chan struct{} { return cl.done }

func (cl *Client) connDone() {
	if cl.remaining.Add(-1) == 0 {
		cl.finishAll()
	}
}

func (cl *Client) finishAll() {
	cl.doneOnce.Do(func() {
		cl.end.Store(time.Now().UnixNano())
		close(cl.done)
	})
}

// fail counts st's connection as failed (once) and reports err.
func (cl *Client) fail(st *clientConn, err error) {
	if st.failed {
		return
	}
	st.failed = true
	cl.errs.Add(1)
	msg := "connection " + strconv.Itoa(st.id) + ": " + err.Error()
	if !errors.Is(err, loop.ErrStopped) {
		// Connections cut short by Stop (Ctrl-C) count, but quietly.
		cl.cfg.Err.Line("Error on " + msg)
	}
	cl.errMu.Lock()
	if len(cl.firstErrs) < maxFirstErrors {
		cl.firstErrs = append(cl.firstErrs, msg)
	}
	cl.errMu.Unlock()
}

// fill sends messages while the window allows.
func (cl *Client) fill(c *loop.Conn, st *clientConn) {
	for st.next < cl.cfg.Messages {
		if st.v.InFlight() > 0 && st.v.InFlight()+cl.msgLen(st.next+1) > cl.cfg.Window {
			return
		}
		st.next++
		p := Payload(cl.cfg.Seed, st.id, st.next, cl.cfg.Size)
		if cl.cfg.Out.On() {
			cl.cfg.Out.Line("Sending " + pyfmt.Bytes(p) + " to connection " + strconv.Itoa(st.id))
		}
		if _, err := c.Write(p); err != nil {
			cl.fail(st, err)
			return
		}
		st.v.Sent(p)
		cl.messages.Add(1)
		cl.sent.Add(int64(len(p)))
	}
}

func (cl *Client) closeConn(c *loop.Conn, st *clientConn) {
	if !st.closing {
		st.closing = true
		cl.cfg.Out.Line("Closing connection " + strconv.Itoa(st.id))
	}
	c.Close()
}

// OnOpen implements loop.Handler.
func (cl *Client) OnOpen(c *loop.Conn) {
	cl.opened.Add(1)
	st := c.Data().(*clientConn)
	st.stop()
	cl.fill(c, st)
}

// OnData implements loop.Handler.
func (cl *Client) OnData(c *loop.Conn) {
	st := c.Data().(*clientConn)
	in := c.Inbound()
	c.Consume(len(in))
	if st.closing {
		return
	}
	if cl.cfg.Out.On() {
		cl.cfg.Out.Line("Received " + pyfmt.Bytes(in) + " from connection " + strconv.Itoa(st.id))
	}
	before := st.v.Verified()
	err := st.v.Check(in)
	cl.verified.Add(st.v.Verified() - before)
	if err != nil {
		cl.fail(st, fmt.Errorf("echo mismatch: %w", err))
		cl.closeConn(c, st)
		return
	}
	if st.v.Verified() == cl.total {
		cl.completed.Add(1)
		cl.closeConn(c, st)
		return
	}
	cl.fill(c, st)
}

// OnClose implements loop.Handler.
func (cl *Client) OnClose(c *loop.Conn, err error) {
	st := c.Data().(*clientConn)
	st.stop()
	if !st.closing && !errors.Is(err, loop.ErrStopped) {
		// Python's client says nothing of the connections it drops on Ctrl-C.
		st.closing = true
		cl.cfg.Out.Line("Closing connection " + strconv.Itoa(st.id))
	}
	switch {
	case errors.Is(err, loop.ErrStopped):
		cl.fail(st, fmt.Errorf("stopped after %d of %d bytes came back: %w", st.v.Verified(), cl.total, err))
	case !expectedClose(err):
		cl.fail(st, err)
	case st.v.Verified() != cl.total:
		cl.fail(st, fmt.Errorf("closed after %d of %d bytes came back", st.v.Verified(), cl.total))
	}
	cl.connDone()
}

// Result is what a Client did.
type Result struct {
	Connections   int64 // asked for
	Opened        int64 // connected
	Completed     int64 // got every byte back
	Messages      int64 // sent
	BytesSent     int64
	BytesVerified int64 // echoed back and equal to what was sent
	Errors        int64 // connections that failed
	FirstErrors   []string
	Elapsed       time.Duration // from Start to the last connection's end (or now)
}

// Result returns the counters so far.
func (cl *Client) Result() Result {
	end := time.Now()
	if ns := cl.end.Load(); ns != 0 {
		end = time.Unix(0, ns)
	}
	cl.errMu.Lock()
	first := append([]string(nil), cl.firstErrs...)
	cl.errMu.Unlock()
	return Result{
		Connections: cl.conns, Opened: cl.opened.Load(), Completed: cl.completed.Load(),
		Messages: cl.messages.Load(), BytesSent: cl.sent.Load(), BytesVerified: cl.verified.Load(),
		Errors: cl.errs.Load(), FirstErrors: first, Elapsed: end.Sub(cl.start),
	}
}

// OK reports whether every connection completed with every byte verified.
func (r Result) OK() bool {
	return r.Errors == 0 && r.Completed == r.Connections && r.BytesVerified == r.BytesSent
}

// Throughput returns the verified bytes per second.
func (r Result) Throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.BytesVerified) / r.Elapsed.Seconds()
}

// Summary is the client's last line, e.g.
//
//	Summary: connections=10 completed=10 messages=20 bytes_sent=440 bytes_verified=440 elapsed=0.0021s throughput=0.21MB/s errors=0
func (r Result) Summary() string {
	return fmt.Sprintf("Summary: connections=%d completed=%d messages=%d bytes_sent=%d bytes_verified=%d elapsed=%.4fs throughput=%.2fMB/s errors=%d",
		r.Connections, r.Completed, r.Messages, r.BytesSent, r.BytesVerified,
		r.Elapsed.Seconds(), r.Throughput()/1e6, r.Errors)
}
