package msgloop_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evsel/evsel/message"
)

// TestClientQueueBounded: a connection that always has a request in
// flight, as a pipelining client's has, never finds its queue of waiting
// requests empty; the queue must still keep only those in flight, not
// every request the connection ever sent.
func TestClientQueueBounded(t *testing.T) {
	// One behind: a request is answered once the next has come, so the
	// client always has one in flight.
	addr, req := rawServer(t, 1)
	cc, ctx := rawClient(t, addr)

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
}
