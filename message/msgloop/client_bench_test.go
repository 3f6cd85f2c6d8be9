package msgloop_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/evsel/evsel/apps/refapp"
	"github.com/evsel/evsel/loop"
	"github.com/evsel/evsel/message"
	"github.com/evsel/evsel/message/msgloop"
)

// BenchmarkClientDo: one goroutine's request-response exchanges with
// ClientConn.Do over a kept-alive connection, server and client one loop
// each. Run it with -cpu 1,2: with one P the caller waits for the loop to
// let go of it (slow-calls/op, the share over a millisecond, shows a loop
// that kept the P while the caller it had answered could not run).
func BenchmarkClientDo(b *testing.B) {
	s, err := msgloop.NewServer(refapp.ServerResponse, msgloop.ServerOptions{
		Loop:         loop.Options{Loops: 1},
		ServerConfig: message.ServerConfig{KeepAlive: true},
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	require.NoError(b, err)
	defer s.Stop(context.Background())
	addr, err := s.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	cl, err := msgloop.NewClient(msgloop.ClientOptions{Loop: loop.Options{Loops: 1}})
	require.NoError(b, err)
	defer cl.Close()
	ctx := context.Background()
	cc, err := cl.Dial(ctx, "tcp", addr.String())
	require.NoError(b, err)
	req := refapp.ClientRequest("search", "morpheus")
	slow := 0
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		if _, err := cc.Do(ctx, req); err != nil {
			b.Fatal(err)
		}
		if time.Since(start) > time.Millisecond {
			slow++
		}
	}
	b.ReportMetric(float64(slow)/float64(b.N), "slow-calls/op")
}
