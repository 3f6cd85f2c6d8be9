package msgloop_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/evsel/evsel/apps/refapp"
	"github.com/evsel/evsel/internal/sockettest"
	"github.com/evsel/evsel/loop"
	"github.com/evsel/evsel/message"
	"github.com/evsel/evsel/message/msgloop"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// bigAnswerServer answers every request with 64 KiB, from a send buffer of
// 16 KiB, so that a client which does not read (and dials with a small
// receive buffer, pipelineThenHalf) leaves answers pending in the engine
// after a few requests.
func bigAnswerServer(t *testing.T, highWater int, timeout time.Duration) (string, *logBuffer, *loop.Engine) {
	t.Helper()
	big := bytes.Repeat([]byte("x"), 64<<10)
	h := func(message.Message) (message.Message, error) {
		return message.NewBinaryMessage("binary/custom", big), nil
	}
	logs := &logBuffer{}
	s, err := msgloop.NewServer(h, msgloop.ServerOptions{
		ServerConfig: message.ServerConfig{KeepAlive: true, MessageTimeout: timeout},
		Loop:         loop.Options{Loops: 1, HighWater: highWater, LingerTimeout: time.Second},
		Logger:       slog.New(slog.NewTextHandler(logs, nil)),
		Hooks:        msgloop.ServerHooks{Open: func(c *loop.Conn) { c.SetWriteBuffer(16 << 10) }},
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		assert.NoError(t, s.Stop(ctx))
	})
	a, err := s.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	return a.String(), logs, s.Engine()
}

// pipelineThenHalf connects to addr and sends, in one write as the
// client's machine would, n pipelined requests and the first half of one
// more; it returns the rest of that last request. The client's receive
// buffer is small, so that what it holds of the answers before it reads
// does not depend on the system's default (tcp_rmem).
func pipelineThenHalf(t *testing.T, addr string, n int) (net.Conn, *blockingClient, []byte) {
	t.Helper()
	c, err := sockettest.SmallBufferDialer().Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	b := newBlockingClient(t, c)
	var out []byte
	for range n + 1 {
		out, err = b.m.Send(out, refapp.ClientRequest("search", "ring"))
		require.NoError(t, err)
	}
	cut := len(out) - len(frameOf(t, refapp.ClientRequest("search", "ring")))/2
	_, err = c.Write(out[:cut])
	require.NoError(t, err)
	return c, b, out[cut:]
}

// A peer that never reads its answers, while the engine still reads it
// (its pending output is under HighWater), must finish a request it has
// started in MessageTimeout like any other peer: its unread answers are no
// licence to hold a half-sent request, and the memory it pins, forever.
func TestMessageTimeoutWithAnswersUnread(t *testing.T) {
	const timeout = 300 * time.Millisecond
	addr, logs, e := bigAnswerServer(t, 4<<20, timeout)
	// Eight answers, 512 KiB, are far more than the kernel's buffers hold
	// for a peer that does not read (both are set small), and far less
	// than HighWater.
	pipelineThenHalf(t, addr, 8)
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "incomplete message timed out") },
		5*time.Second, 10*time.Millisecond, "the half-sent request is held; log:\n%s", logs.String())
	// The premise, without which the above proves nothing: the answers
	// were still in the engine, unread, when the timeout closed the
	// connection, so that the close waited on them until the linger
	// deadline.
	require.Eventually(t, func() bool { return e.Stats().LingerClosed == 1 },
		5*time.Second, 10*time.Millisecond, "the kernel took every answer: %+v", e.Stats())
}

// While the engine has stopped reading a connection because its answers
// are past HighWater, the stall is the server's: the half-sent request that
// came in with the pipelined ones is not timed out, however long the peer
// takes to read, and completes once it has.
func TestMessageTimeoutHeldWhileReadingPaused(t *testing.T) {
	const timeout = 500 * time.Millisecond // the client's time after the resume, under -race too
	addr, logs, _ := bigAnswerServer(t, 64<<10, timeout)
	// The half request arrives with the rest; the message timer runs out
	// several times while the client does not read.
	c, b, rest := pipelineThenHalf(t, addr, 8)
	time.Sleep(3 * timeout)
	for i := range 8 {
		resp, err := b.read()
		require.NoError(t, err, "answer %d", i)
		require.Len(t, resp.Content, 64<<10)
	}
	_, err := c.Write(rest)
	require.NoError(t, err)
	resp, err := b.read()
	require.NoError(t, err, "log:\n%s", logs.String())
	require.Len(t, resp.Content, 64<<10)
	assert.NotContains(t, logs.String(), "timed out")
}

// A connection the engine closes for one of its own limits is logged with
// the reason, as a protocol fault is, so that an operator sees why a
// client was dropped.
func TestEngineCloseLogged(t *testing.T) {
	addr, logs := startServer(t, msgloop.ServerOptions{
		ServerConfig: message.ServerConfig{KeepAlive: true},
		// Not 100 ms: the peer that resets waits 20 ms first, and had it
		// been idle past the timeout by then (a loaded machine), the
		// server would have closed it for idleness too, a second line.
		Loop: loop.Options{IdleTimeout: 500 * time.Millisecond},
	})
	// A peer that resets in the middle of a request: its doing, not the
	// server's, so not worth a line above Debug. (Wine reports the reset
	// as a close, and the truncated request is logged as such: that is
	// the protocol's line, not the engine's.)
	reset, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	_, err = reset.Write(frameOf(t, refapp.ClientRequest("search", "ring"))[:10])
	require.NoError(t, err)
	time.Sleep(20 * time.Millisecond)
	require.NoError(t, reset.(*net.TCPConn).SetLinger(0))
	reset.Close()

	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	resp := exchange(t, c, refapp.ClientRequest("search", "ring"))
	assert.Equal(t, "Got result: "+refapp.SearchAnswer("ring"), resultOf(t, resp))
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "idle timeout") },
		5*time.Second, 10*time.Millisecond, "log:\n%s", logs.String())
	assert.Equal(t, 1, strings.Count(logs.String(), `msg="message: connection closed"`), "log:\n%s", logs.String())
	assert.NotContains(t, logs.String(), "reset", "a reset logged above Debug")
}
