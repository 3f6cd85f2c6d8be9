package loop

import (
	"io"

	"github.com/evsel/evsel"
)

// Half-closes, both ways. A TCP peer may end its side of the stream and
// still read (the Python socket HOWTO's client that sends its request,
// then shutdown(SHUT_WR), then reads the answer; `nc -N`; a proxy passing
// one side's end on), and a server may have to answer after that end,
// from another goroutine or a timer, or only once it knows the request is
// whole because the stream ended. Without an EOFHandler the engine
// closes at the peer's end once the pending output is sent, as gnet and
// nbio do; with one the connection stays open for writing. CloseWrite is
// the other direction: end ours, go on reading.

// EOFHandler is implemented by a Handler that serves half-closed
// connections. OnEOF(c) is called on c's loop when the peer has ended its
// side of the stream (a TCP FIN; on TLS, its close_notify), after the
// OnData of every byte that came before it. What the handler left
// unconsumed is still in c.Inbound() (a message the end cut short). c is
// not read any more, but stays open for writing, from the callback or
// later (AsyncWrite, Do, timers), until the handler closes it, an error
// (the peer's reset, seen when c next writes: c is not watched for
// reading) or a deadline does: Options.IdleTimeout is what bounds a
// handler that never does. OnClose then reports io.EOF, the
// peer's end having come first, unless an error did. A connection whose
// own side CloseWrite has shut, or which is closing, closes at the peer's
// end without OnEOF.
//
// Funcs implements it: its EOF function, or without one a Close, which is
// what the engine does for a Handler without OnEOF.
type EOFHandler interface {
	OnEOF(c *Conn)
}

// OnEOF calls f.EOF if set, else closes c once its output is sent.
func (f Funcs) OnEOF(c *Conn) {
	if f.EOF != nil {
		f.EOF(c)
		return
	}
	c.Close()
}

// peerEOF acts on the end of c's input stream: the handler's OnEOF if it
// has one, else a close once the output is out.
func (l *Loop) peerEOF(c *Conn) {
	c.flags |= flagEOF // no more reads (noRead): settle stops watching READ
	c.flags &^= flagAwaitFirst
	if l.e.eof == nil || c.flags&(flagClosing|flagCloseNow|flagWriteShut) != 0 {
		c.closeWith(io.EOF, false)
		return
	}
	c.markDirty()
	l.callEOF(c)
}

func (l *Loop) callEOF(c *Conn) {
	defer l.recoverPanic(c)
	l.e.eof.OnEOF(c)
}

// CloseWrite ends c's side of the stream once its pending output,
// SendFile's files included, is sent, as net.TCPConn's CloseWrite does:
// the peer reads the output, then the end of the stream, and c goes on
// being read. On TLS a close_notify goes before the end (a TLS 1.3 peer may
// go on sending after it; many TLS 1.2 peers close). Writes after it return
// ErrClosed (AsyncWrite's, which return before the loop writes them, are
// dropped). When the peer ends its side too, c closes (OnClose with
// io.EOF); Close, Abort and the deadlines work as on any connection, and
// Options.IdleTimeout bounds a peer that never ends its side. On a Dial'd
// connection not yet open the end waits for the connect (and handshake).
// After OnEOF, with both sides then ended, it is Close. It returns
// ErrClosed if c is closed or closing. Call it on c's loop.
func (c *Conn) CloseWrite() error {
	if c.flags&(flagClosing|flagCloseNow) != 0 || c.closed.Load() {
		return ErrClosed
	}
	if c.flags&flagEOF != 0 {
		c.closeWith(nil, false)
		return nil
	}
	c.flags |= flagWriteShut
	c.markDirty()
	return nil
}

// shutWrite is settle's part of CloseWrite: once nothing is left to send
// and the connection is up, the close_notify of a TLS connection is
// queued and sent, and then the socket's sending side is shut down.
func (l *Loop) shutWrite(c *Conn) {
	a := c.extra()
	if a.writeShut || c.flags&(flagDialing|flagNoSock|flagHandshake|flagFile) != 0 {
		return
	}
	if c.flags&flagTLS != 0 {
		c.tlsCloseNotify() // once; nothing if crypto/tls cannot
		if c.flushable() {
			l.drv.flush(c)
		}
	}
	if c.outLen > 0 || c.flags&flagSending != 0 {
		return // settle comes back when the output has gone
	}
	a.writeShut = true
	if err := c.sock.Shutdown(evsel.ShutWrite); err != nil {
		c.fail(err)
	}
}
