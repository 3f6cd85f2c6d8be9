package msgloop_test

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/evsel/evsel/apps/refapp"
	"github.com/evsel/evsel/message"
	"github.com/evsel/evsel/message/msgloop"
)

// rawResponse is the content of rawServer's every response.
const rawResponse = "answer"

// rawServer serves one connection from a goroutine on a net listener: it
// reads requests of req's size, which it returns, and answers each with
// one prepared frame, so it allocates nothing per request. behind is how
// many requests it reads before it answers the first: with 1, a client
// always has a request in flight. It stops when the client closes.
func rawServer(t *testing.T, behind int) (addr string, req message.Message) {
	t.Helper()
	return slowServer(t, behind, 0)
}

// slowServer is rawServer waiting delay before each answer; with a
// negative delay it reads and never answers.
func slowServer(t *testing.T, behind int, delay time.Duration) (addr string, req message.Message) {
	t.Helper()
	return silentServer(t, behind, delay, -1)
}

// silentServer is slowServer that answers only the first answers requests
// (all of them if answers is negative), then reads on and never answers.
func silentServer(t *testing.T, behind int, delay time.Duration, answers int) (addr string, req message.Message) {
	t.Helper()
	req = refapp.ClientRequest("search", "morpheus")
	reqFrame, err := req.AppendFrame(nil)
	require.NoError(t, err)
	respFrame, err := message.NewBinaryMessage("binary/custom-server-binary-type", []byte(rawResponse)).AppendFrame(nil)
	require.NoError(t, err)
	addr = serveOne(t, func(c net.Conn, _ <-chan struct{}) {
		buf := make([]byte, len(reqFrame))
		for range behind {
			if _, err := io.ReadFull(c, buf); err != nil {
				return
			}
		}
		for {
			if _, err := io.ReadFull(c, buf); err != nil {
				return
			}
			if delay < 0 || answers == 0 {
				continue
			}
			answers--
			time.Sleep(delay)
			if _, err := c.Write(respFrame); err != nil {
				return
			}
		}
	})
	return addr, req
}

// serveOne accepts one connection on a new loopback listener and runs
// serve with it on a goroutine of its own; it returns the address. When
// the test ends, stop is closed, then the listener and the connection,
// and the cleanup waits for serve to return.
func serveOne(t *testing.T, serve func(c net.Conn, stop <-chan struct{})) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	stop, served := make(chan struct{}), make(chan struct{})
	accepted := make(chan net.Conn, 1)
	t.Cleanup(func() {
		close(stop)
		ln.Close()
		select {
		case c := <-accepted:
			c.Close()
		default:
		}
		<-served
	})
	go func() {
		defer close(served)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		accepted <- c
		serve(c, stop)
	}()
	return ln.Addr().String()
}

// rawClient dials addr with a new Client; ctx bounds the test.
func rawClient(t *testing.T, addr string) (cc *msgloop.ClientConn, ctx context.Context) {
	t.Helper()
	return rawClientWith(t, addr, msgloop.ClientOptions{})
}

// rawClientWith is rawClient with the client's options.
func rawClientWith(t *testing.T, addr string, opts msgloop.ClientOptions) (cc *msgloop.ClientConn, ctx context.Context) {
	t.Helper()
	cl, err := msgloop.NewClient(opts)
	require.NoError(t, err)
	t.Cleanup(func() { cl.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	cc, err = cl.Dial(ctx, "tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { cc.Close() })
	return cc, ctx
}
