package loop

import (
	"context"
	"log/slog"
	"net"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evsel/evsel"
	"github.com/evsel/evsel/selector"
)

// Handler is the application: its callbacks run on the loop that owns the
// connection, one at a time per loop.
type Handler interface {
	// OnOpen is called when an accepted connection is registered, or when a
	// Dial has connected.
	OnOpen(c *Conn)
	// OnData is called when new bytes are in c.Inbound().
	OnData(c *Conn)
	// OnClose is called once per connection, with nil for a close asked for
	// by the application, io.EOF when the peer shut down cleanly, or the
	// error (a reset, a timeout, ErrStopped, a *PanicError...). A Dial that
	// fails ends in OnClose without OnOpen.
	OnClose(c *Conn, err error)
}

// Ticker is implemented by handlers that want a periodic call on every
// loop, every Options.TickInterval.
type Ticker interface {
	OnTick(l *Loop)
}

// Funcs is a Handler (and Ticker) made of optional functions.
type Funcs struct {
	Open  func(c *Conn)
	Data  func(c *Conn)
	Close func(c *Conn, err error)
	Tick  func(l *Loop)
}

func (f Funcs) OnOpen(c *Conn) {
	if f.Open != nil {
		f.Open(c)
	}
}

func (f Funcs) OnData(c *Conn) {
	if f.Data != nil {
		f.Data(c)
	}
}

func (f Funcs) OnClose(c *Conn, err error) {
	if f.Close != nil {
		f.Close(c, err)
	}
}

func (f Funcs) OnTick(l *Loop) {
	if f.Tick != nil {
		f.Tick(l)
	}
}

// Balance chooses the loop a new connection goes to.
type Balance int

const (
	// RoundRobin deals connections to the loops in turn.
	RoundRobin Balance = iota
	// LeastConnections gives each connection to the loop holding fewest.
	LeastConnections
)

// Options configure an Engine. The zero value is usable.
type Options struct {
	// Loops is the number of event loops; default runtime.GOMAXPROCS(0).
	Loops int
	// Balance spreads accepted connections when one acceptor hands them
	// out (no ReusePort) and Dial'd connections always.
	Balance Balance
	// ReusePort gives every loop its own SO_REUSEPORT listener so the kernel
	// spreads connections and no loop hands sockets to another. It is
	// ignored where the platform has no SO_REUSEPORT.
	ReusePort bool
	// ReadBufferSize is the size of each loop's shared read buffer;
	// default 64 KiB.
	ReadBufferSize int
	// HighWater is the pending output (bytes) above which a connection is
	// not read any more; default 1 MiB. LowWater is where reading resumes;
	// default HighWater/4.
	HighWater, LowWater int
	// MaxOutput closes a connection whose pending output grows past it
	// anyway (writes from timers or other goroutines); default 64 MiB.
	MaxOutput int
	// MaxInput closes a connection whose unconsumed input grows past it;
	// default 64 MiB.
	MaxInput int
	// IdleTimeout closes connections that have neither read nor written
	// for that long; 0 disables it. See Conn.SetIdleTimeout.
	IdleTimeout time.Duration
	// TickInterval is how often a Ticker handler's OnTick runs; default 1s.
	TickInterval time.Duration
	// NoDelay sets TCP_NODELAY on accepted and dialed TCP connections.
	NoDelay bool
	// Backend names the poller backend ("epoll", "poll", ...); default the
	// platform's best.
	Backend string
	// Logger receives fault reports; default slog.Default().
	Logger *slog.Logger
}

func (o *Options) setDefaults() {
	if o.Loops <= 0 {
		o.Loops = runtime.GOMAXPROCS(0)
	}
	if o.ReadBufferSize <= 0 {
		o.ReadBufferSize = 64 << 10
	}
	if o.HighWater <= 0 {
		o.HighWater = 1 << 20
	}
	if o.LowWater <= 0 || o.LowWater > o.HighWater {
		o.LowWater = o.HighWater / 4
	}
	if o.MaxOutput <= 0 {
		o.MaxOutput = 64 << 20
	}
	if o.MaxInput <= 0 {
		o.MaxInput = 64 << 20
	}
	if o.TickInterval <= 0 {
		o.TickInterval = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Engine runs the loops.
type Engine struct {
	h    Handler
	opts Options
	log  *slog.Logger

	loops    []*Loop
	wg       sync.WaitGroup
	next     atomic.Uint64
	stopping atomic.Bool
	done     chan struct{}

	mu    sync.Mutex
	addrs []net.Addr
}

// New starts an engine's loops. It serves nothing until Listen or Dial.
func New(h Handler, opts Options) (*Engine, error) {
	opts.setDefaults()
	e := &Engine{h: h, opts: opts, log: opts.Logger, done: make(chan struct{})}
	for i := 0; i < opts.Loops; i++ {
		var sel *selector.Selector
		var err error
		if opts.Backend != "" {
			sel, err = selector.NewBackend(opts.Backend)
		} else {
			sel, err = selector.New()
		}
		if err != nil {
			for _, l := range e.loops {
				l.sel.Close()
			}
			return nil, err
		}
		now := time.Now()
		e.loops = append(e.loops, &Loop{
			e: e, id: i, sel: sel, buf: make([]byte, opts.ReadBufferSize),
			now: now, clock: now.UnixNano(),
		})
	}
	t, ticks := h.(Ticker)
	if f, ok := h.(Funcs); ok && f.Tick == nil {
		ticks = false // Funcs is a Ticker by its type; it wants ticks only if Tick is set
	}
	if ticks {
		for _, l := range e.loops {
			l.Every(opts.TickInterval, func() { t.OnTick(l) })
		}
	}
	e.wg.Add(len(e.loops))
	for _, l := range e.loops {
		go l.run()
	}
	go func() {
		e.wg.Wait()
		close(e.done)
	}()
	return e, nil
}

// Loops returns the engine's loops.
func (e *Engine) Loops() []*Loop { return e.loops }

// Options returns the options in effect, defaults filled in.
func (e *Engine) Options() Options { return e.opts }

// Addrs returns the addresses the engine listens on.
func (e *Engine) Addrs() []net.Addr {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]net.Addr(nil), e.addrs...)
}

// onLoop runs fn on l and waits for it. It must not be called from a loop.
func (e *Engine) onLoop(l *Loop, fn func() error) error {
	res := make(chan error, 1)
	if err := l.Do(func() { res <- fn() }); err != nil {
		return err
	}
	return <-res
}

// Listen starts accepting connections on address ("host:port" for "tcp",
// "tcp4", "tcp6"; a path for "unix") and returns the bound address (useful
// with port 0). With Options.ReusePort every loop gets its own listener;
// otherwise loop 0 accepts and deals connections out by Options.Balance.
// Call it from outside the loops.
func (e *Engine) Listen(network, address string) (net.Addr, error) {
	if e.stopping.Load() {
		return nil, ErrStopped
	}
	lc := evsel.ListenConfig{ReusePort: e.opts.ReusePort && network != "unix"}
	first, err := lc.Listen(network, address)
	if err != nil && lc.ReusePort {
		// No SO_REUSEPORT here: fall back to one acceptor.
		lc.ReusePort = false
		first, err = lc.Listen(network, address)
	}
	if err != nil {
		return nil, err
	}
	addr, err := first.LocalAddr()
	if err != nil {
		first.Close()
		return nil, err
	}
	socks := []*evsel.Socket{first}
	if lc.ReusePort {
		// Bind the others to the port the first one got, in case it was 0.
		for range e.loops[1:] {
			s, err := lc.Listen(network, addr.String())
			if err != nil {
				for _, s := range socks {
					s.Close()
				}
				return nil, err
			}
			socks = append(socks, s)
		}
	}
	for i, s := range socks {
		l := e.loops[i]
		ln := &listener{loop: l, sock: s}
		err := e.onLoop(l, func() error {
			if l.stopping {
				return ErrStopped
			}
			if _, err := l.sel.Register(s, evsel.EventRead, ln); err != nil {
				return err
			}
			l.listeners = append(l.listeners, ln)
			return nil
		})
		if err != nil {
			for _, s := range socks[i:] {
				s.Close()
			}
			// Undo the listeners already serving on earlier loops, or the
			// engine would accept on an address Listen reports as failed.
			for j, s := range socks[:i] {
				l := e.loops[j]
				e.onLoop(l, func() error {
					l.listeners = slices.DeleteFunc(l.listeners, func(ln *listener) bool {
						if ln.sock == s {
							ln.close()
							return true
						}
						return false
					})
					return nil
				})
			}
			return nil, err
		}
	}
	e.mu.Lock()
	e.addrs = append(e.addrs, addr)
	e.mu.Unlock()
	return addr, nil
}

// pick chooses the loop for a new connection.
func (e *Engine) pick(from *Loop) *Loop {
	if len(e.loops) == 1 {
		return e.loops[0]
	}
	if e.opts.Balance == LeastConnections {
		best := e.loops[0]
		for _, l := range e.loops[1:] {
			if l.stats.open.Load() < best.stats.open.Load() {
				best = l
			}
		}
		return best
	}
	return e.loops[e.next.Add(1)%uint64(len(e.loops))]
}

// Dial starts a non-blocking connect to address on one of the loops and
// returns its Conn at once. OnOpen follows when it connects; a failure or a
// timeout (0: none) ends in OnClose with the error. Writes made before the
// connection is up are sent once it is. Name resolution, if address holds a
// name rather than a number, happens before Dial returns. Safe from any
// goroutine, including loop callbacks.
func (e *Engine) Dial(network, address string, timeout time.Duration, ctx any) (*Conn, error) {
	if e.stopping.Load() {
		return nil, ErrStopped
	}
	s, err := evsel.Dial(network, address)
	if err != nil {
		return nil, err
	}
	if e.opts.NoDelay && s.Family() != evsel.Unix {
		s.SetNoDelay(true)
	}
	l := e.pick(nil)
	c := &Conn{sock: *s, loop: l, ctx: ctx, flags: flagDialing}
	err = l.Do(func() {
		l.register(c)
		if timeout > 0 && !c.closed.Load() {
			c.extra().timer = l.AfterFunc(timeout, func() {
				if c.flags&flagDialing != 0 {
					c.fail(ErrDialTimeout)
				}
			})
		}
	})
	if err != nil {
		c.sock.Close()
		return nil, err
	}
	return c, nil
}

// deliverClose tells the handler about a connection that never got
// registered: only a Dial'd one, whose caller waits for an outcome.
func (e *Engine) deliverClose(c *Conn, err error) {
	if c.flags&flagDialing != 0 {
		c.loop.callClose(c, err)
	}
}

// Stop shuts the engine down gracefully: it stops accepting, lets every
// connection flush its pending output, closes them (OnClose gets
// ErrStopped), and returns when every loop goroutine has exited. If ctx ends
// first, the remaining connections are closed at once, dropping their
// output, and ctx's error is returned once the loops are gone. Stop waits
// for the loops, so it must not be called from a loop callback (start it in
// a goroutine there).
func (e *Engine) Stop(ctx context.Context) error {
	if e.stopping.CompareAndSwap(false, true) {
		for _, l := range e.loops {
			l.Do(l.beginStop)
		}
	}
	select {
	case <-e.done:
		return nil
	case <-ctx.Done():
	}
	for _, l := range e.loops {
		l.Do(l.forceStop)
	}
	<-e.done
	return ctx.Err()
}

// Done is closed when every loop has exited.
func (e *Engine) Done() <-chan struct{} { return e.done }

// Stats counts what the engine did. Open is a gauge; the rest only grow.
type Stats struct {
	Open, Accepted, Dialed, Closed   int64
	BytesIn, BytesOut, Reads, Writes int64
}

func (s *Stats) add(o Stats) {
	s.Open += o.Open
	s.Accepted += o.Accepted
	s.Dialed += o.Dialed
	s.Closed += o.Closed
	s.BytesIn += o.BytesIn
	s.BytesOut += o.BytesOut
	s.Reads += o.Reads
	s.Writes += o.Writes
}

// Stats returns the loop's counters.
func (l *Loop) Stats() Stats {
	st := &l.stats
	return Stats{
		Open: st.open.Load(), Accepted: st.accepted.Load(), Dialed: st.dialed.Load(),
		Closed: st.closed.Load(), BytesIn: st.bytesIn.Load(), BytesOut: st.bytesOut.Load(),
		Reads: st.reads.Load(), Writes: st.writes.Load(),
	}
}

// Stats sums the counters of every loop.
func (e *Engine) Stats() Stats {
	var total Stats
	for _, l := range e.loops {
		total.add(l.Stats())
	}
	return total
}
