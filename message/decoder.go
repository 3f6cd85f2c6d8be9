package message

import "strconv"

// DefaultMaxContentLength is the content bound a zero Decoder enforces:
// enough for any reference message, small enough that a peer announcing a
// huge content-length cannot make a server buffer without limit.
const DefaultMaxContentLength = 16 << 20

// DefaultMaxJSONContentLength is the lower bound a zero Decoder enforces on
// text/json content, which a program parses into a tree rather than passing
// on as bytes: 1 MiB is thousands of times any reference message, and keeps
// one request's parse to milliseconds and a few MiB (see ParseLimits).
const DefaultMaxJSONContentLength = 1 << 20

// Decoder turns a byte stream into Messages, frame by frame, with no rules
// about which side speaks when (ServerConn and ClientConn add those). It
// does no I/O and holds no bytes: the caller owns the input buffer (an event
// loop's per-connection read buffer) and passes its unconsumed bytes to
// Decode each time more arrive. The Decoder remembers how far it got — a parsed header waiting for
// its content — so a large message trickling in is not re-parsed on every
// read.
//
// The zero Decoder is ready to use. A Decoder is per connection and not safe
// for concurrent use.
type Decoder struct {
	// MaxContentLength is the largest content-length accepted; a header
	// announcing more fails with ErrContentTooLarge as soon as the header is
	// complete, before any content is buffered. Zero or negative means
	// DefaultMaxContentLength.
	MaxContentLength int
	// MaxJSONContentLength is the largest content-length accepted for
	// text/json content, checked the same way; zero or negative means
	// DefaultMaxJSONContentLength. MaxContentLength applies too if lower.
	MaxJSONContentLength int

	parsed bool   // hdr holds the parsed header of the frame at buf[0]
	hdrLen int    // that frame's header length
	hdr    Header // that frame's header
	err    error  // sticky: the stream cannot be resynchronised after one
}

// Decode looks for one complete frame at the start of buf.
//
// It returns the message and the number of bytes it took from buf; the caller
// drops those bytes and may call Decode again on the rest, which may hold
// further frames. If buf holds no complete frame yet it returns a zero
// Message, 0 and nil: the caller keeps all of buf and calls again when more
// bytes have been appended. Until a frame is returned, each call must be
// given the same unconsumed bytes, possibly extended.
//
// The returned Content is a sub-slice of buf, not a copy: it is valid only
// until the caller consumes, compacts or reuses that part of its buffer.
// Header strings are ordinary Go strings and stay valid.
//
// Errors are *ProtocolError. They are sticky — every later call returns the
// same error — because after a malformed frame there is no way to find where
// the next one starts; the connection should be closed.
func (d *Decoder) Decode(buf []byte) (Message, int, error) {
	if d.err != nil {
		return Message{}, 0, d.err
	}
	if len(buf) < 2 {
		return Message{}, 0, nil
	}
	n := int(buf[0])<<8 | int(buf[1])
	if n == 0 {
		return d.fail(protoErr(CodeEmptyHeader, "", -1, "header length is 0"))
	}
	if len(buf) < 2+n {
		return Message{}, 0, nil
	}
	if !d.parsed || d.hdrLen != n {
		if err := parseHeader(buf[2:2+n], &d.hdr); err != nil {
			return d.fail(err)
		}
		if d.hdr.ContentLength > d.max() {
			return d.fail(protoErr(CodeContentTooLarge, KeyContentLength, -1,
				strconv.Itoa(d.hdr.ContentLength)+" > "+strconv.Itoa(d.max())))
		}
		if d.hdr.ContentType == ContentTypeJSON && d.hdr.ContentLength > d.maxJSON() {
			return d.fail(protoErr(CodeContentTooLarge, KeyContentLength, -1,
				jsonLimitDetail(d.hdr.ContentLength, d.maxJSON())))
		}
		d.parsed, d.hdrLen = true, n
	}
	end := 2 + n + d.hdr.ContentLength
	if len(buf) < end {
		return Message{}, 0, nil
	}
	m := Message{Header: d.hdr, Content: buf[2+n : end : end]}
	d.parsed, d.hdr = false, Header{}
	return m, end, nil
}

func (d *Decoder) max() int {
	if d.MaxContentLength <= 0 {
		return DefaultMaxContentLength
	}
	return d.MaxContentLength
}

func (d *Decoder) maxJSON() int {
	if d.MaxJSONContentLength <= 0 {
		return DefaultMaxJSONContentLength
	}
	return d.MaxJSONContentLength
}

func (d *Decoder) fail(err *ProtocolError) (Message, int, error) {
	d.parsed, d.hdr = false, Header{}
	d.err = err
	return Message{}, 0, err
}
