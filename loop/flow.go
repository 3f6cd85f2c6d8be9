package loop

// Flow control the handler drives. The engine's own backpressure stops
// reading a connection whose output passed HighWater; these let a handler
// stop reading one connection because of another, as a proxy must: while
// the side it writes to cannot take more, it stops reading the side it
// copies from, and resumes when the first has drained. Without them its
// choices were to buffer without bound (until MaxOutput closes the slow
// side) or to drop.
//
// A proxy whose two connections share a loop (a backend dialed WithLoop
// of the client's, say):
//
//	func (p *proxy) OnData(c *Conn) {
//		other := c.Data().(*Conn)
//		other.Write(c.Inbound())
//		c.Consume(len(c.Inbound()))
//		if other.Buffered() > mark { // a mark above Options.LowWater
//			c.PauseReading()
//			other.NotifyDrained()
//		}
//	}
//
//	func (p *proxy) OnDrained(c *Conn) { c.Data().(*Conn).ResumeReading() }
//
// Across loops the same calls go through Conn.Do.

// DrainHandler is implemented by a Handler that wants OnDrained:
// after NotifyDrained, OnDrained(c) is called once c's pending output is
// at or below Options.LowWater (so a handler pausing another connection
// at a mark of its own wants that mark above LowWater).
type DrainHandler interface {
	OnDrained(c *Conn)
}

// PauseReading stops reading c until ResumeReading: OnData is not called
// (Wake's included, which waits for ResumeReading), and what the peer
// sends waits in the kernel, whose flow control then slows the peer.
// Input already in Inbound stays there. Deadlines keep running (a
// connection paused for longer than its idle timeout is closed as idle),
// as does the engine's own backpressure, which ResumeReading does not
// override. A TLS handshake under way goes on: the pause begins when it
// ends, before OnOpen. Call it on c's loop (a callback, a timer, Conn.Do).
func (c *Conn) PauseReading() {
	if c.aux != nil {
		c.aux.resuming = false // a ResumeReading still queued is undone
	}
	if c.flags&flagTLS != 0 && !c.aux.tls.done {
		c.aux.holdAfterHandshake = true
		return
	}
	if c.flags&flagHeld == 0 {
		c.flags |= flagHeld
		c.markDirty()
	}
}

// ResumeReading undoes PauseReading. If input is waiting in Inbound (left
// unconsumed, or received while the pause took effect) or a Wake came
// meanwhile, OnData follows on the loop's next turn, before anything read
// later, and ReadingPaused reports true until then; so does the end of a
// stream that came meanwhile (OnEOF, or the close), after that OnData, or
// after the next ResumeReading's if that OnData paused again. Call it on
// c's loop.
func (c *Conn) ResumeReading() {
	a := c.aux
	if a != nil {
		a.holdAfterHandshake = false
	}
	if c.flags&flagHeld == 0 {
		return
	}
	if len(c.in) == 0 && (a == nil || (a.heldEnd == heldNone && !a.heldWake)) {
		c.flags &^= flagHeld
		c.markDirty()
		return
	}
	// Held until the task runs, so that no read overtakes what waits.
	if a = c.extra(); !a.resuming {
		a.resuming = true
		c.loop.enqueueOwn(task{kind: taskUnhold, conn: c})
	}
}

// ReadingPaused reports whether PauseReading holds c (ReadPaused reports
// the engine's own reasons).
func (c *Conn) ReadingPaused() bool {
	return c.flags&flagHeld != 0 || (c.aux != nil && c.aux.holdAfterHandshake)
}

// NotifyDrained asks for one OnDrained(c) once c's pending output is at
// or below Options.LowWater: at the end of the loop's iteration if it is
// already, else once enough of it has gone to the kernel. Calls before
// the output is found drained ask for the same one; a call after that
// asks for another. The handler must implement DrainHandler
// (Funcs does); a connection that closes first gets OnClose only. Call it
// on c's loop.
func (c *Conn) NotifyDrained() {
	if c.flags&(flagClosing|flagCloseNow) != 0 || c.closed.Load() {
		return
	}
	c.flags |= flagWantDrained
	c.markDirty()
}

// heldEnd is how a stream ended while its reading was paused: the end
// waits for ResumeReading, so the input received before it, which the
// handler has not seen, is not dropped with the connection. Only the
// completion driver's receive, in flight when the pause began, and
// crypto/tls's records decrypted after the callback that paused, bring
// input or an end past a pause.
type heldEnd uint8

const (
	heldNone        heldEnd = iota
	heldEOF                 // the peer's FIN
	heldCloseNotify         // a TLS peer's close_notify
)

// holdEnd records the end of c's stream while reading is paused, if it
// is; the caller closes the connection now if not. The first end stands
// (a FIN behind a close_notify is no truncation). No flagEOF yet, which
// would make a close the handler asks for meanwhile report io.EOF for an
// end it has not seen; flagHeld keeps the connection from reading.
func (c *Conn) holdEnd(end heldEnd) bool {
	if c.flags&flagHeld == 0 || c.flags&(flagClosing|flagCloseNow) != 0 {
		return false
	}
	if a := c.extra(); a.heldEnd == heldNone {
		a.heldEnd = end
	}
	return true
}

// holdWake records a Wake that came while reading was paused; its OnData
// follows ResumeReading.
func (c *Conn) holdWake() { c.extra().heldWake = true }

// holdHandshaken applies a PauseReading made during the TLS handshake,
// now that it is over, before OnOpen.
func (c *Conn) holdHandshaken() {
	if a := c.aux; a.holdAfterHandshake {
		a.holdAfterHandshake = false
		c.flags |= flagHeld
	}
}

// unhold is ResumeReading's task: the input that waited goes to OnData,
// then the end that waited, if any, goes to peerEOF (OnEOF or the close)
// unless that OnData paused again, and reading resumes.
func (l *Loop) unhold(c *Conn) {
	a := c.extra()
	if !a.resuming {
		return // paused again meanwhile
	}
	a.resuming = false
	c.flags &^= flagHeld
	c.markDirty()
	wake, end := a.heldWake, a.heldEnd
	a.heldWake, a.heldEnd = false, heldNone
	if c.flags&(flagClosing|flagCloseNow) != 0 {
		return // closed while paused: what waited goes with it
	}
	if len(c.in) > 0 || wake {
		l.callData(c)
		l.keepInput(c)
	}
	if end == heldNone || c.flags&(flagClosing|flagCloseNow) != 0 {
		return
	}
	if c.flags&flagHeld != 0 {
		// Paused again by that OnData, with input perhaps left in
		// Inbound for the next ResumeReading: the end waits for it too,
		// or OnEOF would come before the OnData of bytes sent before it.
		a.heldEnd = end
		return
	}
	if end == heldEOF && c.flags&flagTLS != 0 {
		c.flags |= flagEOF
		c.closeWith(ErrTLSNoCloseNotify, false) // as tlsReceived would have
		return
	}
	l.peerEOF(c)
}

// drainable serves what waits for c's output to drain: NotifyDrained's
// OnDrained and WriteWait's callers, once it is at LowWater as Buffered
// counts it (a queued file, and what waits for a TLS handshake, are
// pending output too). WriteWait's callers hear at once
// when c closes or ends its sending side.
func (l *Loop) drainable(c *Conn) {
	low := c.Buffered() <= l.e.opts.LowWater
	if c.flags&flagWantDrained != 0 && low {
		l.drainedNow(c)
	}
	if c.flags&flagWaiters != 0 {
		if c.flags&(flagClosing|flagCloseNow|flagWriteShut) != 0 {
			l.failWaiters(c)
		} else if low {
			l.admitWaiters(c)
		}
	}
}

// drainedNow lists c for its OnDrained, which the next settleAll calls
// (callDrained skips it if it is closing by then): settle, which finds
// the output drained, also runs in the middle of other work.
func (l *Loop) drainedNow(c *Conn) {
	c.flags &^= flagWantDrained
	l.drained = append(l.drained, c)
}

// callDrained calls OnDrained for the connections listed before it began;
// those its calls list (a NotifyDrained with nothing to send) wait for
// the next iteration, which does not wait in the kernel for them, so a
// handler asking again and again cannot keep the loop from polling.
func (l *Loop) callDrained() {
	if len(l.drained) == 0 {
		return
	}
	dh, _ := l.e.h.(DrainHandler)
	if dh == nil && l.e.noDrainHandler.CompareAndSwap(false, true) {
		l.e.log.Error("loop: NotifyDrained needs a Handler with OnDrained (DrainHandler); the handler has none")
	}
	batch := l.drained
	l.drained = nil
	for i, c := range batch {
		batch[i] = nil
		if dh != nil && !c.closed.Load() && c.flags&(flagClosing|flagCloseNow) == 0 {
			l.protect(c, func() { dh.OnDrained(c) })
		}
	}
	if l.drained == nil {
		l.drained = batch[:0]
	}
}
