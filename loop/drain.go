package loop

import (
	"time"

	"github.com/evsel/evsel"
)

// The drain: a lingering close, as nginx's lingering_close and net/http's
// closeWriteAndWait do it. A graceful close whose output has all gone to
// the kernel does not close the socket at once when the peer may still be
// sending: a close with unread input, or input that arrives after it,
// makes the kernel answer with a reset, which throws away whatever of the
// output the peer has not yet received. A hostile pass measured it: a
// client that pipelined 50 requests, a malformed one and 50 more before
// reading got 16 to 18 of the 50 answers the server had written, then
// ECONNRESET; a 900 KB answer followed by requests the server ignores
// arrived as 128 KB and a reset.
//
// So when the peer is sending still, the loop shuts the sending side down
// (the peer reads the output, then the end of the stream), keeps reading
// and discards what arrives, and closes at the peer's own end of stream,
// an error, or drainTimeout after the drain began, whichever is first.
// OnClose runs then, as for any close that waits for its output.
//
// "Sending still" is judged when the output has gone: bytes unread in the
// kernel, which a close would answer with a reset. (Input the handler left
// unconsumed was read from the kernel already: it causes none.) A close
// after an exchange that ended (the usual request, answer, close) closes
// at once, as before, so neither a server's descriptors nor Stop wait for
// peers that keep their end open. A peer that had ended its side is not
// drained either: nothing more can come from it. What this leaves is a
// peer whose bytes are still on the wire when the output has gone: a
// reset then, as before the drain.

// drainTimeout bounds a drain. By then the peer has had the time to read
// what the kernel held for it and close; a close after it resets only if
// the peer sends more still.
const drainTimeout = 2 * time.Second

// startDrain begins the drain of a closing connection whose output is all
// in the kernel, if the peer is sending still; one that need not or cannot
// be drained is left for settle to finish at once. HasUnread says no for a
// connection with no socket yet (the zero Socket has no descriptor) and
// for one still connecting; flagEOF only spares the question, since a
// read that saw the end of the stream left nothing unread.
func (l *Loop) startDrain(c *Conn) {
	if c.flags&flagEOF != 0 || (c.aux != nil && c.aux.resetOnClose) || !c.sock.HasUnread() {
		// SetLinger(0) asked for a reset: the drain, which exists so that
		// the peer reads the output before a reset, would send a FIN
		// first and keep the connection up to two seconds.
		return
	}
	if c.aux == nil || !c.aux.writeShut { // else CloseWrite did it
		if err := c.sock.Shutdown(evsel.ShutWrite); err != nil {
			return
		}
	}
	c.flags |= flagDraining
	c.active = l.clock // the drain's deadline counts from here
	l.ensureIdleSweep(drainTimeout)
	// Input the handler left is never read now: not held for the drain.
	c.in = nil
	c.flags &^= flagShared
}

// discardInput reads what the peer sent to a draining connection and
// drops it, once per readiness report (level-triggered, as read). The
// peer's end of stream or an error ends the drain, and settle finishes
// the connection.
func (l *Loop) discardInput(c *Conn) {
	_, err := c.sock.TryRead(l.buf)
	switch {
	case err == nil, err == evsel.ErrWouldBlock:
	default: // io.EOF, or a reset: nothing more will come
		c.closeWith(nil, true) // closing for the reason it had
	}
}
