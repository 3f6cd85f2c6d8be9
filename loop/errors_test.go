package loop

import (
	"errors"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestTimeoutErrors: every time limit's error is a timeout to each of the
// three checks code written for net makes, wrapped or not, as a passed
// deadline's error on a net.Conn is; the other limits are not.
func TestTimeoutErrors(t *testing.T) {
	timeouts := map[string]error{
		"ErrIdleTimeout":         ErrIdleTimeout,
		"ErrFirstByteTimeout":    ErrFirstByteTimeout,
		"ErrLingerTimeout":       ErrLingerTimeout,
		"ErrReadDeadline":        ErrReadDeadline,
		"ErrWriteDeadline":       ErrWriteDeadline,
		"ErrTLSHandshakeTimeout": ErrTLSHandshakeTimeout,
		"ErrTLSHandshakeStalled": ErrTLSHandshakeStalled,
		"ErrTLSRecordTimeout":    ErrTLSRecordTimeout,
		"NewTimeoutError":        NewTimeoutError("app: no answer"),
	}
	for name, err := range timeouts {
		t.Run(name, func(t *testing.T) {
			assert.ErrorIs(t, err, os.ErrDeadlineExceeded)
			assert.True(t, os.IsTimeout(err), "os.IsTimeout")
			var ne net.Error
			if assert.ErrorAs(t, err, &ne) {
				assert.True(t, ne.Timeout())
			}
			assert.True(t, strings.HasSuffix(err.Error(), ": i/o timeout"), err.Error())
			assert.True(t, IsLimit(err))
			// Wrapped, as a close reason may be (closingFor, a
			// TLSHandshakeError): errors.Is and errors.As still find it.
			for _, wrapped := range []error{
				closingFor(err, errors.New("cause")),
				&TLSHandshakeError{Err: err},
			} {
				assert.ErrorIs(t, wrapped, err)
				var ne net.Error
				if assert.ErrorAs(t, wrapped, &ne) {
					assert.True(t, ne.Timeout())
				}
				// What OnClose gets is a timeout to os.IsTimeout and a
				// net.Error assertion too, as a net.OpError is.
				assert.True(t, os.IsTimeout(wrapped), "os.IsTimeout(%v)", wrapped)
				if ne, ok := wrapped.(net.Error); assert.True(t, ok, "a net.Error: %v", wrapped) {
					assert.True(t, ne.Timeout())
				}
			}
		})
	}
	assert.Equal(t, "app: no answer: i/o timeout", NewTimeoutError("app: no answer").Error())
	assert.NotErrorIs(t, NewTimeoutError("a"), NewTimeoutError("a"), "each call makes an error of its own")
	for _, err := range []error{ErrShed, ErrMemoryBudget, ErrInputOverflow, ErrOutputOverflow, ErrClosed} {
		assert.False(t, os.IsTimeout(err), err.Error())
		var ne net.Error
		assert.False(t, errors.As(err, &ne), err.Error())
		assert.False(t, os.IsTimeout(closingFor(err, errors.New("cause"))), err.Error())
		assert.False(t, os.IsTimeout(&TLSHandshakeError{Err: err}), err.Error())
	}
}
