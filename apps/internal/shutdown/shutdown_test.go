//go:build unix

package shutdown

import (
	"context"
	"errors"
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

type stopper func(ctx context.Context) error

func (f stopper) Stop(ctx context.Context) error { return f(ctx) }

// TestStopGivesGrace: Stop hands the engine a deadline Grace away and
// returns what its Stop says.
func TestStopGivesGrace(t *testing.T) {
	start := time.Now()
	errLate := errors.New("late")
	err := Stop(stopper(func(ctx context.Context) error {
		deadline, ok := ctx.Deadline()
		if !ok || deadline.Before(start.Add(Grace)) || deadline.After(time.Now().Add(Grace)) {
			t.Errorf("deadline %v after the call, want %v", deadline.Sub(start), Grace)
		}
		return errLate
	}))
	if err != errLate {
		t.Errorf("Stop returned %v", err)
	}
}
