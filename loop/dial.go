package loop

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/evsel/evsel"
)

// DialOption configures one Dial.
type DialOption func(*dialOptions)

type dialOptions struct {
	data    any
	tls     *tls.Config
	loop    *Loop
	local   net.Addr
	control evsel.ControlFunc
}

// loopFor is the loop the connection goes to: WithLoop's, or one Balance
// picks. A loop of another engine is refused: its connections would be
// counted, stopped and shed by an engine that does not know them.
func (o *dialOptions) loopFor(e *Engine) (*Loop, error) {
	if o.loop == nil {
		return e.pick(nil), nil
	}
	if o.loop.e != e {
		return nil, errors.New("loop: WithLoop: the loop belongs to another engine")
	}
	return o.loop, nil
}

// WithData attaches v to the dialed connection before any callback runs,
// as SetData would (OnOpen, or OnClose for a dial that fails, finds it in
// Conn.Data).
func WithData(v any) DialOption { return func(o *dialOptions) { o.data = v } }

// WithLoop puts the connection on l instead of the loop Options.Balance
// would choose, as gnet's EventLoop.Register does. A proxy dials its
// upstream on its client's loop (WithLoop(client.Loop())): both ends of
// the pair are then served by one goroutine, so each callback may Write
// to the other Conn directly, with no AsyncWrite copy and no cross-loop
// wake-up. l must be one of the engine's own loops (Engine.Loops).
func WithLoop(l *Loop) DialOption { return func(o *dialOptions) { o.loop = l } }

// WithLocalAddr binds the connection's socket to addr before it connects,
// as net.Dialer's LocalAddr does: a *net.TCPAddr chooses the source
// address, the source port, or both (its IP's family must suit the
// address dialed; no IP is either family's wildcard), a *net.UnixAddr
// the client socket's own path. With an IP and port 0 on Linux the port is
// chosen at the connect, with the destination in view
// (evsel.Socket.BindSource), so that a proxy spreading its upstream
// connections over a few source addresses is not held to one ephemeral
// range per address. An attempt whose bind fails (the address is not the
// host's, the port is taken) fails like a refused connect: the next
// address is tried, and OnClose reports it.
func WithLocalAddr(addr net.Addr) DialOption { return func(o *dialOptions) { o.local = addr } }

// WithControl calls fn for each socket a Dial opens (one per address
// tried) before it is bound (WithLocalAddr) or connected, as net.Dialer's
// Control is, with the arguments evsel.RunControl describes (the address
// is the one about to be dialed): for the socket options a DialOption has
// no field for, such as SO_BINDTODEVICE or SO_MARK. For Dial it runs on
// the loop, so it must not block, and an error fails that attempt like a
// refused connect: the next address is tried, and OnClose reports it; a
// panic in fn does the same, as a *PanicError. DialPacket calls it on its
// caller's goroutine and returns its error (a panic is the caller's, as
// with net.Dialer).
func WithControl(fn evsel.ControlFunc) DialOption {
	return func(o *dialOptions) { o.control = fn }
}

// Dial starts connecting to address on one of the loops and returns the
// Conn at once; it never blocks. OnOpen follows when the connection is up;
// a failure ends in OnClose without OnOpen. Writes made before the
// connection is up are sent once it is. Network is "tcp", "tcp4", "tcp6" or
// "unix", address as for Listen. Safe from any goroutine, including loop
// callbacks.
//
// A host name is looked up on a goroutine of its own, never on a loop, and
// the addresses it resolves to are tried in turn (IPv4 first for "tcp"),
// as Python's socket.create_connection does, until one connects. If none
// does, OnClose gets the error of the one address, or all attempts' errors
// joined by errors.Join. Each attempt runs until the system gives up on it:
// there is no per-address timeout.
//
// ctx bounds the whole connect, lookup and attempts: if it is cancelled or
// its deadline passes first, OnClose gets ctx.Err(). Once the connection is
// up ctx no longer matters, and Dial keeps nothing watching it.
//
// Dial itself returns an error only for what it can tell without any I/O:
// a stopped engine, a ctx already done, an unknown network or a malformed
// address.
func (e *Engine) Dial(ctx context.Context, network, address string, opts ...DialOption) (*Conn, error) {
	if e.stopping.Load() {
		return nil, ErrStopped
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var o dialOptions
	for _, opt := range opts {
		opt(&o)
	}
	t, err := parseTarget(network, address)
	if err != nil {
		return nil, err
	}
	l, err := o.loopFor(e)
	if err != nil {
		return nil, err
	}
	c := &Conn{loop: l, data: o.data, flags: flagDialing | flagNoSock}
	c.aux = &connAux{dial: &dialState{ctx: ctx, target: t, addrs: t.addrs, local: o.local, control: o.control}}
	if o.tls != nil {
		c.dialTLS(o.tls, address)
	}
	if err := l.enqueue(task{fn: func() { l.startDial(c) }}); err != nil {
		return nil, err
	}
	return c, nil
}

// dialState is what a connection keeps while it dials.
type dialState struct {
	ctx    context.Context
	target target
	addrs  []net.Addr  // still to try
	cur    net.Addr    // being tried
	errs   []error     // of the attempts that failed
	stop   func() bool // detaches ctx (see context.AfterFunc)
	lookup bool        // in Loop.resolving
	local  net.Addr    // WithLocalAddr's, or nil
	// control is WithControl's, or nil.
	control evsel.ControlFunc
}

// target is a parsed dial address: addrs if it needed no lookup, else the
// host and port to look up.
type target struct {
	network    string
	host, port string
	addrs      []net.Addr
}

func parseTarget(network, address string) (target, error) {
	t := target{network: network}
	switch network {
	case "unix":
		t.addrs = []net.Addr{&net.UnixAddr{Name: address, Net: "unix"}}
		return t, nil
	case "tcp", "tcp4", "tcp6":
	default:
		return t, fmt.Errorf("loop: unsupported network %q", network)
	}
	var err error
	if t.host, t.port, err = net.SplitHostPort(address); err != nil {
		return t, err
	}
	if _, err := netip.ParseAddr(t.host); err == nil || t.host == "" {
		// A number (or nothing): evsel.Resolve asks no one for it.
		addrs, err := evsel.Resolve(network, address)
		t.addrs = addrs
		return t, err
	}
	return t, nil
}

// lookupIP is what a Dial resolves host names with; tests replace it
// through Engine.lookupIP.
type lookupIP func(ctx context.Context, network, host string) ([]netip.Addr, error)

// resolve looks up a host name (and a service name for the port).
func (t target) resolve(ctx context.Context, lookup lookupIP) ([]net.Addr, error) {
	port, err := net.DefaultResolver.LookupPort(ctx, t.network, t.port)
	if err != nil {
		return nil, err
	}
	ips, err := lookup(ctx, map[string]string{"tcp": "ip", "tcp4": "ip4", "tcp6": "ip6"}[t.network], t.host)
	if err != nil {
		return nil, err
	}
	var addrs []net.Addr
	for _, ip := range ips {
		ip = ip.Unmap()
		if (t.network == "tcp4" && !ip.Is4()) || (t.network == "tcp6" && !ip.Is6()) {
			continue
		}
		addrs = append(addrs, &net.TCPAddr{IP: ip.AsSlice(), Port: port, Zone: ip.Zone()})
	}
	if len(addrs) == 0 {
		return nil, &net.AddrError{Err: "no suitable address", Addr: t.host}
	}
	if t.network == "tcp" {
		slices.SortStableFunc(addrs, func(a, b net.Addr) int { return ipv6(a) - ipv6(b) })
	}
	return addrs, nil
}

// ipv6 is 1 for an IPv6 address, 0 for IPv4, for sorting.
func ipv6(a net.Addr) int {
	if a.(*net.TCPAddr).IP.To4() != nil {
		return 0
	}
	return 1
}

// startDial takes a dialing connection on: it watches ctx, then connects or
// starts the lookup.
func (l *Loop) startDial(c *Conn) {
	if l.stopping {
		c.closed.Store(true)
		c.dropFiles()     // a SendFile made since Dial returned
		c.stopDeadlines() // set since, on this loop
		l.callClose(c, ErrStopped)
		return
	}
	l.adopt(c)
	d := c.aux.dial
	ctx := d.ctx
	d.stop = context.AfterFunc(ctx, func() {
		l.enqueue(task{conn: c, fn: func() {
			if c.flags&flagDialing != 0 {
				c.fail(ctx.Err())
			}
		}})
	})
	if d.addrs != nil {
		l.nextAttempt(c)
		return
	}
	if l.resolving == nil {
		l.resolving = make(map[*Conn]struct{})
	}
	l.resolving[c] = struct{}{}
	d.lookup = true
	t, lookup := d.target, l.e.lookupIP
	go func() {
		addrs, err := t.resolve(ctx, lookup)
		if err != nil && ctx.Err() != nil {
			err = ctx.Err() // the lookup's own error hides the cause
		}
		// Dropped with the connection if it closed meanwhile, and with the
		// loop if that exited (it closed the connection first).
		l.enqueue(task{conn: c, fn: func() { l.resolved(c, addrs, err) }})
	}()
}

// resolved continues a dial once its lookup is done.
func (l *Loop) resolved(c *Conn, addrs []net.Addr, err error) {
	d := c.aux.dial
	delete(l.resolving, c)
	d.lookup = false
	if err != nil {
		c.fail(err)
		return
	}
	d.addrs = addrs
	l.nextAttempt(c)
}

// nextAttempt starts connecting to the next address, and fails the
// connection once none is left.
func (l *Loop) nextAttempt(c *Conn) {
	d := c.aux.dial
	for len(d.addrs) > 0 {
		d.cur, d.addrs = d.addrs[0], d.addrs[1:]
		err := l.connect(c, d.cur)
		if err == nil {
			return
		}
		d.failed(err)
	}
	if len(d.errs) == 1 {
		c.fail(d.errs[0])
	} else {
		c.fail(errors.Join(d.errs...))
	}
}

// failed records the failure of the current attempt.
func (d *dialState) failed(err error) {
	d.errs = append(d.errs, &net.OpError{Op: "dial", Net: d.target.network, Addr: d.cur, Err: err})
}

// connect opens a socket for a and starts connecting it; the driver
// calls connectDone when that ends.
func (l *Loop) connect(c *Conn, a net.Addr) error {
	family := evsel.Unix
	if a, ok := a.(*net.TCPAddr); ok {
		family = evsel.IPv6
		if a.IP.To4() != nil {
			family = evsel.IPv4
		}
	}
	s, err := evsel.NewSocket(family)
	if err != nil {
		return err
	}
	l.e.opts.connSocket(s, family != evsel.Unix)
	if err := l.runControl(c.aux.dial.control, s, a); err != nil {
		s.Close()
		return err
	}
	if local := c.aux.dial.local; local != nil {
		if err := s.BindSource(local); err != nil {
			s.Close()
			return err
		}
	}
	return l.drv.connect(c, s, a)
}

// runControl runs a Dial's Control (WithControl) for s, turning a panic
// into the attempt's error, as a callback's panic closes its connection:
// the function is the application's, run on the loop, and connect is
// called from a task (where a panic would leave the connection dialing for
// ever, and s open) and from the driver's completion of a refused attempt
// (where nothing else recovers it, and the process would die).
func (l *Loop) runControl(fn evsel.ControlFunc, s *evsel.Socket, a net.Addr) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = l.panicked("loop: dial control panic", r)
		}
	}()
	return evsel.RunControl(fn, s, a)
}

// connectDone completes a connect attempt with its result: the connection
// opens, or the next address is tried.
func (l *Loop) connectDone(c *Conn, err error) {
	if err != nil {
		l.drv.release(c)
		c.flags |= flagNoSock
		c.aux.dial.failed(err)
		l.nextAttempt(c)
		return
	}
	c.flags &^= flagDialing
	c.endDial()
	l.stats.dialed.Add(1)
	if c.flags&flagClosing != 0 {
		// Closed before it connected: what was written before the close is
		// still sent, but the handler is not told of an open it gave up on.
		c.flags |= flagOpen
		return
	}
	l.open(c)
}

// endDial drops what a connection kept for dialing, ctx's watch included.
func (c *Conn) endDial() {
	if c.aux == nil || c.aux.dial == nil {
		return
	}
	d := c.aux.dial
	if d.stop != nil {
		d.stop()
	}
	if d.lookup {
		delete(c.loop.resolving, c)
	}
	c.aux.dial = nil
	if *c.aux == (connAux{}) {
		// Only when nothing else is in it: a reason, an idle timeout, TLS,
		// files queued before the connect (flagFile says they are here),
		// a pending ResumeReading.
		c.aux = nil // keep a connected client as small as an accepted one
	}
}
