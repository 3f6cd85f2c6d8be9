//go:build unix

package shutdown

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOnSignal sends the test process SIGTERM, then SIGINT: the first
// cancels the context, the second exits (here: calls the stand-in for
// os.Exit) with 130.
func TestOnSignal(t *testing.T) {
	codes := make(chan int, 1)
	exit = func(code int) { codes <- code }
	ctx := OnSignal()
	require.NoError(t, syscall.Kill(syscall.Getpid(), syscall.SIGTERM))
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("SIGTERM did not cancel the context")
	}
	assert.Equal(t, syscall.SIGTERM, Caught(ctx))
	assert.Equal(t, "Caught SIGTERM, exiting", Line(Caught(ctx)))
	assert.Nil(t, Caught(context.Background()))
	require.NoError(t, syscall.Kill(syscall.Getpid(), syscall.SIGINT))
	select {
	case code := <-codes:
		assert.Equal(t, 130, code)
	case <-time.After(10 * time.Second):
		t.Fatal("the second signal did not exit")
	}
}
