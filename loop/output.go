package loop

import "github.com/evsel/evsel"

// Buffered returns how many output bytes are waiting for the socket,
// counting those of files queued with SendFile and, on a TLS connection
// whose handshake is not done (a Dial'd one), the plaintext written
// meanwhile, which waits for the handshake outside the output queue.
func (c *Conn) Buffered() int {
	n := c.outLen
	if c.flags&(flagFile|flagTLS) == 0 {
		return n
	}
	if c.flags&flagFile != 0 {
		n += c.aux.files.pending()
	}
	if c.flags&flagTLS != 0 {
		n += len(c.aux.tls.pre) // nil once the handshake is done
	}
	return n
}

// Write queues p for sending (the bytes are copied) and returns len(p). The
// writes of one callback, timer or task go to the socket together, with one
// write or writev, as soon as it returns. A write of 16 KiB or more on an
// idle connection goes to the socket directly, without a copy of what the
// kernel takes.
func (c *Conn) Write(p []byte) (int, error) {
	if c.flags&(flagClosing|flagCloseNow|flagWriteShut) != 0 || c.closed.Load() {
		return 0, ErrClosed
	}
	if len(p) == 0 {
		return 0, nil
	}
	if c.flags&flagFile != 0 {
		return c.queueBehind(p)
	}
	if c.flags&flagTLS != 0 {
		return c.writeTLS(p)
	}
	return c.writeRaw(p, true)
}

// checkOutput closes c if the handler's writes took its pending output
// past MaxOutput. It judges Write only (writeTLS; writeRaw's judge): bytes
// the engine queues of its own accord (crypto/tls's records such as
// close_notify, what SendFile admitted and moves into the output later) do
// not close the connection.
func (c *Conn) checkOutput() error {
	if c.outLen > c.loop.e.opts.MaxOutput {
		c.fail(ErrOutputOverflow)
		return ErrOutputOverflow
	}
	return nil
}

// writeRaw queues bytes that go to the socket as they are: plaintext, or a
// TLS connection's records, which may follow a close request
// (close_notify, an alert). judge is Write's MaxOutput check (see
// checkOutput), made here rather than by the caller: Write's plaintext
// path, which every echoed message takes, stays one call (with the check
// after the call, callgrind counted 20 instructions more per 64-byte
// echo).
func (c *Conn) writeRaw(p []byte, judge bool) (int, error) {
	n := 0
	if c.outLen == 0 && len(p) >= directWrite && c.flags&flagDialing == 0 && c.events&evsel.EventWrite == 0 {
		w, err := c.sock.TryWrite(p)
		switch {
		case err == nil:
			c.wrote(w)
			n = w
		case err != evsel.ErrWouldBlock:
			c.fail(err)
			return 0, err
		}
	}
	if n < len(p) {
		c.queue(p[n:])
	}
	c.markDirty()
	if judge && c.outLen > c.loop.e.opts.MaxOutput {
		c.fail(ErrOutputOverflow)
		return len(p), ErrOutputOverflow
	}
	return len(p), nil
}

// flushable says whether the driver may send c's output now: there is
// some, and c is neither waiting to be writable (the write would only
// fail) nor to connect, nor closing at once (Abort drops it).
func (c *Conn) flushable() bool {
	return c.flags&(flagCloseNow|flagDialing) == 0 && c.outLen > 0 && c.events&evsel.EventWrite == 0
}

// Writev queues the buffers in order, as one Write of their concatenation.
func (c *Conn) Writev(bufs [][]byte) (int, error) {
	total := 0
	for _, b := range bufs {
		n, err := c.Write(b)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// directWrite is the size from which a write on a connection with nothing
// pending skips the copy into the output queue and goes to the socket at
// once. From about 16 KiB the copy costs more than the system call it
// might save by joining later writes into one writev; on io_uring it also
// spares the send's completion. Smaller writes are queued, so a handler's
// many small writes still leave in one call.
const directWrite = 16 << 10

// wrote counts n bytes the socket took from c.
func (c *Conn) wrote(n int) {
	c.loop.stats.writes.Add(1)
	c.loop.stats.bytesOut.Add(int64(n))
	c.touch()
}

// queue copies p to the end of the output. A connection with nothing
// else pending queues into the loop's stage when it is free; its
// callback's writes then leave from there when it returns, and the chunk
// and list pools are not touched (see Loop.stage).
func (c *Conn) queue(p []byte) {
	l := c.loop
	c.outLen += len(p)
	if c.out == nil && (l.staged == c || l.staged == nil) && len(l.stage)+len(p) <= cap(l.stage) {
		l.stage = append(l.stage, p...)
		l.staged = c
		return
	}
	if l.staged == c {
		l.unstage(0)
	}
	c.appendChunks(p)
}

// appendChunks copies p to the end of the chunk list, filling the last
// chunk first. The caller counts p in outLen.
func (c *Conn) appendChunks(p []byte) {
	l := c.loop
	if k := len(c.out); k > 0 {
		last := c.out[k-1]
		if free := cap(last) - len(last); free > 0 {
			m := min(free, len(p))
			c.out[k-1] = append(last, p[:m]...)
			p = p[m:]
		}
	}
	if c.out == nil {
		c.out = l.getVec()
	}
	for len(p) > 0 {
		chunk := l.getChunk(len(p))
		m := min(cap(chunk), len(p))
		chunk = append(chunk, p[:m]...)
		c.out = append(c.out, chunk)
		p = p[m:]
	}
}

// unstage frees the stage, moving what its owner has not yet written (all
// but the first n bytes, which the caller has taken off outLen) into the
// owner's own chunks.
func (l *Loop) unstage(n int) {
	if n < len(l.stage) {
		l.staged.appendChunks(l.stage[n:])
	}
	l.staged, l.stage = nil, l.stage[:0]
}

// dropStage discards what the stage holds: the output of a connection that
// closes at once.
func (l *Loop) dropStage() {
	l.staged.outLen -= len(l.stage)
	l.staged, l.stage = nil, l.stage[:0]
}

// advance drops n written bytes from the front of the output. Finished
// chunks are shifted out rather than sliced off, so the list keeps its
// capacity for reuse.
func (c *Conn) advance(n int) {
	c.outLen -= n
	if c.outLen == 0 && c.out != nil {
		// All sent, the usual case: recycle the chunks and the list at
		// once. Shifting first, then clearing twice, cost a third of the
		// output path's instructions (callgrind, 64 × 64 B echo).
		c.recycleOut()
		return
	}
	done := 0
	for n > 0 {
		head := c.out[done]
		if n < len(head) {
			c.out[done] = head[n:]
			break
		}
		n -= len(head)
		c.loop.putChunk(head)
		done++
	}
	if done > 0 {
		k := copy(c.out, c.out[done:])
		clear(c.out[k:])
		c.out = c.out[:k]
	}
	if len(c.out) == 0 {
		c.loop.putVec(c.out)
		c.out = nil
	}
}

// recycleOut gives the output's chunks and list back to the loop. Each
// slot is cleared as its chunk goes, so putVec has nothing left to clear.
func (c *Conn) recycleOut() {
	l := c.loop
	for i, b := range c.out {
		l.putChunk(b)
		c.out[i] = nil
	}
	if c.out != nil {
		l.putVec(c.out[:0])
	}
	c.out = nil
}

// AsyncWrite queues a copy of p to be written by the owning loop. It is safe
// from any goroutine; writes from one goroutine keep their order, and each is
// written whole. It returns ErrClosed if the connection is known to be
// closed; data queued just before a close is dropped with the connection,
// and so is data the loop gets after CloseWrite (Write refuses it there).
func (c *Conn) AsyncWrite(p []byte) error {
	if c.closed.Load() {
		return ErrClosed
	}
	if len(p) == 0 {
		return nil
	}
	return c.loop.enqueue(task{kind: taskWrite, conn: c, buf: append([]byte(nil), p...)})
}

// AsyncWritev is AsyncWrite of the buffers' concatenation.
func (c *Conn) AsyncWritev(bufs [][]byte) error {
	if c.closed.Load() {
		return ErrClosed
	}
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	if n == 0 {
		return nil
	}
	buf := make([]byte, 0, n)
	for _, b := range bufs {
		buf = append(buf, b...)
	}
	return c.loop.enqueue(task{kind: taskWrite, conn: c, buf: buf})
}

// The stage: on a readiness driver a callback's writes to a connection
// with nothing pending go into one buffer of the loop's, and settle
// writes them from there when the callback returns (after a timer or a
// task, at the end of the iteration); what the socket does not take then
// moves into the connection's own chunks, and so does the stage's content
// whenever a connection is settled without a flush. So the stage is empty
// whenever the loop waits (every write is settled before it does), holds
// one connection's bytes at a time (l.staged's; its out is nil meanwhile,
// and its outLen is what the stage holds), and a response that leaves
// whole, the usual case, never takes a chunk and a list from the pools
// and puts them back (894 → 752 instructions per message, callgrind,
// 64 × 64 B echo). The completion driver has no stage (cap 0): its sends
// read the chunks until their completion.

// Output chunks are recycled per loop so a busy connection does not
// allocate for every response.
const chunkSize = 16 << 10

func (l *Loop) getChunk(n int) []byte {
	if n > chunkSize {
		return make([]byte, 0, n)
	}
	if k := len(l.chunks); k > 0 {
		b := l.chunks[k-1]
		l.chunks = l.chunks[:k-1]
		return b
	}
	return make([]byte, 0, chunkSize)
}

func (l *Loop) putChunk(b []byte) {
	if cap(b) == chunkSize && len(l.chunks) < 1024 {
		l.chunks = append(l.chunks, b[:0])
	}
}

// getVec and putVec recycle connections' output lists: a connection holds
// one only while it has output pending, so idle ones cost nothing. A list's
// slots past its length are always nil (advance clears what it shifts
// out), so putVec clears only up to the length it is given.
func (l *Loop) getVec() [][]byte {
	if k := len(l.vecs); k > 0 {
		v := l.vecs[k-1]
		l.vecs = l.vecs[:k-1]
		return v
	}
	return make([][]byte, 0, 4)
}

func (l *Loop) putVec(v [][]byte) {
	if cap(v) <= 64 && len(l.vecs) < 1024 {
		clear(v)
		l.vecs = append(l.vecs, v[:0])
	}
}
