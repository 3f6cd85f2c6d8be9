package loop

import (
	"log/slog"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evsel/evsel"
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
	// error (a reset, ErrIdleTimeout, ErrFirstByteTimeout, ErrLingerTimeout,
	// ErrReadDeadline, ErrWriteDeadline, ErrShed, ErrMemoryBudget, ErrStopped, ErrTLSNoCloseNotify,
	// ErrTLSRecordTimeout, a *PanicError, a Dial's ctx.Err()...). A Dial
	// that fails ends in OnClose without OnOpen.
	OnClose(c *Conn, err error)
}

// Funcs is a Handler, a DrainHandler, an AcceptErrorHandler and an
// EOFHandler made of optional functions.
type Funcs struct {
	Open    func(c *Conn)
	Data    func(c *Conn)
	Close   func(c *Conn, err error)
	Drained func(c *Conn)
	// AcceptError is OnAcceptError (see AcceptErrorHandler).
	AcceptError func(l *Loop, addr net.Addr, err error)
	// EOF is OnEOF (see EOFHandler); without it the peer's end of the
	// stream closes the connection once its output is sent.
	EOF func(c *Conn)
}

// OnOpen calls f.Open if set.
func (f Funcs) OnOpen(c *Conn) {
	if f.Open != nil {
		f.Open(c)
	}
}

// OnData calls f.Data if set.
func (f Funcs) OnData(c *Conn) {
	if f.Data != nil {
		f.Data(c)
	}
}

// OnClose calls f.Close if set.
func (f Funcs) OnClose(c *Conn, err error) {
	if f.Close != nil {
		f.Close(c, err)
	}
}

// OnDrained calls f.Drained if set.
func (f Funcs) OnDrained(c *Conn) {
	if f.Drained != nil {
		f.Drained(c)
	}
}

// OnAcceptError calls f.AcceptError if set.
func (f Funcs) OnAcceptError(l *Loop, addr net.Addr, err error) {
	if f.AcceptError != nil {
		f.AcceptError(l, addr, err)
	}
}

// Balance chooses the loop a new connection goes to.
type Balance int

const (
	// RoundRobin deals connections to the loops in turn.
	RoundRobin Balance = iota
	// LeastConnections gives each connection to the loop holding fewest.
	LeastConnections
	// SourceAddrHash gives every accepted connection from one IP address
	// to the same loop, as gnet's SourceAddrHash does, so that state a
	// loop keeps per client address (a rate limit, a session cache) needs
	// no lock. It costs a getpeername per accept. Dialed connections, and
	// accepted Unix ones, which have no address, go round-robin; with
	// ReusePort the kernel chooses each connection's loop by its whole
	// address and port, so there is no affinity.
	SourceAddrHash
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
	// FirstByteTimeout closes an accepted connection that has sent nothing
	// that long after the accept (ErrFirstByteTimeout); 0 disables it. A
	// write the handler makes before the first byte restarts the wait, as
	// it does the idle timeout's.
	FirstByteTimeout time.Duration
	// LingerTimeout bounds a close that waits for output to drain (Close,
	// CloseWithError, a fault close, the peer's EOF with output pending
	// unless OnEOF keeps the connection open, Stop's graceful close; not
	// CloseWrite, which the idle timeout bounds): counted from the close
	// request, whatever the peer takes meanwhile, after it the connection
	// is closed hard and OnClose gets ErrLingerTimeout. 0 disables it; the idle timeout then
	// applies to closing connections. A close whose output has gone while
	// the peer is still sending lingers up to 2 s more, reading and
	// dropping its bytes (see the package documentation), whatever this is.
	LingerTimeout time.Duration
	// MaxConns bounds the connections the engine holds; 0 means no bound.
	// An accept that would pass it (dialed connections count too, but a
	// Dial never sheds) first sheds the connection idle the longest,
	// preferring one with no traffic either way a quarter of a second after
	// it was accepted, with ErrShed, as does an accept that finds the process out of
	// descriptors, whatever MaxConns is (see "Deadlines and limits" in the
	// package documentation).
	MaxConns int
	// MaxConnsPerIP bounds the accepted TCP connections held from one peer
	// address at once (an IPv6 peer counts by its /64, which one host
	// usually holds whole): an accept past it is closed at once, before
	// the handler hears of it, and counted in Stats.RefusedPerIP. It keeps
	// one address from taking every descriptor, MaxConns place or TLS
	// handshake slot. 0, the default, means no bound: clients behind one
	// NAT share an address, as do a load generator's. When set, it costs a
	// getpeername and a lock per accept and a lock per close. Addresses are
	// counted by a keyed 32-bit hash, so two of them may now and then share
	// a count.
	MaxConnsPerIP int
	// MaxMemory is the engine-wide budget, in bytes, for the input and
	// output buffered by all connections together; 0 means no budget.
	// Above it a connection holding more than its share (MaxMemory over the
	// open connections, at least 64 KiB) is not read until the total falls
	// under 7/8 of the budget or its holding under half its share; if the total
	// stays above the budget, the connections holding the most are closed
	// with ErrMemoryBudget, largest first, until it is under; so are they,
	// down to 7/8 of the budget, if paused connections sit between the two
	// for a second without draining, where none could ever finish a
	// message. Connections
	// within their share keep being served. See "Memory budget" in the
	// package documentation.
	MaxMemory int64
	// DatagramSize is the longest datagram a datagram socket receives
	// whole; longer ones are dropped (Stats.DatagramsTruncated). Default
	// 64 KiB, which holds any UDP datagram. DatagramBatch is how many
	// datagrams one receive takes at most where the system has batched
	// receives (recvmmsg on Linux; max 16, default 8). A loop serving
	// datagram sockets holds DatagramSize × DatagramBatch of receive buffer.
	DatagramSize, DatagramBatch int
	// MaxPacketQueue and MaxPacketQueueBytes bound the datagrams a loop
	// holds unsent (written while the sockets' send buffers were full);
	// past either, PacketConn.WriteTo drops the datagram
	// (ErrDatagramDropped, Stats.DatagramsDropped). Defaults 4096 and
	// 4 MiB.
	MaxPacketQueue, MaxPacketQueueBytes int
	// TLSHandshakeTimeout bounds a TLS handshake (ListenTLS, WithTLS), the
	// wait for a free handshake goroutine included; default 10 s. After
	// the handshake it bounds how long a record may stay incomplete
	// (ErrTLSRecordTimeout).
	TLSHandshakeTimeout time.Duration
	// MaxTLSHandshakes bounds the TLS handshakes running at once, each on
	// a goroutine of its own (about 22 KB while it waits on its peer); the
	// connections beyond it wait for a slot without one. Default 1024.
	// Accepted and dialed connections have a bound each, so that clients
	// waiting on servers, this engine's own among them, never hold the
	// slots those servers need. While some wait, an accepted connection's
	// handshake that its peer has kept waiting for a fortieth of
	// TLSHandshakeTimeout in all (250 ms by default, and at least that
	// unless the timeout is under 1 s) gives its slot up
	// (ErrTLSHandshakeStalled), the one that stalled first; so peers that
	// stall their handshakes keep newcomers waiting only while they come
	// faster than MaxTLSHandshakes per that time.
	MaxTLSHandshakes int
	// Nagle leaves Nagle's algorithm on for accepted and dialed TCP
	// connections (an adopted one keeps what its maker set): small writes
	// are held back while earlier ones are unacknowledged and leave
	// together, in fewer segments. By default
	// TCP_NODELAY is set on them instead, as Go's net, gnet and nbio set
	// it: with Nagle, a write that follows an unacknowledged one waits for
	// the peer's ACK, which a peer with nothing to send delays by up to
	// 40 ms (200 on some systems), so an answer written in two parts (a
	// header from the callback, a body from another goroutine) took that
	// long. Conn.SetNoDelay changes one connection.
	Nagle bool
	// NoDelay sets TCP_NODELAY, which is the default now; true still sets
	// it whatever Nagle says.
	//
	// Deprecated: TCP_NODELAY is set unless Options.Nagle is.
	NoDelay bool
	// KeepAlive, with Enable set, turns TCP keep-alive probes on for
	// accepted, dialed and adopted TCP connections (an adopted socket
	// without it keeps what its maker set, on for Go's net), with its Idle,
	// Interval and Count (a zero field: 15 s, 15 s and 9, as Go's net
	// has them). A peer that vanished without a FIN or a reset (powered
	// off, or a NAT or firewall that forgot the flow) is then found after
	// Idle + Interval·Count and closed with ETIMEDOUT, even when the
	// connection has nothing to send, where it would otherwise be held
	// until IdleTimeout, which closes quiet healthy peers too. Off by
	// default, as in gnet: each probe is a packet, and a server holding a
	// million idle connections at Go's 15 s sends 66,000 a second.
	// Conn.SetKeepAlive changes one connection.
	KeepAlive net.KeepAliveConfig
	// SocketReadBuffer and SocketWriteBuffer, when positive, set the
	// kernel's receive and send buffer sizes (SO_RCVBUF, SO_SNDBUF) of
	// every connection the engine accepts, dials or adopts and every
	// datagram socket it opens, as Conn.SetReadBuffer and SetWriteBuffer
	// do for one (gnet's SocketRecvBuffer and SocketSendBuffer). The
	// kernel may double or cap the size, and on Linux a size set turns
	// that buffer's autotuning off. 0 leaves the system's default.
	SocketReadBuffer, SocketWriteBuffer int
	// ListenControl, if not nil, is called for every socket the engine
	// opens to listen (Listen, ListenTLS, ListenPacket; each loop's copy
	// when the address is spread with SO_REUSEPORT) once its address-reuse
	// options are set and before it is bound, as net.ListenConfig's
	// Control is, with the arguments evsel.RunControl describes. It is for
	// the socket options Options has no field for: SO_BINDTODEVICE (gnet's
	// WithBindToDevice), SO_MARK, IP_FREEBIND, IP_TRANSPARENT; a function
	// written for net.ListenConfig works unchanged. An error fails that
	// Listen with it. WithControl is the same for one Dial. Sockets handed
	// to the engine (ServeListener, ServeFD, Adopt...) were made by the
	// caller and are not passed to it.
	ListenControl evsel.ControlFunc
	// Driver chooses how the loops do their I/O: "io_uring" (Linux's
	// completion API: receives, sends and connects are handed to the
	// kernel and one system call per loop iteration carries them all),
	// or a readiness poller, "epoll", "kqueue", "poll" or "iocp" (see
	// evsel.Backends). The default ("") is the platform's best poller.
	// Where io_uring is asked for but the kernel lacks it (or an operation
	// it needs, or it is disabled or blocked), the engine logs why once
	// and runs on epoll; Engine.Driver reports what runs.
	Driver string
	// Backend is the former name of Driver for the readiness pollers; it
	// applies when Driver is "".
	Backend string
	// Logger receives fault reports. It is called on the loops, so one
	// whose handler blocks (writing to a pipe no one reads) stalls the
	// loop's connections until it returns; the default, slog.Default's
	// handler behind a QueuedHandler, never does. The engine flushes a
	// QueuedHandler's records (for at most a second) before Done closes.
	Logger *slog.Logger

	// OnBoot, if set, runs once New has started the loops, before New
	// returns: the place to Listen or Dial from a handler that owns the
	// engine.
	OnBoot func(e *Engine)
	// OnShutdown, if set, runs once every loop has exited, before Done is
	// closed and Stop returns.
	OnShutdown func(e *Engine)
	// StallWarning is how long a loop may be kept from its poll (by a
	// callback that blocks: a slow system call, a lock, a channel) before
	// the engine logs a warning with the stack of the loop's goroutine,
	// where it is stuck, and counts it in Stats.Stalls; a second line
	// follows when the loop serves again. The engine never interrupts the
	// callback. Default 1 s; negative turns the watchdog off. See stall.go.
	StallWarning time.Duration
	// OnTick, if set, runs on every loop every TickInterval (default 1 s).
	// Without it the loops keep no timer of their own.
	OnTick       func(l *Loop)
	TickInterval time.Duration
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
	if o.DatagramSize <= 0 {
		o.DatagramSize = 64 << 10
	}
	if o.DatagramBatch <= 0 {
		o.DatagramBatch = 8
	}
	if o.MaxPacketQueue <= 0 {
		o.MaxPacketQueue = 4096
	}
	if o.MaxPacketQueueBytes <= 0 {
		o.MaxPacketQueueBytes = 4 << 20
	}
	if o.TLSHandshakeTimeout <= 0 {
		o.TLSHandshakeTimeout = defaultTLSHandshakeTimeout
	}
	if o.MaxTLSHandshakes <= 0 {
		o.MaxTLSHandshakes = defaultMaxTLSHandshakes
	}
	if o.TickInterval <= 0 {
		o.TickInterval = time.Second
	}
	if o.StallWarning == 0 {
		o.StallWarning = defaultStallWarning
	}
	if o.Logger == nil {
		o.Logger = slog.New(NewQueuedHandler(slog.Default().Handler()))
	}
}

// Engine runs the loops.
type Engine struct {
	h        Handler
	eof      EOFHandler // h, if it serves half-closed connections (halfclose.go)
	opts     Options
	log      *slog.Logger
	lookupIP lookupIP // how Dial resolves host names

	loops    []*Loop
	wg       sync.WaitGroup
	next     atomic.Uint64
	stopping atomic.Bool
	// shut is closed when the loops are gone and OnShutdown has returned;
	// done, once the Logger's queue is flushed too (flushLog).
	shut  chan struct{}
	done  chan struct{}
	open  atomic.Int64 // connections held by all loops, for MaxConns
	perIP *ipCounts    // for MaxConnsPerIP, nil without it (perip.go)
	// queuedFiles counts the descriptors SendFile holds (sendfile.go).
	queuedFiles atomic.Int64
	memHeld     atomic.Int64 // bytes held by all connections, for MaxMemory (budget.go)

	noDrainHandler atomic.Bool // NotifyDrained's misuse was logged (flow.go)

	// TLS handshakes running and waiting (tls_pool.go): the accepted
	// connections' and the dialed ones', apart (see MaxTLSHandshakes).
	handshakes, clientHandshakes handshakePool

	// shutdownGID is the id of the goroutine that waits for the loops and
	// runs OnShutdown (see OnLoopGoroutine).
	shutdownGID atomic.Uint64

	mu    sync.Mutex
	addrs []net.Addr
}

// New starts an engine's loops. It serves nothing until Listen or Dial.
func New(h Handler, opts Options) (*Engine, error) {
	opts.setDefaults()
	e := &Engine{
		h: h, opts: opts, log: opts.Logger, shut: make(chan struct{}), done: make(chan struct{}),
		lookupIP: net.DefaultResolver.LookupNetIP,
	}
	e.eof, _ = h.(EOFHandler)
	if opts.MaxConnsPerIP > 0 {
		e.perIP = newIPCounts()
	}
	name := e.chooseDriver()
	for i := 0; i < opts.Loops; i++ {
		l := newLoop(e, i)
		d, err := newDriver(l, name)
		if err != nil {
			for _, l := range e.loops {
				l.drv.close()
			}
			return nil, err
		}
		l.drv = d
		if opts.OnTick != nil {
			l.Every(opts.TickInterval, func() { opts.OnTick(l) })
		}
		e.loops = append(e.loops, l)
	}
	if err := e.startLoops(); err != nil {
		return nil, err
	}
	loopsGone := make(chan struct{})
	watched := make(chan struct{})
	if opts.StallWarning > 0 {
		go func() {
			defer close(watched)
			e.watchStalls(opts.StallWarning, loopsGone)
		}()
	} else {
		close(watched)
	}
	go func() {
		e.shutdownGID.Store(goid())
		e.wg.Wait()
		close(loopsGone)
		<-watched
		if opts.OnShutdown != nil {
			e.protect("OnShutdown", opts.OnShutdown)
		}
		close(e.shut)
		e.flushLog()
		close(e.done)
	}()
	if opts.OnBoot != nil {
		e.protect("OnBoot", opts.OnBoot)
	}
	return e, nil
}

// startLoops starts the loop goroutines and waits until each has started
// its driver (an io_uring is set up on the thread that will use it). If
// one cannot, the loops that did are stopped and the error returned.
func (e *Engine) startLoops() error {
	started := make(chan error, len(e.loops))
	e.wg.Add(len(e.loops))
	for _, l := range e.loops {
		go l.run(started)
	}
	var err error
	for range e.loops {
		if serr := <-started; serr != nil && err == nil {
			err = serr
		}
	}
	if err != nil {
		for _, l := range e.loops {
			l.Do(l.beginStop)
		}
		e.wg.Wait()
		return err
	}
	return nil
}

// protect runs an engine hook, logging a panic instead of crashing the
// process from a goroutine the application does not own.
func (e *Engine) protect(name string, hook func(*Engine)) {
	defer func() {
		if r := recover(); r != nil {
			e.log.Error("loop: "+name+" panic", "panic", r)
		}
	}()
	hook(e)
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

// pickAccepted chooses the loop for a connection that loop from accepted
// and now deals out: by the peer's address for SourceAddrHash, else as
// pick.
func (e *Engine) pickAccepted(from *Loop, s *evsel.Socket, tcp bool) *Loop {
	if e.opts.Balance != SourceAddrHash || len(e.loops) == 1 || !tcp {
		// A Unix peer has no address to hash: no getpeername for it.
		return e.pick(from)
	}
	ap, err := s.RemoteAddrPort()
	if err != nil || !ap.IsValid() {
		return e.pick(from)
	}
	// FNV-1a over the address as 16 bytes (an IPv4 peer of a dual-stack
	// listener is IPv4-mapped, so it hashes as on an IPv4 one) and not
	// the port, which changes from one connection to the next.
	h := uint32(2166136261)
	for _, b := range ap.Addr().As16() {
		h = (h ^ uint32(b)) * 16777619
	}
	// Then murmur3's finalizer: alone, FNV-1a's low k bits depend only on
	// the low k bits of each byte (h modulo 4 put 127.0.0.16, .32, .48...
	// all on one loop) and its high bits hardly on the last byte's.
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return e.loops[h%uint32(len(e.loops))]
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
