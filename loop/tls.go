package loop

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime/debug"
	"time"

	"github.com/evsel/evsel"
)

// TLS on the loop, with the standard library's crypto/tls unchanged:
//
//   - The handshake is sequential code, so it runs as tls.Server or
//     tls.Client over an in-memory transport (tlsTransport) that the loop
//     feeds, on a goroutine from a bounded pool (tls_pool.go). A
//     connection waiting for a free slot holds no goroutine.
//   - Once the handshake is done the loop reads and writes records itself,
//     with no goroutine: the transport's Read returns a net.Error whose
//     Temporary() is true when it has nothing more, and crypto/tls keeps its
//     state on such an error (readRecordOrCCS does not record it as the
//     connection's error; readFromUntil keeps the partial record), so the
//     next Read, once more bytes arrived, carries on where it stopped.
//     TestTLSTemporaryReadContract pins that.
//   - Conn.Write encrypts at once into the connection's output queue, which
//     never blocks.

// ErrTLSHandshakeTimeout is wrapped by the TLSHandshakeError of a connection
// whose handshake did not finish within Options.TLSHandshakeTimeout (the wait
// for a free handshake slot included). It matches os.ErrDeadlineExceeded with
// errors.Is and its Timeout method reports true, for os.IsTimeout and
// net.Error.
var ErrTLSHandshakeTimeout error = newTimeoutError("loop: TLS handshake timed out")

// ErrTLSHandshakeStalled is wrapped by the TLSHandshakeError of an accepted
// connection whose peer kept its handshake waiting for more than a fortieth of
// Options.TLSHandshakeTimeout (250 ms by default, and at least that unless the
// timeout is under 1 s) while another connection waited for a handshake slot
// (Options.MaxTLSHandshakes): it gave its slot up. It matches
// os.ErrDeadlineExceeded with errors.Is and its Timeout method reports true,
// for os.IsTimeout and net.Error.
var ErrTLSHandshakeStalled error = newTimeoutError("loop: TLS handshake stalled by its peer while others waited")

// ErrTLSNoCloseNotify is the close reason of a TLS connection whose peer
// closed the TCP connection without sending close_notify first, so the end
// of the data cannot be told from a truncation. It matches
// io.ErrUnexpectedEOF with errors.Is.
var ErrTLSNoCloseNotify = fmt.Errorf("loop: TLS peer closed without close_notify: %w", io.ErrUnexpectedEOF)

// TLSHandshakeError is the close reason of a connection whose TLS handshake
// failed. Err is crypto/tls's own error where it has one, so errors.As
// finds tls.RecordHeaderError, tls.AlertError, *tls.CertificateVerificationError
// and the like through it; or ErrTLSHandshakeTimeout, or the I/O error; or a
// *PanicError when one of the tls.Config's callbacks (GetCertificate,
// VerifyPeerCertificate...) panicked, which fails that handshake only.
type TLSHandshakeError struct {
	Err error
}

// Error says that the handshake failed, and why.
func (e *TLSHandshakeError) Error() string { return "loop: TLS handshake: " + e.Err.Error() }

// Unwrap returns the cause.
func (e *TLSHandshakeError) Unwrap() error { return e.Err }

// Timeout reports whether the handshake ran out of time (its timeout, or
// its stall: ErrTLSHandshakeTimeout, ErrTLSHandshakeStalled), as a
// net.OpError reports its cause's, for os.IsTimeout and net.Error.
func (e *TLSHandshakeError) Timeout() bool { return timesOut(e.Err) }

// Temporary reports what Timeout does, as net's deadline error does.
func (e *TLSHandshakeError) Temporary() bool { return timesOut(e.Err) }

// tlsState is what a TLS connection keeps, in connAux.
type tlsState struct {
	c        *Conn
	cfg      *tls.Config
	client   bool
	tc       *tls.Conn
	tr       *tlsTransport
	timer    *Timer // the handshake deadline
	pre      []byte // plaintext written before the handshake finished
	done     bool   // handshake finished: records are read and written on the loop
	broken   bool   // crypto/tls failed: no close_notify may follow
	notified bool   // the peer's close_notify was read (tlsInput)

	submitted bool // handed to the handshake pool
	heard     bool // the peer sent something during the handshake

	// The record deadline (tls_record.go).
	scan        recordScan // every byte crypto/tls has read, from the first
	recordSince int64      // loop clock when the incomplete record began, 0 if none
	recordSeen  uint32     // scan.records when recordSince was set
	recordTimer *Timer
}

// ListenTLS is Listen for TLS: every connection accepted on address does a
// TLS handshake with cfg as the server before the handler hears of it.
// OnOpen is called only once the handshake has succeeded; a connection whose
// handshake fails is closed and logged once (not one that closes without
// sending a byte, as health checks do), and the handler hears nothing of it
// (no OnOpen, no OnClose). After that the handler sees plaintext in
// Inbound, Write encrypts, Conn.TLS reports the negotiated state, and Close
// sends close_notify after the pending output. cfg must not be modified
// afterwards; it needs Certificates, GetCertificate or GetConfigForClient.
func (e *Engine) ListenTLS(network, address string, cfg *tls.Config) (net.Addr, error) {
	if cfg == nil || (len(cfg.Certificates) == 0 && cfg.GetCertificate == nil && cfg.GetConfigForClient == nil) {
		return nil, errors.New("loop: ListenTLS needs a tls.Config with a certificate")
	}
	return e.listen(network, address, guardKeyLog(cfg))
}

// WithTLS makes Dial do a TLS handshake with cfg as the client once
// connected; OnOpen follows the handshake, and a failed handshake ends in
// OnClose with a *TLSHandshakeError. If cfg has no ServerName (and does not
// skip verification), the host of Dial's address is used, as tls.Dial does.
// Writes made before the handshake finishes are encrypted and sent once it
// has; a Close before then drops them. Dial's ctx bounds the connect only;
// Options.TLSHandshakeTimeout bounds the handshake. A server's request to
// renegotiate (TLS 1.2) is refused whatever cfg.Renegotiation says: the
// connection closes with crypto/tls's no_renegotiation error.
func WithTLS(cfg *tls.Config) DialOption { return func(o *dialOptions) { o.tls = cfg } }

// dialTLS prepares a dialing connection for TLS.
func (c *Conn) dialTLS(cfg *tls.Config, address string) {
	cfg = guardKeyLog(cfg)
	if cfg.ServerName == "" && !cfg.InsecureSkipVerify {
		if host, _, err := net.SplitHostPort(address); err == nil {
			cfg = cfg.Clone()
			cfg.ServerName = host
		}
	}
	if cfg.Renegotiation != tls.RenegotiateNever {
		// A renegotiation is a handshake that crypto/tls runs inside Read,
		// here on the loop, over a transport that says "nothing more" as
		// soon as a read's bytes are taken: crypto/tls kept that as the
		// handshake's error and returned it from every Read and Write
		// after, so the connection hung with the server's bytes dropped.
		// Refused, it closes with crypto/tls's own error, as by default.
		cfg = cfg.Clone()
		cfg.Renegotiation = tls.RenegotiateNever
	}
	c.flags |= flagTLS
	c.extra().tls = &tlsState{c: c, cfg: cfg, client: true}
}

// guardKeyLog returns cfg, or a copy of it whose KeyLogWriter turns a
// panic into an error. crypto/tls writes every key log under one
// process-wide mutex that it unlocks without defer: a KeyLogWriter panic
// recovered above it (handshake, tlsDecrypt) left that mutex locked, and
// every later handshake with a key log, in this engine or anywhere in the
// process, blocked on it for ever, holding its handshake goroutine. As an
// error it fails its handshake only, with the *PanicError tlsFailed logs.
// A config that GetConfigForClient returns is not covered: copying it per
// handshake would give each its own session ticket keys.
func guardKeyLog(cfg *tls.Config) *tls.Config {
	if cfg.KeyLogWriter == nil {
		return cfg
	}
	if _, ok := cfg.KeyLogWriter.(keyLogGuard); ok {
		return cfg
	}
	cfg = cfg.Clone()
	cfg.KeyLogWriter = keyLogGuard{cfg.KeyLogWriter}
	return cfg
}

// keyLogGuard is a KeyLogWriter that recovers its writer's panics (see
// guardKeyLog).
type keyLogGuard struct{ w io.Writer }

func (g keyLogGuard) Write(p []byte) (n int, err error) {
	defer func() {
		if r := recover(); r != nil {
			n, err = 0, &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	return g.w.Write(p)
}

// acceptTLS prepares an accepted connection for TLS.
func (c *Conn) acceptTLS(cfg *tls.Config) {
	c.flags |= flagTLS
	c.aux = &connAux{}
	c.aux.tls = &tlsState{c: c, cfg: cfg}
}

// TLS returns the connection's TLS state (version, cipher suite, ALPN
// protocol, peer certificates...) and true once its handshake has
// succeeded; false for a plaintext connection or before then.
func (c *Conn) TLS() (tls.ConnectionState, bool) {
	if c.flags&flagTLS == 0 || c.aux == nil || c.aux.tls == nil || !c.aux.tls.done {
		return tls.ConnectionState{}, false
	}
	return c.aux.tls.tc.ConnectionState(), true
}

// tlsStart begins the handshake of a connection that is up.
func (l *Loop) tlsStart(c *Conn) {
	st := c.aux.tls
	c.flags |= flagHandshake
	st.tr = &tlsTransport{st: st, wake: make(chan struct{}, 1), local: c.LocalAddr(), remote: c.RemoteAddr()}
	if st.client {
		st.tc = tls.Client(st.tr, st.cfg)
	} else {
		st.tc = tls.Server(st.tr, st.cfg)
	}
	st.timer = l.AfterFunc(l.e.opts.TLSHandshakeTimeout, func() {
		if c.flags&flagHandshake != 0 && !c.closed.Load() {
			l.tlsFailed(c, ErrTLSHandshakeTimeout, true)
		}
	})
	if st.client {
		st.submitted = true
		l.e.clientHandshakes.submit(l.e, st)
	}
	// A server's handshake waits for a whole first record (the ClientHello)
	// before it takes a goroutine (see readTLS): a peer that connects and
	// says nothing holds none. Clients take theirs from a pool of their
	// own, since a client's handshake waits on its server, which may be
	// this engine, or one whose clients wait on this engine: sharing
	// slots, waiting clients could hold every one their servers need, for
	// as long as TLSHandshakeTimeout.
}

// tlsFailed closes a connection whose handshake failed, logging it once.
func (l *Loop) tlsFailed(c *Conn, err error, now bool) {
	if c.flags&flagHandshake == 0 {
		return // failed already
	}
	c.flags &^= flagHandshake
	c.aux.tls.broken = true
	l.stats.tlsFailed.Add(1)
	if perr, ok := err.(*PanicError); ok { // a tls.Config callback's (see handshake)
		l.e.log.Error("loop: handler panic", "loop", l.id, "remote", c.RemoteAddr(),
			"panic", perr.Value, "stack", string(perr.Stack))
	} else {
		l.e.log.Warn("loop: TLS handshake failed", "loop", l.id, "remote", c.RemoteAddr(), "err", err)
	}
	// Graceful unless timed out, so that the alert crypto/tls queued goes out.
	c.closeWith(&TLSHandshakeError{Err: err}, now)
}

// tlsBroke closes a connection whose socket failed during its handshake
// (a reset, a write error): the handshake failed with it, so the reason is
// a *TLSHandshakeError, logged once and counted, as WithTLS promises a
// dialer (it had OnClose with the bare error, which errors.As could not
// tell from a failure after OnOpen). An accepted connection reset before
// it sent a byte is a probe, as one closed so (see tlsReceived): health
// checkers often end with a reset; it is not logged.
func (l *Loop) tlsBroke(c *Conn, err error) {
	if st := c.aux.tls; !st.client && !st.heard {
		c.flags &^= flagHandshake
		c.closeWith(&TLSHandshakeError{Err: err}, true)
		return
	}
	l.tlsFailed(c, err, true)
}

// tlsHandshakeDone runs on the loop when the handshake goroutine is done.
func (l *Loop) tlsHandshakeDone(c *Conn, err error) {
	st := c.aux.tls
	st.timer.Stop()
	if err != nil {
		l.tlsFailed(c, err, false)
		return
	}
	c.flags &^= flagHandshake | flagHsFull
	st.done = true
	st.tr.toLoop()
	c.holdHandshaken()
	l.stats.tlsHandshakes.Add(1)
	if c.flags&flagClosing != 0 {
		// Closed while handshaking (Stop, a dial given up): say nothing,
		// and send nothing written meanwhile, files included.
		c.dropFiles()
		return
	}
	if len(st.pre) > 0 {
		pre := st.pre
		st.pre = nil
		if _, err := c.writeTLS(pre); err != nil {
			return
		}
	}
	l.open(c)
	if !c.closed.Load() && c.flags&flagCloseNow == 0 {
		// Application data may have come with the end of the handshake.
		l.tlsInput(c)
	}
	// The socket's EOF came during the handshake, with no close_notify
	// before it. Not after one that came with the handshake's end:
	// OnEOF has had it (halfclose.go) and flagEOF without flagClosing is
	// then an open half-closed connection, not a truncation.
	if c.flags&(flagEOF|flagClosing) == flagEOF && !st.notified && !c.holdEnd(heldEOF) {
		c.closeWith(ErrTLSNoCloseNotify, false)
	}
}

// readTLS is read for a TLS connection: the socket's bytes go to crypto/tls
// (or to the handshake goroutine), and the plaintext to Inbound.
func (l *Loop) readTLS(c *Conn) {
	n, err := c.sock.TryRead(l.buf)
	if err == evsel.ErrWouldBlock {
		return
	}
	l.tlsReceived(c, l.buf[:n], err)
}

// tlsReceived takes what a read of a TLS connection brought: bytes p, or
// the error that ended it (io.EOF for the peer's close). The readiness
// driver reads into the loop's buffer, the completion driver hands over a
// provided buffer; either way p is only borrowed, for the duration of the
// call.
func (l *Loop) tlsReceived(c *Conn, p []byte, err error) {
	n := len(p)
	st := c.aux.tls
	switch {
	case err == nil:
	case err == io.EOF:
		c.flags |= flagEOF // settle stops watching READ
		if !st.done && !st.client && !st.submitted {
			if !st.heard {
				// Connected and left without a byte: a port probe or a load
				// balancer's health check, not a handshake worth a log line.
				c.flags &^= flagHandshake
				c.closeWith(&TLSHandshakeError{Err: io.EOF}, false)
				return
			}
			l.tlsFailed(c, io.ErrUnexpectedEOF, false) // no goroutine to tell
			return
		}
		if !st.done {
			// The handshake's own error (the alert that came before the
			// EOF, say) makes the better reason: let it end first.
			st.tr.feedEOF()
			return
		}
		if c.flags&flagClosing != 0 {
			// Closing already (the completion driver's receive may end
			// after the close began): what the peer might have sent after
			// it is not wanted, so a missing close_notify truncates
			// nothing, and the close's own reason stands.
			return
		}
		// A close_notify would have been seen by the read that brought it:
		// every read drains what crypto/tls can decrypt.
		c.closeWith(ErrTLSNoCloseNotify, false)
		return
	default:
		c.fail(err)
		return
	}
	l.received(c, n)
	if !st.done {
		st.heard = true
		ready, full := st.tr.feed(p)
		if full {
			c.flags |= flagHsFull // see handshakeInputLimit
		}
		if ready && !st.submitted {
			st.submitted = true
			l.e.handshakes.submit(l.e, st)
		}
		return
	}
	st.tr.in = p // taken by crypto/tls before tlsInput returns
	l.tlsInput(c)
	st.tr.in = nil
}

// tlsInput decrypts every complete record crypto/tls has or can take from
// the transport, hands the plaintext to OnData, and acts on close_notify
// and errors.
func (l *Loop) tlsInput(c *Conn) {
	st := c.aux.tls
	if len(c.in) == 0 {
		if l.plain == nil {
			l.plain = make([]byte, max(len(l.buf), 2*minRead))
		}
		c.in = l.plain[:0]
		c.flags |= flagShared
	}
	got := len(c.in)
	panicked, fault := l.tlsDecrypt(c)
	if len(c.in) > got && !panicked {
		l.callData(c)
	}
	l.keepInput(c) // even closing: c.in may alias the loop's buffer, which OnClose could see
	switch {
	case panicked: // closed by handlerPanicked
	case fault == nil:
		if c.flags&flagClosing == 0 {
			l.tlsRecordDeadline(c)
		}
	case fault == io.EOF && c.holdEnd(heldCloseNotify): // the plaintext before it waits (flow.go)
		st.notified = true
	case fault == io.EOF: // the peer's close_notify
		st.notified = true
		l.peerEOF(c)
	default:
		st.broken = true
		c.closeWith(fault, false) // the alert crypto/tls queued goes out first
	}
}

// tlsDecrypt reads into c.in every record crypto/tls can decrypt, and
// returns the error that stopped it (nil when it wants more input).
// crypto/tls calls the application's code here too: a client's
// tls.Config.ClientSessionCache.Put for a TLS 1.3 session ticket, which
// servers send after the handshake, and Config.Time. A panic there closes
// this connection, as a handler's panic does (panicked), where on the loop
// it took the process down.
func (l *Loop) tlsDecrypt(c *Conn) (panicked bool, fault error) {
	defer func() {
		if r := recover(); r != nil {
			c.aux.tls.broken = true // crypto/tls is in no state to send close_notify
			l.handlerPanicked(c, r)
			panicked, fault = true, nil
		}
	}()
	st := c.aux.tls
	for {
		if cap(c.in)-len(c.in) < minRead {
			grown := make([]byte, len(c.in), max(2*cap(c.in), len(c.in)+len(l.buf)))
			copy(grown, c.in)
			c.in = grown
			c.flags &^= flagShared
		}
		n, err := st.tc.Read(c.in[len(c.in):cap(c.in)])
		c.in = c.in[:len(c.in)+n]
		if err != nil {
			if err != errTLSWouldBlock {
				return false, err
			}
			return false, nil
		}
	}
}

// writeTLS is Write on a TLS connection: encrypt into the output queue,
// or keep the plaintext until the handshake is done.
func (c *Conn) writeTLS(p []byte) (int, error) {
	n, err := c.sealTLS(p)
	if err != nil {
		return n, err
	}
	return n, c.checkOutput()
}

// sealTLS is writeTLS without the MaxOutput check of what is queued once
// the handshake is done: for bytes admitted earlier (sendfile.go).
func (c *Conn) sealTLS(p []byte) (int, error) {
	st := c.aux.tls
	if !st.done {
		if len(st.pre)+len(p) > c.loop.e.opts.MaxOutput {
			c.closeWith(ErrOutputOverflow, true) // the application's, not the handshake's
			return 0, ErrOutputOverflow
		}
		st.pre = append(st.pre, p...)
		return len(p), nil
	}
	n, err := st.tc.Write(p)
	if err != nil {
		st.broken = true
		c.fail(err)
	}
	return n, err
}

// tlsCloseNotify sends close_notify on a graceful close; it follows the
// pending output since Write encrypts into the queue at once.
func (c *Conn) tlsCloseNotify() {
	st := c.aux.tls
	if st.done && !st.broken {
		st.broken = true // once
		_ = st.tc.CloseWrite()
		st.tr.shut = true // and nothing after it (tlsTransport.Write)
	}
}

// tlsFinish releases a closing TLS connection's handshake resources.
func (c *Conn) tlsFinish() {
	st := c.aux.tls
	if st.timer != nil {
		st.timer.Stop()
	}
	if st.recordTimer != nil {
		st.recordTimer.Stop()
	}
	if st.tr != nil {
		st.tr.close()
	}
	st.pre = nil
}

// tlsReported says whether the handler hears of a closing TLS connection:
// not of an accepted one whose handshake failed, since it never saw it open.
func (c *Conn) tlsReported() bool {
	return c.aux.tls.client || c.flags&flagOpen != 0
}

// defaultTLSHandshakeTimeout and defaultMaxTLSHandshakes are the defaults of
// the Options of the same names.
const (
	defaultTLSHandshakeTimeout = 10 * time.Second
	defaultMaxTLSHandshakes    = 1024
)
