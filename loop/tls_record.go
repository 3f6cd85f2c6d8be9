package loop

import "time"

// The record deadline. After the handshake the loop hands crypto/tls every
// byte it reads, and crypto/tls assembles records out of sight: a peer that
// sends a record header announcing 18 KB and then nothing, or a byte now and
// then, makes it hold a buffer of that size while the handler sees no
// plaintext at all, so no deadline above the engine (a message timeout) can
// notice, and the idle timeout restarts at every byte. So the loop follows
// the record boundaries in what it hands over (recordScan), counts the
// record being assembled in the memory budget, and closes a connection whose
// record has been incomplete for TLSHandshakeTimeout of the time the engine
// was reading it. A peer that sends whole records, as every TLS stack does,
// never meets the deadline, and one that sends a large record slowly has a
// generous bound: 18 KB in 10 s is under 2 KB/s.

// ErrTLSRecordTimeout is the close reason of a TLS connection whose peer began
// a record and did not finish it within Options.TLSHandshakeTimeout of the
// time the engine was reading it. It matches os.ErrDeadlineExceeded with
// errors.Is and its Timeout method reports true, for os.IsTimeout and
// net.Error.
var ErrTLSRecordTimeout error = newTimeoutError("loop: TLS record incomplete for too long")

// recordHeaderLen is the length of a TLS record header: type, version,
// and the length of the body that follows.
const recordHeaderLen = 5

// recordScan follows the record boundaries in a TLS byte stream. It only
// reads lengths: crypto/tls judges everything else.
type recordScan struct {
	hdr     [recordHeaderLen]byte
	hdrLen  int    // bytes of hdr received
	rest    int    // body bytes of the current record still to come
	size    int    // length of the current record, header included
	records uint32 // records begun, counting the current one
}

// scan takes the next bytes of the stream.
func (s *recordScan) scan(p []byte) {
	for len(p) > 0 {
		if s.rest > 0 {
			k := min(s.rest, len(p))
			s.rest -= k
			p = p[k:]
			continue
		}
		if s.hdrLen == 0 {
			s.records++
		}
		k := copy(s.hdr[s.hdrLen:], p)
		s.hdrLen += k
		p = p[k:]
		if s.hdrLen == recordHeaderLen {
			s.rest = int(s.hdr[3])<<8 | int(s.hdr[4])
			s.size = recordHeaderLen + s.rest
			s.hdrLen = 0
		}
	}
}

// partial reports whether the stream ends inside a record.
func (s *recordScan) partial() bool { return s.hdrLen > 0 || s.rest > 0 }

// pending is what crypto/tls holds for the record it is assembling: the
// whole announced record, which it makes room for on seeing the header.
func (s *recordScan) pending() int {
	switch {
	case s.rest > 0:
		return s.size
	case s.hdrLen > 0:
		return recordHeaderLen
	}
	return 0
}

// tlsRecordDeadline runs after crypto/tls has taken a read's bytes: it
// starts the deadline of a record left incomplete, and forgets that of one
// completed. The timer is made once, when a connection first leaves a
// record incomplete, and checks lazily: moving recordSince costs nothing
// per record.
func (l *Loop) tlsRecordDeadline(c *Conn) {
	st := c.aux.tls
	if !st.scan.partial() {
		st.recordSince = 0
		return
	}
	if st.recordSince == 0 || st.recordSeen != st.scan.records {
		st.recordSince, st.recordSeen = max(l.clock, 1), st.scan.records
	}
	if st.recordTimer == nil {
		st.recordTimer = l.AfterFunc(l.e.opts.TLSHandshakeTimeout, func() { l.tlsRecordExpired(c) })
	} else if !st.recordTimer.Active() {
		st.recordTimer.Reset(l.e.opts.TLSHandshakeTimeout)
	}
}

// tlsRecordExpired closes c if its record has been incomplete for the
// whole deadline, or waits for the rest of it for a later record. The
// deadline is the peer's: while the engine does not read (backpressure,
// the memory budget) the record cannot complete, so its clock restarts at
// every look, made every quarter deadline until reading resumes, which
// leaves the peer at least three quarters of it afterwards; a closing
// connection is bounded by the linger deadline instead.
func (l *Loop) tlsRecordExpired(c *Conn) {
	st := c.aux.tls
	if st.recordSince == 0 || c.flags&(flagCloseNow|flagClosing|flagEOF) != 0 || c.closed.Load() {
		return
	}
	d := l.e.opts.TLSHandshakeTimeout
	if c.flags&noRead != 0 {
		st.recordSince = l.clock
		st.recordTimer.Reset(d / 4)
		return
	}
	left := d - time.Duration(l.clock-st.recordSince)
	if left > 0 {
		st.recordTimer.Reset(left)
		return
	}
	l.stats.tlsRecordTimeouts.Add(1)
	c.closeWith(ErrTLSRecordTimeout, true)
}
