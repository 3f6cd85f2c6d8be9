package msgloop_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
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
	addr, req := rawServer(t, 0)
	cc, ctx := rawClient(t, addr)
	do := func() {
		resp, err := cc.Do(ctx, req)
		if err != nil || string(resp.Content) != rawResponse { // no allocation of its own
			t.Fatalf("Do: %q, %v", resp.Content, err)
		}
	}
	for range 100 {
		do() // warm up: the pools, the output chunks
	}
	assert.LessOrEqual(t, testing.AllocsPerRun(500, do), 1.0)
}
