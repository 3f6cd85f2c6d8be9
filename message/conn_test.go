package message

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The state machines on their own: bytes and times in, requests, responses
// and errors out, with no connection anywhere.

var t0 = time.Unix(1000, 0)

func answerOf(t *testing.T, text string) Message {
	m, err := NewJSONMessage(ObjectValue(F("result", StringValue(text))))
	require.NoError(t, err)
	return m
}

func framesOf(t *testing.T, ms ...Message) []byte {
	var out []byte
	for _, m := range ms {
		var err error
		out, err = m.AppendFrame(out)
		require.NoError(t, err)
	}
	return out
}

// The reference server takes one request, answers it, and is done: a
// second request in the same bytes is not taken.
func TestServerConnReferenceMode(t *testing.T) {
	var s ServerConn
	in := framesOf(t, searchRequest(t, "ring"), searchRequest(t, "morpheus"))
	req, n, err := s.Next(in, t0)
	require.NoError(t, err)
	require.NotZero(t, n)
	v, err := req.JSON()
	require.NoError(t, err)
	require.Equal(t, `{"action": "search", "value": "ring"}`, v.String())
	in = in[n:]

	_, n, err = s.Next(in, t0)
	require.NoError(t, err)
	require.Zero(t, n, "no second request before the first is answered")
	require.False(t, s.Done())

	out, err := s.Respond([]byte("prefix"), answerOf(t, "x"))
	require.NoError(t, err)
	require.Equal(t, "prefix", string(out[:6]), "appended to dst")
	require.Equal(t, decodeOne(t, out[6:]).Content, answerOf(t, "x").Content)
	require.True(t, s.Done())

	_, n, err = s.Next(in, t0)
	require.NoError(t, err)
	require.Zero(t, n, "no second request after the answer")
	_, ok := s.Deadline()
	require.False(t, ok, "a done connection waits for nothing")
	require.NoError(t, s.PeerClosed(in), "bytes after the answer are not a truncated request")
}

// With keep-alive, pipelined requests come out in order and the answers
// may be given as they come or later, in order.
func TestServerConnKeepAlivePipelined(t *testing.T) {
	s := ServerConn{Config: ServerConfig{KeepAlive: true}}
	queries := []string{"a", "b", "c"}
	var reqs []Message
	for _, q := range queries {
		reqs = append(reqs, searchRequest(t, q))
	}
	in := framesOf(t, reqs...)
	for i := range queries {
		req, n, err := s.Next(in, t0)
		require.NoError(t, err)
		require.NotZero(t, n, "request %d", i)
		requireSameMessage(t, reqs[i], req)
		in = in[n:]
	}
	_, n, err := s.Next(in, t0)
	require.NoError(t, err)
	require.Zero(t, n)
	var out []byte
	for range queries {
		out, err = s.Respond(out, answerOf(t, "x"))
		require.NoError(t, err)
	}
	require.False(t, s.Done())
	_, err = s.Respond(out, answerOf(t, "x"))
	require.ErrorIs(t, err, ErrUnsolicited, "an answer to nothing")
	_, _, err = s.Next(nil, t0)
	require.ErrorIs(t, err, ErrUnsolicited, "errors are sticky")
}

// MaxInFlight counts answers since the output was last flushed.
func TestServerConnMaxInFlight(t *testing.T) {
	s := ServerConn{Config: ServerConfig{KeepAlive: true, MaxInFlight: 2}}
	one := framesOf(t, searchRequest(t, "a"))
	serve := func() error {
		_, n, err := s.Next(one, t0)
		require.NoError(t, err)
		require.Equal(t, len(one), n)
		_, err = s.Respond(nil, answerOf(t, "x"))
		return err
	}
	require.NoError(t, serve())
	require.NoError(t, serve())
	s.Flushed()
	require.NoError(t, serve())
	require.NoError(t, serve())
	require.ErrorIs(t, serve(), ErrTooManyInFlight)
	_, _, err := s.Next(one, t0)
	require.ErrorIs(t, err, ErrTooManyInFlight, "sticky")
}

// A request that starts arriving must complete within MessageTimeout of
// its first bytes; each completed request starts the clock again.
func TestServerConnMessageTimeout(t *testing.T) {
	timeout := 10 * time.Second
	frame := framesOf(t, searchRequest(t, "a"))
	half := frame[:len(frame)/2]

	t.Run("no deadline without a partial request", func(t *testing.T) {
		var s ServerConn
		_, ok := s.Deadline()
		require.False(t, ok)
		_, _, err := s.Next(nil, t0)
		require.NoError(t, err)
		_, ok = s.Deadline()
		require.False(t, ok)
	})
	t.Run("stalled", func(t *testing.T) {
		s := ServerConn{Config: ServerConfig{MessageTimeout: timeout}}
		_, _, err := s.Next(half, t0)
		require.NoError(t, err)
		dl, ok := s.Deadline()
		require.True(t, ok)
		require.Equal(t, t0.Add(timeout), dl)
		// More bytes of the same request do not move the deadline.
		_, _, err = s.Next(frame[:len(frame)-1], t0.Add(timeout/2))
		require.NoError(t, err)
		dl, _ = s.Deadline()
		require.Equal(t, t0.Add(timeout), dl)
		_, _, err = s.Next(frame[:len(frame)-1], dl.Add(-time.Nanosecond))
		require.NoError(t, err, "not yet")
		_, _, err = s.Next(frame[:len(frame)-1], dl)
		require.ErrorIs(t, err, ErrMessageTimeout)
		require.ErrorIs(t, err, os.ErrDeadlineExceeded)
		require.True(t, os.IsTimeout(err), "a timeout to code written for net")
		_, ok = s.Deadline()
		require.False(t, ok)
	})
	t.Run("completing in time", func(t *testing.T) {
		s := ServerConn{Config: ServerConfig{KeepAlive: true, MessageTimeout: timeout}}
		_, _, err := s.Next(half, t0)
		require.NoError(t, err)
		// The request completes at the last moment, with half of the next.
		in := append(append([]byte{}, frame...), half...)
		_, n, err := s.Next(in, t0.Add(timeout))
		require.NoError(t, err, "a complete request is taken, however late")
		require.Equal(t, len(frame), n)
		_, err = s.Respond(nil, answerOf(t, "x"))
		require.NoError(t, err)
		s.Flushed()
		// The next one gets its own time from when it was first seen.
		now := t0.Add(timeout + time.Second)
		_, _, err = s.Next(in[n:], now)
		require.NoError(t, err)
		dl, ok := s.Deadline()
		require.True(t, ok)
		require.Equal(t, now.Add(timeout), dl)
		// All of it consumed: no wait.
		_, _, err = s.Next(nil, now)
		require.NoError(t, err)
		_, ok = s.Deadline()
		require.False(t, ok)
	})
	t.Run("unsent answers do not hold it", func(t *testing.T) {
		// A peer that never reads its answers, while it is still read,
		// must finish its request in time like any other.
		s := ServerConn{Config: ServerConfig{KeepAlive: true, MessageTimeout: timeout}}
		in := append(append([]byte{}, frame...), half...)
		_, n, err := s.Next(in, t0)
		require.NoError(t, err)
		_, err = s.Respond(nil, answerOf(t, "x"))
		require.NoError(t, err)
		_, _, err = s.Next(in[n:], t0)
		require.NoError(t, err)
		_, _, err = s.Next(in[n:], t0.Add(timeout))
		require.ErrorIs(t, err, ErrMessageTimeout)
	})
	t.Run("paused reading holds it", func(t *testing.T) {
		s := ServerConn{Config: ServerConfig{KeepAlive: true, MessageTimeout: timeout}}
		_, _, err := s.Next(half, t0)
		require.NoError(t, err)
		// The caller stops reading: the stall is its own, so the wait
		// starts again at every call while it lasts.
		s.ReadPaused(true)
		later := t0.Add(timeout)
		_, _, err = s.Next(half, later)
		require.NoError(t, err)
		dl, _ := s.Deadline()
		require.Equal(t, later.Add(timeout), dl, "the wait starts again")
		later = dl
		_, _, err = s.Next(half, later)
		require.NoError(t, err, "still paused")
		// Reading resumes: the peer gets a whole wait from the first call
		// after, however long the pause was.
		s.ReadPaused(false)
		resumed := later.Add(time.Second)
		_, _, err = s.Next(half, resumed)
		require.NoError(t, err)
		dl, _ = s.Deadline()
		require.Equal(t, resumed.Add(timeout), dl)
		_, _, err = s.Next(half, dl.Add(-time.Nanosecond))
		require.NoError(t, err, "not yet")
		_, _, err = s.Next(half, dl)
		require.ErrorIs(t, err, ErrMessageTimeout, "running again once resumed")
	})
	t.Run("a pause between calls counts", func(t *testing.T) {
		// Paused and resumed before the next call: the peer may have been
		// held back meanwhile, so its wait starts again once.
		s := ServerConn{Config: ServerConfig{MessageTimeout: timeout}}
		_, _, err := s.Next(half, t0)
		require.NoError(t, err)
		s.ReadPaused(true)
		s.ReadPaused(false)
		_, _, err = s.Next(half, t0.Add(timeout))
		require.NoError(t, err)
		_, _, err = s.Next(half, t0.Add(2*timeout))
		require.ErrorIs(t, err, ErrMessageTimeout)
	})
	t.Run("default and disabled", func(t *testing.T) {
		var s ServerConn
		_, _, err := s.Next(half, t0)
		require.NoError(t, err)
		dl, _ := s.Deadline()
		require.Equal(t, t0.Add(10*time.Second), dl)

		s = ServerConn{Config: ServerConfig{MessageTimeout: -1}}
		_, _, err = s.Next(half, t0)
		require.NoError(t, err)
		_, ok := s.Deadline()
		require.False(t, ok)
		_, _, err = s.Next(half, t0.Add(time.Hour))
		require.NoError(t, err)
	})
}

func TestServerConnLimitsAndErrors(t *testing.T) {
	frame := framesOf(t, NewBinaryMessage("x", []byte("12345")))
	s := ServerConn{Config: ServerConfig{MaxContentLength: 4}}
	_, _, err := s.Next(frame, t0)
	require.ErrorIs(t, err, ErrContentTooLarge)
	_, _, again := s.Next(frame, t0)
	require.Same(t, err, again)
	_, err = s.Respond(nil, answerOf(t, "x"))
	require.Same(t, err, again, "no answers on a failed connection")

	// An answer that cannot be encoded is the caller's error: the request
	// stays unanswered and the connection usable.
	var ok ServerConn
	_, n, err := ok.Next(frame, t0)
	require.NoError(t, err)
	require.Equal(t, len(frame), n)
	bad := Message{Header: Header{Extra: []Field{F("a", Value{}), F("a", Value{})}}}
	out, err := ok.Respond([]byte("keep"), bad)
	require.ErrorIs(t, err, ErrDuplicateKey)
	require.Equal(t, "keep", string(out))
	_, err = ok.Respond(nil, answerOf(t, "x"))
	require.NoError(t, err)
}

func TestServerConnPeerClosed(t *testing.T) {
	frame := framesOf(t, searchRequest(t, "a"))
	s := ServerConn{Config: ServerConfig{KeepAlive: true}}
	require.NoError(t, s.PeerClosed(nil), "between requests")
	err := s.PeerClosed(frame[:7])
	require.ErrorIs(t, err, ErrTruncated)
	require.Equal(t, "message: connection closed in the middle of a message (7 bytes of it received)", err.Error())
}

func TestClientConn(t *testing.T) {
	var c ClientConn
	// A response to nothing.
	reply := framesOf(t, answerOf(t, "one"), answerOf(t, "two"))
	_, _, err := c.Next(reply)
	require.ErrorIs(t, err, ErrUnsolicited)
	_, err = c.Send(nil, searchRequest(t, "a"))
	require.ErrorIs(t, err, ErrUnsolicited, "sticky")

	// Two requests in flight, answered in order, arriving in pieces.
	c = ClientConn{}
	out, err := c.Send(nil, searchRequest(t, "a"))
	require.NoError(t, err)
	out, err = c.Send(out, searchRequest(t, "b"))
	require.NoError(t, err)
	require.Equal(t, framesOf(t, searchRequest(t, "a"), searchRequest(t, "b")), out)
	_, n, err := c.Next(reply[:10])
	require.NoError(t, err)
	require.Zero(t, n)
	for _, want := range []string{"one", "two"} {
		resp, n, err := c.Next(reply)
		require.NoError(t, err)
		requireSameMessage(t, answerOf(t, want), resp)
		reply = reply[n:]
	}
	require.Empty(t, reply)

	// A request that cannot be encoded is not counted.
	bad := Message{Header: Header{Extra: []Field{F("content-length", Value{})}}}
	out, err = c.Send([]byte("keep"), bad)
	require.ErrorIs(t, err, ErrDuplicateKey)
	require.Equal(t, "keep", string(out))
	_, _, err = c.Next(framesOf(t, answerOf(t, "three")))
	require.ErrorIs(t, err, ErrUnsolicited)

	// A frame encoded away from the machine, counted by Expect.
	c = ClientConn{}
	frame, err := searchRequest(t, "c").AppendFrame(nil)
	require.NoError(t, err)
	require.NoError(t, c.Expect())
	require.Equal(t, framesOf(t, searchRequest(t, "c")), frame)
	resp, n, err := c.Next(framesOf(t, answerOf(t, "four")))
	require.NoError(t, err)
	require.NotZero(t, n)
	requireSameMessage(t, answerOf(t, "four"), resp)
	_, _, err = c.Next(framesOf(t, answerOf(t, "five")))
	require.ErrorIs(t, err, ErrUnsolicited, "one Expect, one response")
	require.ErrorIs(t, c.Expect(), ErrUnsolicited, "sticky")

	// The content limit.
	c = ClientConn{MaxContentLength: 4}
	_, err = c.Send(nil, searchRequest(t, "a"))
	require.NoError(t, err)
	_, _, err = c.Next(framesOf(t, NewBinaryMessage("x", []byte("12345"))))
	require.ErrorIs(t, err, ErrContentTooLarge)
	var pe *ProtocolError
	require.True(t, errors.As(err, &pe))
}
