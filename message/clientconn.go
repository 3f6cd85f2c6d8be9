package message

// ClientConn is the client side of one connection as a state machine with
// no I/O: Send returns the bytes of a request to send, Next turns the bytes
// received into responses and matches them to the requests in order. It
// works with servers that close after one response (the reference) and with
// servers that keep the connection open for many requests in flight.
//
// The zero ClientConn is ready to use; set MaxContentLength before the
// first call. A ClientConn is not safe for concurrent use.
type ClientConn struct {
	// MaxContentLength bounds a response's content-length; zero or
	// negative means DefaultMaxContentLength.
	MaxContentLength int
	// MaxJSONContentLength bounds a text/json response's content-length;
	// zero or negative means DefaultMaxJSONContentLength.
	MaxJSONContentLength int

	dec         Decoder
	outstanding int   // requests sent and not yet answered
	err         error // sticky: the connection must be closed
}

// Send appends the frame of req to dst and returns the extended slice, for
// the caller to send; one more response is then expected. On error dst is
// returned unchanged and nothing is expected.
func (c *ClientConn) Send(dst []byte, req Message) ([]byte, error) {
	if c.err != nil {
		return dst, c.err
	}
	out, err := req.AppendFrame(dst)
	if err != nil {
		return dst, err
	}
	c.outstanding++
	return out, nil
}

// Expect counts one more request, as Send does, for a frame the caller
// encoded itself with Message.AppendFrame, which needs no machine and so
// may run on another goroutine, leaving the machine's goroutine only the
// count and the write. It returns the connection's error instead once
// there is one: the frame must not be sent then.
func (c *ClientConn) Expect() error {
	if c.err != nil {
		return c.err
	}
	c.outstanding++
	return nil
}

// Next returns the next complete response at the start of buf, the
// caller's bytes received and not yet consumed, and how many of them it
// took; responses come back in the order of the requests. The response's
// Content points into buf: the caller copies what it keeps, then drops
// those n bytes and calls again with the rest. n is 0 when buf holds no
// complete response.
//
// Errors are a *ProtocolError for malformed input, ErrUnsolicited for a
// response to no request, or the error an earlier call returned: after one,
// the connection should be closed.
func (c *ClientConn) Next(buf []byte) (resp Message, n int, err error) {
	if c.err != nil {
		return Message{}, 0, c.err
	}
	c.dec.MaxContentLength = c.MaxContentLength
	c.dec.MaxJSONContentLength = c.MaxJSONContentLength
	resp, n, err = c.dec.Decode(buf)
	switch {
	case err != nil:
		c.err = err
		return Message{}, 0, err
	case n == 0:
		return Message{}, 0, nil
	case c.outstanding == 0:
		c.err = ErrUnsolicited
		return Message{}, 0, c.err
	}
	c.outstanding--
	return resp, n, nil
}
