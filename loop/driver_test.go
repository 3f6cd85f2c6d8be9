package loop

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evsel/evsel"
	"github.com/evsel/evsel/internal/testdriver"
)

// TestDriverReported: Engine.Driver says what the loops run on: the
// driver the suite runs on (testdriver.Name), else the platform's best poller.
func TestDriverReported(t *testing.T) {
	e, addr := start(t, echo, Options{Loops: 2})
	want := testdriver.Name
	if want == "" {
		want = evsel.Backends()[0]
	}
	assert.Equal(t, want, e.Driver())
	assert.Equal(t, []byte("driver"), roundTrip(t, dial(t, addr), []byte("driver")))
}

// lockedBuffer is a log sink for a test's engine, safe across loops.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *lockedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// TestDriverFallback: io_uring asked for where the kernel lacks an
// operation the driver needs (forced here with one no kernel has, as on a
// kernel without io_uring, with it disabled or blocked by seccomp) falls
// back to the readiness driver, says why once in the log, and serves.
func TestDriverFallback(t *testing.T) {
	saved := uringRequired
	uringRequired = []evsel.UringOp{255}
	t.Cleanup(func() { uringRequired = saved })
	var logged lockedBuffer
	e, addr := start(t, echo, Options{Loops: 2, Driver: DriverIOUring,
		Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	assert.Equal(t, evsel.Backends()[0], e.Driver())
	assert.Equal(t, []byte("fallback"), roundTrip(t, dial(t, addr), []byte("fallback")))
	assert.Equal(t, 1, strings.Count(logged.String(), "falling back"), logged.String())
}

// TestDriverUnknown: a driver name the platform has not is an error.
func TestDriverUnknown(t *testing.T) {
	_, err := New(echo, Options{Driver: "nonesuch", Logger: quietLog})
	require.ErrorIs(t, err, evsel.ErrNoBackend)
}
