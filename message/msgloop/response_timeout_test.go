package msgloop_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evsel/evsel/message"
	"github.com/evsel/evsel/message/msgloop"
)

// sendAll sends n requests at once and returns the channel their results
// come on.
func sendAll(cc *msgloop.ClientConn, req message.Message, n int) <-chan error {
	results := make(chan error, n)
	for range n {
		cc.Send(req, func(_ message.Message, err error) { results <- err })
	}
	return results
}

// TestClientResponseTimeout: a server that reads requests and never
// answers fails every waiting one with ErrResponseTimeout, once the
// timeout has passed, and not before.
func TestClientResponseTimeout(t *testing.T) {
	const timeout = 100 * time.Millisecond
	addr, req := slowServer(t, 0, -1)
	// Before the dial: the timer counts from the loop's clock, read at the
	// start of the iteration that sends, which may be before Send is called.
	start := time.Now()
	cc, ctx := rawClientWith(t, addr, msgloop.ClientOptions{ResponseTimeout: timeout})
	results := sendAll(cc, req, 3)
	for range 3 {
		select {
		case err := <-results:
			require.ErrorIs(t, err, msgloop.ErrResponseTimeout)
			assert.ErrorIs(t, err, os.ErrDeadlineExceeded)
			var ne net.Error
			if assert.ErrorAs(t, err, &ne) {
				assert.True(t, ne.Timeout(), "a timeout to code written for net")
			}
		case <-ctx.Done():
			t.Fatal("the waiting requests did not fail")
		}
	}
	assert.GreaterOrEqual(t, time.Since(start), timeout, "failed before the timeout")
	// The connection is gone: a later request fails at once with the same
	// reason.
	select {
	case err := <-sendAll(cc, req, 1):
		assert.ErrorIs(t, err, msgloop.ErrResponseTimeout)
	case <-ctx.Done():
		t.Fatal("a request on the closed connection did not fail")
	}
}

// TestClientResponseTimeoutMovesWithResponses: the timeout bounds the wait
// for the next response, not for all of them. A server answering each of
// twelve pipelined requests 50 ms after the one before takes 600 ms for
// all, past a 400 ms timeout, and every request is answered.
func TestClientResponseTimeoutMovesWithResponses(t *testing.T) {
	const timeout, delay, n = 400 * time.Millisecond, 50 * time.Millisecond, 12
	addr, req := slowServer(t, 0, delay)
	cc, ctx := rawClientWith(t, addr, msgloop.ClientOptions{ResponseTimeout: timeout})
	start := time.Now()
	results := sendAll(cc, req, n)
	for range n {
		select {
		case err := <-results:
			require.NoError(t, err)
		case <-ctx.Done():
			t.Fatal("the requests were not answered")
		}
	}
	require.Greater(t, time.Since(start), timeout, "the server was quicker than the test needs")
}

// TestClientResponseTimeoutAfterAnswers: a server that answers some of
// the pipelined requests and then stops fails the rest: the timer the
// answers moved is still armed for those behind them.
func TestClientResponseTimeoutAfterAnswers(t *testing.T) {
	const timeout, n, answered = 200 * time.Millisecond, 5, 2
	addr, req := silentServer(t, 0, 0, answered)
	cc, ctx := rawClientWith(t, addr, msgloop.ClientOptions{ResponseTimeout: timeout})
	results := sendAll(cc, req, n)
	for i := range n {
		select {
		case err := <-results:
			if i < answered {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, msgloop.ErrResponseTimeout)
			}
		case <-ctx.Done():
			t.Fatal("the unanswered requests did not fail")
		}
	}
}

// TestClientResponseTimeoutIdle: a connection with nothing waiting is not
// closed by the timeout; the next request after a quiet spell longer than
// it is answered on the same connection.
func TestClientResponseTimeoutIdle(t *testing.T) {
	const timeout = 200 * time.Millisecond
	addr, req := rawServer(t, 0)
	cc, ctx := rawClientWith(t, addr, msgloop.ClientOptions{ResponseTimeout: timeout})
	_, err := cc.Do(ctx, req)
	require.NoError(t, err)
	time.Sleep(4 * timeout)
	_, err = cc.Do(ctx, req)
	require.NoError(t, err, "the idle connection was closed")
}

// TestClientResponseTimeoutDisabled: a negative ResponseTimeout leaves the
// requests waiting, however long the server takes, until the connection
// closes.
func TestClientResponseTimeoutDisabled(t *testing.T) {
	addr, req := slowServer(t, 0, -1)
	cc, _ := rawClientWith(t, addr, msgloop.ClientOptions{ResponseTimeout: -1})
	results := sendAll(cc, req, 1)
	select {
	case err := <-results:
		t.Fatalf("the request ended without a close: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	// Not merely the 30 s default, longer than the wait above: no timer.
	assert.False(t, cc.ResponseTimerArmed(), "a response timeout is armed")
	require.NoError(t, cc.Close())
	err := <-results
	require.Error(t, err)
	assert.False(t, errors.Is(err, msgloop.ErrResponseTimeout), "failed for a timeout: %v", err)
}

// TestClientResponseTimeoutServerNotReading: a server that takes neither
// the requests nor answers leaves them queued on the client; the timeout
// still fails them, dropping what is queued rather than waiting to send
// it.
func TestClientResponseTimeoutServerNotReading(t *testing.T) {
	const timeout = 100 * time.Millisecond
	addr := serveOne(t, func(_ net.Conn, stop <-chan struct{}) { <-stop }) // never reads
	cc, ctx := rawClientWith(t, addr, msgloop.ClientOptions{ResponseTimeout: timeout})
	// More than the kernel's buffers on both sides take.
	req := message.NewBinaryMessage("binary/custom-client-binary-type", make([]byte, 1<<20))
	const n = 16
	results := sendAll(cc, req, n)
	for range n {
		select {
		case err := <-results:
			require.ErrorIs(t, err, msgloop.ErrResponseTimeout)
		case <-ctx.Done():
			t.Fatal("the queued requests did not fail")
		}
	}
}

// TestClientResponseTimeoutSlowResponse: bytes of a response arriving
// count as the server answering. A response trickled in eight pieces
// 60 ms apart takes 420 ms, past a 200 ms timeout, and is received whole.
func TestClientResponseTimeoutSlowResponse(t *testing.T) {
	const timeout, gap, pieces = 200 * time.Millisecond, 60 * time.Millisecond, 8
	req := message.NewBinaryMessage("binary/custom-client-binary-type", []byte("slowly, please"))
	reqFrame, err := req.AppendFrame(nil)
	require.NoError(t, err)
	resp := message.NewBinaryMessage("binary/custom-server-binary-type", bytes.Repeat([]byte("x"), 400))
	respFrame, err := resp.AppendFrame(nil)
	require.NoError(t, err)
	addr := serveOne(t, func(c net.Conn, _ <-chan struct{}) {
		if _, err := io.ReadFull(c, make([]byte, len(reqFrame))); err != nil {
			return
		}
		piece := (len(respFrame) + pieces - 1) / pieces
		for p := respFrame; len(p) > 0; p = p[min(piece, len(p)):] {
			time.Sleep(gap)
			if _, err := c.Write(p[:min(piece, len(p))]); err != nil {
				return
			}
		}
		io.Copy(io.Discard, c) // until the client closes
	})
	cc, ctx := rawClientWith(t, addr, msgloop.ClientOptions{ResponseTimeout: timeout})
	start := time.Now()
	got, err := cc.Do(ctx, req)
	require.NoError(t, err)
	assert.Equal(t, resp.Content, got.Content)
	require.Greater(t, time.Since(start), timeout, "the server was quicker than the test needs")
}
