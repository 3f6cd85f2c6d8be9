package loop

import (
	"errors"
	"fmt"
	"os"
)

var (
	// ErrClosed is returned when writing to a connection that is closed or
	// closing, and when closing one that is closed.
	ErrClosed = errors.New("loop: connection closed")
	// ErrStopped is the close reason of connections closed by Stop, and the
	// error of calls made on a stopped engine.
	ErrStopped = errors.New("loop: engine stopped")
	// ErrIdleTimeout is the close reason of a connection idle for longer than
	// its idle timeout. It matches os.ErrDeadlineExceeded with errors.Is and
	// its Timeout method reports true, for os.IsTimeout and net.Error.
	ErrIdleTimeout error = newTimeoutError("loop: idle timeout")
	// ErrFirstByteTimeout is the close reason of an accepted connection that
	// sent nothing within Options.FirstByteTimeout. It matches
	// os.ErrDeadlineExceeded with errors.Is and its Timeout method reports
	// true, for os.IsTimeout and net.Error.
	ErrFirstByteTimeout error = newTimeoutError("loop: no input since accept")
	// ErrLingerTimeout is the close reason of a closing connection whose
	// output did not drain within Options.LingerTimeout, so it was closed
	// hard; if it was closing with a reason, the error wraps that too. It
	// matches os.ErrDeadlineExceeded with errors.Is and its Timeout method
	// reports true, for os.IsTimeout and net.Error.
	ErrLingerTimeout error = newTimeoutError("loop: linger timeout, output dropped")
	// ErrReadDeadline is the close reason of a connection whose read deadline
	// (Conn.SetReadDeadline) passed. It matches os.ErrDeadlineExceeded with
	// errors.Is and its Timeout method reports true, for os.IsTimeout and
	// net.Error.
	ErrReadDeadline error = newTimeoutError("loop: read deadline passed")
	// ErrWriteDeadline is the close reason of a connection whose write
	// deadline (Conn.SetWriteDeadline) passed with output pending, which was
	// dropped; if it was closing with a reason, the error wraps that too. It
	// matches os.ErrDeadlineExceeded with errors.Is and its Timeout method
	// reports true, for os.IsTimeout and net.Error.
	ErrWriteDeadline error = newTimeoutError("loop: write deadline passed, output dropped")
	// ErrShed is the close reason of an idle connection closed to make room
	// for a new one (Options.MaxConns, or the process out of descriptors).
	ErrShed = errors.New("loop: connection shed to admit a new one")
	// ErrInputOverflow is the close reason of a connection whose unconsumed
	// input passed Options.MaxInput.
	ErrInputOverflow = errors.New("loop: unconsumed input over limit")
	// ErrMemoryBudget is the close reason of a connection closed because the
	// engine held more than Options.MaxMemory even with the connections over
	// their share paused, and it was among those holding the most.
	ErrMemoryBudget = errors.New("loop: engine memory budget exceeded; connection holding the most closed")
	// ErrShortInput is returned by Peek and Discard when fewer bytes are
	// buffered than asked for: the rest comes with a later OnData.
	ErrShortInput = errors.New("loop: fewer input bytes buffered than asked for")
	// ErrOutputOverflow is the close reason of a connection whose pending
	// output passed Options.MaxOutput.
	ErrOutputOverflow = errors.New("loop: pending output over limit")
	// ErrOnLoop is returned by the calls that wait for the loops
	// (Engine.Stop, Engine.Listen, and msgloop's Dial and Do) when they are
	// made on a loop goroutine, from a callback, timer, task or OnShutdown,
	// where waiting would wait for the caller itself and never end. Call
	// them from another goroutine; Engine.StopAsync stops without waiting.
	ErrOnLoop = errors.New("loop: call made on a loop goroutine would wait for itself; make it from another goroutine")
)

// PanicError is the close reason of a connection whose handler panicked.
type PanicError struct {
	Value any    // what the handler passed to panic, as recover returned it
	Stack []byte // the panicking goroutine's stack, as the engine logs it
}

// Error says that a handler panicked, and with what.
func (e *PanicError) Error() string { return fmt.Sprintf("loop: handler panic: %v", e.Value) }

// IsLimit reports whether err, a connection's close reason, is one of the
// engine's own limits rather than the peer's or the application's doing:
// a deadline (ErrIdleTimeout, ErrFirstByteTimeout, ErrLingerTimeout,
// ErrTLSRecordTimeout, a TLS handshake's timeout or stall, and the
// handler's own ErrReadDeadline and ErrWriteDeadline: all match
// os.ErrDeadlineExceeded), ErrShed, ErrMemoryBudget, ErrInputOverflow or
// ErrOutputOverflow. A server logs these so that an operator sees why a
// client was dropped; resets and closes are the peer's.
func IsLimit(err error) bool {
	for _, limit := range [...]error{os.ErrDeadlineExceeded, ErrShed, ErrMemoryBudget, ErrInputOverflow, ErrOutputOverflow} {
		if errors.Is(err, limit) {
			return true
		}
	}
	return false
}

// NewTimeoutError returns an error that reads "text: i/o timeout" and
// behaves as the engine's own time limits' errors (ErrIdleTimeout and the
// others) do, and as the error of a passed deadline on a net.Conn: it
// matches os.ErrDeadlineExceeded with errors.Is and its Timeout method
// reports true, so code written for net (a net.Error check, os.IsTimeout)
// knows it for a timeout, and IsLimit for a limit. It is for a limit of
// the application's own, a protocol's response timeout for example, to
// close connections with.
func NewTimeoutError(text string) error { return newTimeoutError(text) }

func newTimeoutError(text string) *timeoutError {
	return &timeoutError{msg: text + ": " + os.ErrDeadlineExceeded.Error()}
}

type timeoutError struct{ msg string }

func (e *timeoutError) Error() string   { return e.msg }
func (e *timeoutError) Timeout() bool   { return true }
func (e *timeoutError) Temporary() bool { return true } // as net's own deadline error says
func (e *timeoutError) Unwrap() error   { return os.ErrDeadlineExceeded }
