package message

import (
	"strconv"
	"time"
)

// Server defaults, applied where a ServerConfig field is zero.
const (
	defaultMessageTimeout = 10 * time.Second
	defaultMaxInFlight    = 1024
)

// ServerConfig holds the limits of a ServerConn. The zero value is the
// reference's behaviour (one request per connection) with evsel's safety
// limits.
type ServerConfig struct {
	// KeepAlive keeps the connection open after a response for further,
	// possibly pipelined, requests; the reference closes after one
	// response (the default).
	KeepAlive bool
	// MaxContentLength bounds a request's content-length; zero or negative
	// means DefaultMaxContentLength.
	MaxContentLength int
	// MaxJSONContentLength bounds the content-length of a text/json
	// request, which the application parses; zero or negative means
	// DefaultMaxJSONContentLength (1 MiB). It is checked, like
	// MaxContentLength, as soon as the header is in, before the content is
	// buffered: ErrContentTooLarge.
	MaxJSONContentLength int
	// MessageTimeout bounds how long a started request may take to arrive
	// in full; zero means 10 s, negative disables it.
	MessageTimeout time.Duration
	// MaxInFlight bounds how far a client may pipeline ahead of reading:
	// the responses given since the output was last reported flushed.
	// Requests that arrive together are answered together, so they count
	// together; zero or negative means 1024.
	MaxInFlight int
}

// ServerConn is the server side of one connection as a state machine with
// no I/O, in the manner of Python's h11: the caller hands it the bytes
// received and not yet consumed, gets requests back, and gets the bytes of
// each response to send. Time is an input too: the incomplete-request limit
// is checked against the now given to Next, and Deadline says when to call
// again if nothing arrives. The same machine serves an event-loop handler,
// a goroutine per connection, or a test with no network at all.
//
// The zero ServerConn is ready to use with the zero ServerConfig; set Config
// before the first call. A ServerConn is not safe for concurrent use.
type ServerConn struct {
	Config ServerConfig

	dec      Decoder
	started  time.Time // when the incomplete request now buffered was first seen
	pending  int       // requests returned by Next and not yet answered
	inFlight int       // responses given since the output was last flushed
	paused   bool      // the caller has stopped reading the peer (ReadPaused)
	held     bool      // paused was reported since the last Next: restart the wait
	done     bool      // reference mode: answered; nothing more to do
	err      error     // sticky: the connection must be closed
}

// Next returns the next complete request at the start of buf, the caller's
// bytes received and not yet consumed, and how many of them it took. The
// caller handles the request, then drops those n bytes (Content points into
// buf) and calls again with the rest: buf may hold several pipelined
// requests. n is 0 when buf holds no complete request, or when the
// connection takes no more (reference mode, once a request was returned).
//
// now is the current time. When buf ends in part of a request, Next notes
// when that part was first seen, and fails with ErrMessageTimeout once it
// has waited MessageTimeout without completing. While the caller reports
// that it has stopped reading the peer (see ReadPaused), the stall is the
// caller's, not the peer's: the wait starts again with every call, and
// once more on the first call after reading resumes.
//
// Errors are a *ProtocolError for malformed input, ErrMessageTimeout, or
// the error an earlier call returned: after one, the connection should be
// closed.
func (s *ServerConn) Next(buf []byte, now time.Time) (req Message, n int, err error) {
	if s.err != nil {
		return Message{}, 0, s.err
	}
	if s.done || (!s.Config.KeepAlive && s.pending > 0) {
		return Message{}, 0, nil
	}
	s.dec.MaxContentLength = s.Config.MaxContentLength
	s.dec.MaxJSONContentLength = s.Config.MaxJSONContentLength
	req, n, err = s.dec.Decode(buf)
	switch {
	case err != nil:
		s.err = err
		return Message{}, 0, err
	case n > 0:
		s.started = time.Time{}
		s.pending++
		return req, n, nil
	case len(buf) == 0 || s.Config.MessageTimeout < 0:
		s.started = time.Time{}
	case s.started.IsZero() || s.held:
		s.started = now
		s.held = s.paused
	case now.Sub(s.started) >= s.timeout():
		s.err = ErrMessageTimeout
		return Message{}, 0, s.err
	}
	return Message{}, 0, nil
}

// Respond appends the frame of the response to the oldest unanswered
// request to dst and returns the extended slice, for the caller to send.
// In reference mode the connection is then Done.
//
// It fails, leaving dst unchanged, with ErrTooManyInFlight when the
// response is one more than MaxInFlight since the last Flushed, with
// ErrUnsolicited when no request is waiting for an answer, and with the
// encoding errors of Message.AppendFrame. The first two are sticky, like
// the errors of Next.
func (s *ServerConn) Respond(dst []byte, resp Message) ([]byte, error) {
	if s.err != nil {
		return dst, s.err
	}
	if s.pending == 0 {
		s.err = ErrUnsolicited
		return dst, s.err
	}
	if s.inFlight+1 > s.maxInFlight() {
		s.err = ErrTooManyInFlight
		return dst, s.err
	}
	out, err := resp.AppendFrame(dst)
	if err != nil {
		return dst, err
	}
	s.pending--
	s.inFlight++
	if !s.Config.KeepAlive {
		s.done = true
	}
	return out, nil
}

// Flushed tells the machine that every byte Respond returned so far has
// been handed to the transport: the peer is reading, so the in-flight count
// starts again.
func (s *ServerConn) Flushed() { s.inFlight = 0 }

// ReadPaused tells the machine whether the caller has stopped reading the
// peer, as an event loop does while the peer is slow to take its answers
// (backpressure): the peer's next bytes then wait on the caller, and an
// incomplete request's wait must not run out meanwhile (see Next). Report
// the state before each Next; a caller that never pauses reading need not
// call it. Unsent answers alone are no reason: a peer that never reads
// them but is still read must finish its request in time.
func (s *ServerConn) ReadPaused(paused bool) {
	s.paused = paused
	s.held = s.held || paused
}

// Deadline reports when the incomplete request now buffered runs out of
// time: if nothing arrives before then, the caller calls Next again at that
// time, and Next says whether to close. ok is false when no such wait is
// running.
func (s *ServerConn) Deadline() (deadline time.Time, ok bool) {
	if s.started.IsZero() || s.done || s.err != nil {
		return time.Time{}, false
	}
	return s.started.Add(s.timeout()), true
}

// Done reports whether the connection has nothing more to do: in reference
// mode, once its one response was given. The caller sends what Respond
// returned and then closes.
func (s *ServerConn) Done() bool { return s.done }

// PeerClosed returns the error to close with when the peer has closed its
// side with buf still unconsumed: nil between requests, ErrTruncated (with
// the count) when buf holds part of a request.
func (s *ServerConn) PeerClosed(buf []byte) error {
	if len(buf) == 0 || s.done {
		return nil
	}
	return &truncatedError{n: len(buf)}
}

func (s *ServerConn) timeout() time.Duration {
	if s.Config.MessageTimeout == 0 {
		return defaultMessageTimeout
	}
	return s.Config.MessageTimeout
}

func (s *ServerConn) maxInFlight() int {
	if s.Config.MaxInFlight <= 0 {
		return defaultMaxInFlight
	}
	return s.Config.MaxInFlight
}

// truncatedError is ErrTruncated with how much of the message came.
type truncatedError struct{ n int }

func (e *truncatedError) Error() string {
	return ErrTruncated.Error() + " (" + strconv.Itoa(e.n) + " bytes of it received)"
}

func (e *truncatedError) Unwrap() error { return ErrTruncated }
