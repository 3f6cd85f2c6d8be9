package msgloop_test

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evsel/evsel/apps/refapp"
	"github.com/evsel/evsel/message"
	"github.com/evsel/evsel/message/msgloop"
)

// TestClientQueueBounded: a connection that always has a request in
// flight, as a pipelining client's has, never finds its queue of waiting
// requests empty; the queue must still keep only those in flight, not
// every request the connection ever sent.
func TestClientQueueBounded(t *testing.T) {
	req := refapp.ClientRequest("search", "morpheus")
	reqFrame, err := req.AppendFrame(nil)
	require.NoError(t, err)
	respFrame, err := message.NewBinaryMessage("binary/custom-server-binary-type", []byte("answer")).AppendFrame(nil)
	require.NoError(t, err)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, len(reqFrame))
		// One behind: a request is answered once the next has come, so
		// the client always has one in flight.
		if _, err := io.ReadFull(c, buf); err != nil {
			return
		}
		for {
			if _, err := io.ReadFull(c, buf); err != nil {
				return
			}
			if _, err := c.Write(respFrame); err != nil {
				return
			}
		}
	}()

	cl, err := msgloop.NewClient(msgloop.ClientOptions{})
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cc, err := cl.Dial(ctx, "tcp", ln.Addr().String())
	require.NoError(t, err)

	// Each response sends the next request: the one behind it is still
	// in flight (the server answers it only once the next has come).
	const total = 20000
	finished := make(chan error, 1)
	answered := 0
	var next func(message.Message, error)
	next = func(_ message.Message, err error) {
		if answered == total {
			return // the last request, unanswered, fails on the close
		}
		if err != nil {
			finished <- err
			return
		}
		if answered++; answered == total {
			finished <- nil
			return
		}
		cc.Send(req, next)
	}
	cc.Send(req, next)
	cc.Send(req, next)
	select {
	case err := <-finished:
		require.NoError(t, err)
	case <-ctx.Done():
		t.Fatal("the requests were not answered")
	}
	assert.LessOrEqual(t, cc.WaitingCap(), 64, "the queue grew with every request sent")
	require.NoError(t, cc.Close())
}
