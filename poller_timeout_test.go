//go:build unix || windows

package evsel

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestTimeoutMillis: rounding up keeps a short timeout from becoming a
// busy look, and the far end saturates rather than wrapping (a loop timer
// set for math.MaxInt64 asks for a wait that long).
func TestTimeoutMillis(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want int
	}{
		{-1, -1}, {0, 0}, {1, 1}, {time.Millisecond, 1}, {time.Millisecond + 1, 2},
		{math.MaxInt32 * time.Millisecond, math.MaxInt32},
		{math.MaxInt32*time.Millisecond + 1, math.MaxInt32},
		{math.MaxInt64, math.MaxInt32},
		{math.MaxInt64 - time.Millisecond + 2, math.MaxInt32},
	} {
		assert.Equal(t, c.want, timeoutMillis(c.d), "timeoutMillis(%d)", int64(c.d))
	}
}

// TestDeadlineFirstWaitWhole: the first wait gets the whole timeout, so a
// timeout of a nanosecond waits the millisecond it rounds up to rather
// than being spent before the wait begins; retries after EINTR get what is
// left, down to zero.
func TestDeadlineFirstWaitWhole(t *testing.T) {
	dl := newDeadline(time.Nanosecond)
	time.Sleep(time.Millisecond)
	assert.Equal(t, time.Nanosecond, dl.remaining(), "first")
	assert.Zero(t, dl.remaining(), "a retry once it passed")
	for _, d := range []time.Duration{0, -1} {
		dl := newDeadline(d)
		assert.Equal(t, d, dl.remaining())
		assert.Equal(t, d, dl.remaining())
	}
}

// TestMillisDeadlineRetryWaits: for the backends that wait in whole
// milliseconds, a retry after EINTR waits out the millisecond the timeout
// rounded up to, so a Select(1ns) interrupted early does not poll.
func TestMillisDeadlineRetryWaits(t *testing.T) {
	dl := newMillisDeadline(time.Nanosecond)
	assert.Equal(t, time.Millisecond, dl.remaining(), "first")
	assert.Equal(t, 1, timeoutMillis(dl.remaining()), "a retry at once still waits")
	time.Sleep(2 * time.Millisecond)
	assert.Zero(t, dl.remaining(), "a retry once it passed")
	for _, d := range []time.Duration{0, -1} {
		dl := newMillisDeadline(d)
		assert.Equal(t, d, dl.remaining())
	}
}
