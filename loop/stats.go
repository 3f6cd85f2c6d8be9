package loop

import "sync/atomic"

// Stats counts what the engine did. Open is a gauge; the rest only grow.
// IdleClosed, FirstByteClosed and LingerClosed count the connections closed
// by each deadline, ReadDeadlineClosed and WriteDeadlineClosed those closed
// by the deadlines of Conn.SetReadDeadline and SetWriteDeadline, Shed
// those closed to admit new ones (all are in Closed too).
//
// MemoryHeld is the input and output all connections hold (a gauge, see
// Options.MaxMemory; engine-wide, so Loop.Stats reports the engine's),
// MemoryPaused the connections the budget has paused now (a gauge), and
// MemoryClosed those it closed with ErrMemoryBudget (in Closed too).
type Stats struct {
	Open, Accepted, Dialed, Closed   int64
	BytesIn, BytesOut, Reads, Writes int64

	IdleClosed, FirstByteClosed, LingerClosed, Shed int64
	ReadDeadlineClosed, WriteDeadlineClosed         int64
	// RefusedPerIP counts the accepts closed at once by MaxConnsPerIP
	// (not in Accepted or Closed: the handler never saw them).
	RefusedPerIP int64

	MemoryHeld, MemoryPaused, MemoryClosed int64

	// DatagramsIn and DatagramsOut count the datagrams received and sent
	// by datagram sockets (their bytes are in BytesIn and BytesOut, their
	// system calls in Reads and Writes); DatagramsDropped those dropped by the engine
	// (the send queue full, the system refusing one, a handler panic, a
	// close with datagrams unsent); DatagramsTruncated those received
	// longer than Options.DatagramSize, which are not delivered.
	DatagramsIn, DatagramsOut, DatagramsDropped, DatagramsTruncated int64
	// TLSHandshakes counts the TLS handshakes that succeeded,
	// TLSHandshakeFailed those that failed or timed out, and
	// TLSRecordTimeouts the connections closed with ErrTLSRecordTimeout
	// (in Closed too).
	TLSHandshakes, TLSHandshakeFailed, TLSRecordTimeouts int64
	// Stalls counts the times a loop was kept from its poll for
	// Options.StallWarning or longer (a callback blocking it).
	Stalls int64
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
	s.IdleClosed += o.IdleClosed
	s.FirstByteClosed += o.FirstByteClosed
	s.LingerClosed += o.LingerClosed
	s.Shed += o.Shed
	s.ReadDeadlineClosed += o.ReadDeadlineClosed
	s.WriteDeadlineClosed += o.WriteDeadlineClosed
	s.RefusedPerIP += o.RefusedPerIP
	s.MemoryPaused += o.MemoryPaused
	s.MemoryClosed += o.MemoryClosed
	s.DatagramsIn += o.DatagramsIn
	s.DatagramsOut += o.DatagramsOut
	s.DatagramsDropped += o.DatagramsDropped
	s.DatagramsTruncated += o.DatagramsTruncated
	s.TLSHandshakes += o.TLSHandshakes
	s.TLSHandshakeFailed += o.TLSHandshakeFailed
	s.TLSRecordTimeouts += o.TLSRecordTimeouts
	s.Stalls += o.Stalls
}

// loopStats are a loop's counters, atomic so Stats can read them from any
// goroutine.
type loopStats struct {
	open, accepted, dialed, closed   atomic.Int64
	bytesIn, bytesOut, reads, writes atomic.Int64

	idleClosed, firstByteClosed, lingerClosed, shed atomic.Int64
	readDeadlineClosed, writeDeadlineClosed         atomic.Int64
	refusedPerIP                                    atomic.Int64

	memPaused, memClosed atomic.Int64

	datagramsIn, datagramsOut, datagramsDropped, datagramsTruncated atomic.Int64
	tlsHandshakes, tlsFailed, tlsRecordTimeouts                     atomic.Int64
	stalls                                                          atomic.Int64
}

// Stats returns the loop's counters.
func (l *Loop) Stats() Stats {
	st := &l.stats
	return Stats{
		Open: st.open.Load(), Accepted: st.accepted.Load(), Dialed: st.dialed.Load(),
		Closed: st.closed.Load(), BytesIn: st.bytesIn.Load(), BytesOut: st.bytesOut.Load(),
		Reads: st.reads.Load(), Writes: st.writes.Load(),
		IdleClosed: st.idleClosed.Load(), FirstByteClosed: st.firstByteClosed.Load(),
		LingerClosed: st.lingerClosed.Load(), Shed: st.shed.Load(), RefusedPerIP: st.refusedPerIP.Load(),
		ReadDeadlineClosed: st.readDeadlineClosed.Load(), WriteDeadlineClosed: st.writeDeadlineClosed.Load(),
		MemoryHeld: l.e.memHeld.Load(), MemoryPaused: st.memPaused.Load(), MemoryClosed: st.memClosed.Load(),
		DatagramsIn: st.datagramsIn.Load(), DatagramsOut: st.datagramsOut.Load(),
		DatagramsDropped: st.datagramsDropped.Load(), DatagramsTruncated: st.datagramsTruncated.Load(),
		TLSHandshakes: st.tlsHandshakes.Load(), TLSHandshakeFailed: st.tlsFailed.Load(),
		TLSRecordTimeouts: st.tlsRecordTimeouts.Load(), Stalls: st.stalls.Load(),
	}
}

// Stats sums the counters of every loop.
func (e *Engine) Stats() Stats {
	var total Stats
	for _, l := range e.loops {
		total.add(l.Stats())
	}
	total.MemoryHeld = e.memHeld.Load()
	return total
}
