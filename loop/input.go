package loop

import (
	"bufio"
	"io"
)

// Inbound returns the bytes read and not yet consumed. The slice is valid
// until the callback returns; copy what must outlive it.
func (c *Conn) Inbound() []byte { return c.in }

// ReadPaused reports whether the engine has stopped reading the connection
// for its own sake: its output passed Options.HighWater (backpressure) or
// the memory budget paused it (Options.MaxMemory). The peer's bytes wait in
// the kernel meanwhile, so a protocol's clock on an incomplete message is
// running against the engine, not the peer. It is what the last settle
// decided: output written in the running callback counts from its return.
func (c *Conn) ReadPaused() bool { return c.flags&(flagPaused|flagMemPaused) != 0 }

// Consume discards the first n bytes of Inbound (all of it if n is larger).
// What is not consumed is handed to the next OnData with the bytes that
// follow it.
func (c *Conn) Consume(n int) {
	if n >= len(c.in) {
		c.in = c.in[len(c.in):]
		return
	}
	if n > 0 {
		c.in = c.in[n:]
	}
}

// Peek returns the next n bytes of input without consuming them, as
// bufio.Reader.Peek does, except that it never waits for the socket: if
// fewer than n bytes are buffered it returns them all with ErrShortInput,
// and the rest comes with a later OnData. Like Inbound, the slice is valid
// until the callback returns.
func (c *Conn) Peek(n int) ([]byte, error) {
	if n < 0 {
		return nil, bufio.ErrNegativeCount
	}
	if n > len(c.in) {
		return c.in, ErrShortInput
	}
	return c.in[:n:n], nil
}

// Next returns the next n bytes of input and consumes them, as gnet's
// Conn.Next does, so that a codec that has found a whole frame takes it in
// one call instead of a Peek and a Discard. Like Inbound, the slice is
// valid until the callback returns. If fewer than n bytes are buffered it
// consumes nothing and returns them all with ErrShortInput: a frame is never
// taken in part, and the rest comes with a later OnData. A negative n is
// bufio.ErrNegativeCount, as for Peek (gnet's Next(-1), everything, is
// Inbound followed by Consume).
func (c *Conn) Next(n int) ([]byte, error) {
	p, err := c.Peek(n)
	if err == nil {
		c.in = c.in[n:]
	}
	return p, err
}

// Discard consumes the next n bytes of input and returns how many it
// consumed, as bufio.Reader.Discard does: if fewer than n are buffered it
// consumes them all and returns ErrShortInput.
func (c *Conn) Discard(n int) (int, error) {
	if n < 0 {
		return 0, bufio.ErrNegativeCount
	}
	m := min(n, len(c.in))
	c.Consume(m)
	if m < n {
		return m, ErrShortInput
	}
	return m, nil
}

// Read copies buffered input into p and consumes it: Conn is an io.Reader
// over what has arrived so far. It never waits for the socket: with nothing
// buffered it returns io.EOF, which here means "nothing more in this
// callback", not that the peer has closed (OnEOF or OnClose says that).
// Do not hand a Conn to code that reads until it has a whole message
// (io.ReadFull, decoders); Peek first, and Read or Discard once it is all
// there.
func (c *Conn) Read(p []byte) (int, error) {
	if len(c.in) == 0 {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	n := copy(p, c.in)
	c.Consume(n)
	return n, nil
}

// WriteTo writes the buffered input to w and consumes what w took, making
// Conn an io.WriterTo (io.Copy uses it): c.WriteTo(c) echoes.
func (c *Conn) WriteTo(w io.Writer) (int64, error) {
	if len(c.in) == 0 {
		return 0, nil
	}
	n, err := w.Write(c.in)
	n = max(0, min(n, len(c.in)))
	c.Consume(n)
	if err == nil && len(c.in) > 0 {
		err = io.ErrShortWrite
	}
	return int64(n), err
}
