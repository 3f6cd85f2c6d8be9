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

// TestClientDoAllocs: a request-response exchange through ClientConn.Do
// allocates one object once warm, the response's content, which leaves the
// loop and is the caller's to keep: the request is encoded into a pooled
// frame on the caller's goroutine, the task and the wait are pooled, the
// queue of waiting requests keeps its array. The server, a goroutine
// reading each request whole and writing one prepared response, allocates
// nothing itself.
func TestClientDoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own; CI runs this test without -race")
	}
	req := refapp.ClientRequest("search", "morpheus")
	reqFrame, err := req.AppendFrame(nil)
	require.NoError(t, err)
	respFrame, err := message.NewBinaryMessage("binary/custom-server-binary-type", []byte("answer")).AppendFrame(nil)
	require.NoError(t, err)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	served := make(chan struct{})
	go func() {
		defer close(served)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, len(reqFrame))
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
	do := func() {
		resp, err := cc.Do(ctx, req)
		if err != nil || string(resp.Content) != "answer" { // no allocation of its own
			t.Fatalf("Do: %q, %v", resp.Content, err)
		}
	}
	for range 100 {
		do() // warm up: the pools, the output chunks
	}
	assert.LessOrEqual(t, testing.AllocsPerRun(500, do), 1.0)
	require.NoError(t, cc.Close())
	<-served
}
