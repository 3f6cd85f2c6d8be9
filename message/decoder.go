package message

import (
	"io"
	"strconv"
)

// DefaultMaxContentLength is the content bound a zero Decoder enforces:
// enough for any reference message, small enough that a peer announcing a
// huge content-length cannot make a server buffer without limit.
const DefaultMaxContentLength = 16 << 20

// Decoder turns a byte stream into Messages. It does no I/O and holds no
// bytes: the caller owns the input buffer (an event loop's per-connection
// read buffer) and passes its unconsumed bytes to Decode each time more
// arrive. The Decoder remembers how far it got — a parsed header waiting for
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
// bytes have been appended. Until a frame is returned (or Reset is called),
// each call must be given the same unconsumed bytes, possibly extended.
//
// The returned Content is a sub-slice of buf, not a copy: it is valid only
// until the caller consumes, compacts or reuses that part of its buffer.
// Header strings are ordinary Go strings and stay valid.
//
// Errors are *ProtocolError. They are sticky — every later call returns the
// same error until Reset — because after a malformed frame there is no way to
// find where the next one starts; the connection should be closed.
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

// Need reports how many more bytes, beyond buf, the frame at the start of
// buf needs as far as is known so far (the length prefix, then the header,
// then the content), so a reader can size its next read; it is 0 when buf
// holds enough for Decode to make progress.
func (d *Decoder) Need(buf []byte) int {
	if len(buf) < 2 {
		return 2 - len(buf)
	}
	n := int(buf[0])<<8 | int(buf[1])
	if len(buf) < 2+n {
		return 2 + n - len(buf)
	}
	if d.parsed && d.hdrLen == n && len(buf) < 2+n+d.hdr.ContentLength {
		return 2 + n + d.hdr.ContentLength - len(buf)
	}
	return 0
}

// Reset forgets any partial frame and any error, for a caller that discards
// its buffered bytes and starts over on a fresh stream.
func (d *Decoder) Reset() {
	d.parsed, d.hdrLen, d.hdr, d.err = false, 0, Header{}, nil
}

// Err returns the sticky error, if any.
func (d *Decoder) Err() error { return d.err }

func (d *Decoder) max() int {
	if d.MaxContentLength <= 0 {
		return DefaultMaxContentLength
	}
	return d.MaxContentLength
}

func (d *Decoder) fail(err *ProtocolError) (Message, int, error) {
	d.parsed, d.hdr = false, Header{}
	d.err = err
	return Message{}, 0, err
}

// Stream is a Decoder with its own input buffer, for code that gets bytes in
// arbitrary chunks and has no buffer of its own: blocking clients, tests,
// tools. An event loop should use Decoder directly on its read buffer.
//
// Content of a returned Message is valid until the next Feed or ReadMessage,
// which may move the buffered bytes.
type Stream struct {
	Decoder Decoder

	buf  []byte
	off  int   // start of the unconsumed bytes in buf
	rerr error // read error held back until buffered frames are returned
}

// minRead is the smallest read ReadMessage asks of its reader.
const minRead = 16 << 10

// maxEmptyReads is how many (0, nil) reads in a row ReadMessage tolerates,
// as bufio does, before giving up with io.ErrNoProgress.
const maxEmptyReads = 100

// Feed appends bytes received from the peer.
func (s *Stream) Feed(p []byte) {
	s.reserve(len(p))
	s.buf = append(s.buf, p...)
}

// Next returns the next complete message already fed; ok is false when more
// bytes are needed.
func (s *Stream) Next() (m Message, ok bool, err error) {
	m, n, err := s.Decoder.Decode(s.buf[s.off:])
	if err != nil || n == 0 {
		return Message{}, false, err
	}
	s.off += n
	return m, true, nil
}

// Buffered returns the number of bytes fed but not yet returned as messages.
func (s *Stream) Buffered() int { return len(s.buf) - s.off }

// ReadMessage returns the next message, reading from r as needed. At a clean
// end of stream between frames it returns io.EOF; if the stream ends inside a
// frame, io.ErrUnexpectedEOF.
func (s *Stream) ReadMessage(r io.Reader) (Message, error) {
	empty := 0
	for {
		m, ok, err := s.Next()
		if err != nil || ok {
			return m, err
		}
		if s.rerr != nil {
			if s.rerr == io.EOF && s.Buffered() > 0 {
				return Message{}, io.ErrUnexpectedEOF
			}
			return Message{}, s.rerr
		}
		s.reserve(max(minRead, s.Decoder.Need(s.buf[s.off:])))
		n, err := r.Read(s.buf[len(s.buf):cap(s.buf)])
		s.buf = s.buf[:len(s.buf)+n]
		if err != nil {
			s.rerr = err
		}
		if n == 0 && err == nil {
			// A reader that keeps returning nothing would spin us forever.
			if empty++; empty >= maxEmptyReads {
				return Message{}, io.ErrNoProgress
			}
		} else {
			empty = 0
		}
	}
}

// reserve makes room for n more bytes, first by sliding the unconsumed bytes
// to the front (this is what invalidates earlier Content), then by growing.
func (s *Stream) reserve(n int) {
	if s.off == len(s.buf) {
		s.buf, s.off = s.buf[:0], 0
	}
	if cap(s.buf)-len(s.buf) >= n {
		return
	}
	live := len(s.buf) - s.off
	if s.off > 0 && cap(s.buf)-live >= n {
		copy(s.buf, s.buf[s.off:])
		s.buf, s.off = s.buf[:live], 0
		return
	}
	nb := make([]byte, live, max(2*cap(s.buf), live+n))
	copy(nb, s.buf[s.off:])
	s.buf, s.off = nb, 0
}
