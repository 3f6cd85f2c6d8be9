package loop

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync/atomic"

	"github.com/evsel/evsel"
)

// Datagrams on the engine: Engine.ListenPacket serves a UDP or Unix
// datagram address with a PacketHandler, Engine.DialPacket opens a
// connected datagram socket. The receive and send paths are in
// packet_io.go.

// ErrDatagramDropped is returned by PacketConn.WriteTo when the loop's
// queue of unsent datagrams is full (Options.MaxPacketQueue and
// MaxPacketQueueBytes): the datagram is dropped, as the network may drop
// any datagram, and counted in Stats.DatagramsDropped.
var ErrDatagramDropped = errors.New("loop: datagram queue full, datagram dropped")

// errNoPacketHandler refuses a datagram socket without a handler, which
// would otherwise panic, and log its stack, for every datagram.
var errNoPacketHandler = errors.New("loop: a datagram socket needs a PacketHandler")

// PacketAddr is the address of a datagram's peer: an IP address and port
// for UDP (an IPv4 sender as IPv4, also on a dual-stack socket), or for a Unix datagram socket the path its sender is bound to
// ("" for an unnamed sender, which cannot be answered). The zero value, in
// WriteTo, means the connected peer.
type PacketAddr struct {
	AddrPort netip.AddrPort
	Path     string
}

// String is the address as "ip:port" or the path.
func (a PacketAddr) String() string {
	if a.AddrPort.IsValid() {
		return a.AddrPort.String()
	}
	return a.Path
}

// PacketHandler serves datagram sockets. OnPacket runs on the loop that
// owns pc, one datagram at a time, with the datagram and its sender. data
// is the loop's receive buffer, valid only until OnPacket returns (WriteTo
// copies it). A panic drops that datagram (counted in
// Stats.DatagramsDropped, and logged with its stack, at most one a second
// per loop, since a peer may send one such datagram after another); the
// socket goes on serving.
type PacketHandler interface {
	OnPacket(pc *PacketConn, data []byte, from PacketAddr)
}

// PacketErrorHandler may be implemented by a PacketHandler to hear of the
// errors of a datagram socket that does not close it: a datagram WriteTo
// queued that the system refused (too long, no route, on a connected
// socket ECONNREFUSED from an earlier datagram, or evsel.ErrReceiverFull
// from a Unix datagram socket that does not read), a failed receive; such a
// datagram is dropped and counted in Stats.DatagramsDropped. Without this
// handler they are logged at debug level. It is called as the loop sends, and
// may write and close: datagrams it queues on a socket the loop has just
// sent from leave on the loop's next iteration, so a handler that answers
// every failure with another datagram that fails keeps its loop busy but
// not stuck.
type PacketErrorHandler interface {
	OnPacketError(pc *PacketConn, err error)
}

// PacketFunc is a PacketHandler made of a function.
type PacketFunc func(pc *PacketConn, data []byte, from PacketAddr)

// OnPacket calls f.
func (f PacketFunc) OnPacket(pc *PacketConn, data []byte, from PacketAddr) { f(pc, data, from) }

// PacketConn is a datagram socket served by one loop: one of the sockets
// of a ListenPacket, or a DialPacket's connected socket.
//
// WriteTo, Write, Close, Data and SetData must be called on the owning
// loop (from OnPacket, a timer, or a Loop.Do function); AsyncWriteTo and
// AsyncClose are safe from any goroutine.
type PacketConn struct {
	loop   *Loop
	sock   *evsel.Socket
	fd     int
	h      PacketHandler
	path   bool // a Unix datagram socket: peers are paths
	local  net.Addr
	remote net.Addr // nil unless connected
	data   any
	events evsel.Events
	closed atomic.Bool

	// Unsent datagrams: their bytes in arena, in order from head.
	arena []byte
	queue []pendingDatagram
	head  int
	kept  int  // what arena and queue hold while empty, in packetLoop.kept
	dirty bool // in the loop's list of sockets to flush
	// flushed and watched are the packetLoop.rounds in which the end of
	// an iteration last flushed the socket, and last set its interest
	// after a flush: each is done there once per round (flushPackets).
	flushed, watched uint64
}

type pendingDatagram struct {
	start, end int
	to         PacketAddr
}

// Loop returns the loop that owns the socket.
func (pc *PacketConn) Loop() *Loop { return pc.loop }

// LocalAddr is the socket's address: a *net.UDPAddr, or a *net.UnixAddr of
// Net "unixgram".
func (pc *PacketConn) LocalAddr() net.Addr { return pc.local }

// RemoteAddr is the connected peer of a DialPacket socket, nil for a
// ListenPacket one.
func (pc *PacketConn) RemoteAddr() net.Addr { return pc.remote }

// Data returns what SetData stored.
func (pc *PacketConn) Data() any { return pc.data }

// SetData stores per-socket state for the handler.
func (pc *PacketConn) SetData(v any) { pc.data = v }

// ListenPacket serves a datagram address ("host:port" for "udp", "udp4",
// "udp6"; a path for "unixgram") with h and returns the bound address
// (useful with port 0). For "udp" an address with no host (":53") or
// "[::]" takes IPv4 and IPv6 peers on one dual-stack socket, as for
// Listen; an IPv4 sender is then given unmapped (PacketAddr) and
// answered as one. On Linux a UDP address gets one SO_REUSEPORT
// socket per loop, so that the kernel spreads the datagrams over the
// loops by their source; elsewhere, and for "unixgram", one socket is
// served by one loop. Replies written with WriteTo leave in batches at the
// end of each loop iteration (sendmmsg on Linux). Like Listen, it waits
// for the loops, so on a loop it returns ErrOnLoop.
func (e *Engine) ListenPacket(network, address string, h PacketHandler) (net.Addr, error) {
	if h == nil {
		return nil, errNoPacketHandler
	}
	if e.stopping.Load() {
		return nil, ErrStopped
	}
	if e.OnLoopGoroutine() {
		return nil, ErrOnLoop
	}
	spread := reusePortSpreadsDatagrams && network != "unixgram" && len(e.loops) > 1
	// DualStack: ":port" takes IPv6 peers too, as Listen's does.
	control, refused := e.opts.listenControl()
	lc := evsel.ListenConfig{ReusePort: spread, DualStack: true, Control: control}
	first, err := lc.ListenPacket(network, address)
	if err != nil && spread && !*refused {
		// No SO_REUSEPORT here (a kernel before 3.9): one socket, as Listen.
		spread, lc.ReusePort = false, false
		first, err = lc.ListenPacket(network, address)
	}
	if err != nil {
		return nil, err
	}
	addr, socks, err := e.openPerLoop(first, spread, func(at string) (*evsel.Socket, error) {
		return lc.ListenPacket(network, at)
	})
	if err != nil {
		return nil, err
	}
	start := 0
	if !spread {
		start = int(e.next.Add(1) % uint64(len(e.loops)))
	}
	var added []*PacketConn
	for i, s := range socks {
		e.opts.socketBuffers(s)
		pc := &PacketConn{loop: e.loops[(start+i)%len(e.loops)], sock: s, fd: int(s.Fd()), h: h,
			path: network == "unixgram", local: addr}
		l := pc.loop
		err := e.onLoop(l, func() error { return l.addPacket(pc) })
		if err != nil {
			for _, s := range socks[i:] {
				s.Close()
			}
			for _, pc := range added {
				pc.AsyncClose()
			}
			return nil, err
		}
		added = append(added, pc)
	}
	e.mu.Lock()
	e.addrs = append(e.addrs, addr)
	e.mu.Unlock()
	return addr, nil
}

// ServePacket serves a datagram socket the caller made (bound, or
// connected, with evsel's calls; adopted from another process) with h on
// one of the loops, and takes it over: the engine closes it. Like
// ListenPacket it waits for the loop, so on a loop it returns ErrOnLoop.
func (e *Engine) ServePacket(s *evsel.Socket, h PacketHandler) (*PacketConn, error) {
	if h == nil {
		return nil, errNoPacketHandler
	}
	if e.stopping.Load() {
		return nil, ErrStopped
	}
	if e.OnLoopGoroutine() {
		return nil, ErrOnLoop
	}
	local, err := s.LocalAddr()
	if err != nil {
		return nil, err
	}
	if local.Network() != "udp" && local.Network() != "unixgram" {
		return nil, errors.New("loop: ServePacket: not a datagram socket (" + local.Network() + ")")
	}
	remote, _ := s.RemoteAddr() // nil unless connected
	l := e.loops[e.next.Add(1)%uint64(len(e.loops))]
	pc := &PacketConn{loop: l, sock: s, fd: int(s.Fd()), h: h, path: local.Network() == "unixgram",
		local: local, remote: remote}
	if err := e.onLoop(l, func() error { return l.addPacket(pc) }); err != nil {
		return nil, err
	}
	return pc, nil
}

// DialPacket opens a datagram socket connected to address ("host:port"
// for "udp", "udp4", "udp6"; a path for "unixgram") and serves it with h
// on one of the loops: it receives only the peer's datagrams, and Write
// sends to the peer. A datagram connect completes at once, so DialPacket
// returns the socket without waiting for the loop; ctx bounds only the
// resolution of a host name, which runs on the caller's goroutine. Safe
// from any goroutine, but on a loop only with a numeric address (a host
// name returns ErrOnLoop rather than stall the loop): from outside the
// owning loop, write with AsyncWriteTo. A "unixgram" socket is bound to
// no path, so the peer cannot answer it, unless WithLocalAddr names one.
//
// Of the DialOptions, WithLocalAddr binds the socket first (the source
// address or port, or the client's path), WithControl is called for it
// before that, WithData sets its Data, WithLoop chooses its loop; WithTLS
// is refused (there is no DTLS).
func (e *Engine) DialPacket(ctx context.Context, network, address string, h PacketHandler, opts ...DialOption) (*PacketConn, error) {
	if h == nil {
		return nil, errNoPacketHandler
	}
	if e.stopping.Load() {
		return nil, ErrStopped
	}
	var o dialOptions
	for _, opt := range opts {
		opt(&o)
	}
	if o.tls != nil {
		return nil, errors.New("loop: DialPacket: WithTLS is for streams (no DTLS)")
	}
	l := e.loops[e.next.Add(1)%uint64(len(e.loops))]
	if o.loop != nil {
		var err error
		if l, err = o.loopFor(e); err != nil {
			return nil, err
		}
	}
	if network != "unixgram" {
		resolved, err := e.resolvePacket(ctx, network, address)
		if err != nil {
			return nil, err
		}
		address = resolved
	}
	s, err := evsel.DialConfig{LocalAddr: o.local, Control: o.control}.DialPacket(network, address)
	if err != nil {
		return nil, err
	}
	e.opts.socketBuffers(s)
	local, _ := s.LocalAddr()
	remote, _ := s.RemoteAddr()
	pc := &PacketConn{loop: l, sock: s, fd: int(s.Fd()), h: h, path: network == "unixgram",
		local: local, remote: remote, data: o.data}
	err = l.Do(func() {
		if pc.closed.Load() {
			// Closed on its loop before this ran: its descriptor is gone,
			// maybe some other socket's number already.
			return
		}
		if err := l.addPacket(pc); err != nil {
			pc.Close() // sends or counts what was written on the loop meanwhile
			l.packetError(pc, err)
		}
	})
	if err != nil {
		s.Close()
		return nil, err
	}
	return pc, nil
}

// resolvePacket turns a host name into a numeric address with the
// engine's resolver, under ctx.
func (e *Engine) resolvePacket(ctx context.Context, network, address string) (string, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return "", err
	}
	if host == "" {
		return address, nil
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return address, nil
	}
	if e.OnLoopGoroutine() {
		// The socket is returned at once, so the lookup would run right
		// here and stall every connection of the loop meanwhile.
		return "", fmt.Errorf("loop: DialPacket resolves %q on the calling goroutine: %w", host, ErrOnLoop)
	}
	ipNet := map[string]string{"udp": "ip", "udp4": "ip4", "udp6": "ip6"}[network]
	if ipNet == "" {
		return "", errors.New("loop: unsupported network " + strconv.Quote(network))
	}
	ips, err := e.lookupIP(ctx, ipNet, host)
	if err != nil {
		return "", err
	}
	if len(ips) == 0 {
		return "", &net.AddrError{Err: "no suitable address", Addr: host}
	}
	// IPv4 first, as evsel.Resolve orders them.
	slices.SortStableFunc(ips, func(a, b netip.Addr) int {
		return boolCmp(!a.Unmap().Is4(), !b.Unmap().Is4())
	})
	return net.JoinHostPort(ips[0].Unmap().String(), port), nil
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}
