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
	// its idle timeout. It matches os.ErrDeadlineExceeded with errors.Is.
	ErrIdleTimeout = fmt.Errorf("loop: idle timeout: %w", os.ErrDeadlineExceeded)
	// ErrInputOverflow is the close reason of a connection whose unconsumed
	// input passed Options.MaxInput.
	ErrInputOverflow = errors.New("loop: unconsumed input over limit")
	// ErrShortInput is returned by Peek and Discard when fewer bytes are
	// buffered than asked for: the rest comes with a later OnData.
	ErrShortInput = errors.New("loop: fewer input bytes buffered than asked for")
	// ErrOutputOverflow is the close reason of a connection whose pending
	// output passed Options.MaxOutput.
	ErrOutputOverflow = errors.New("loop: pending output over limit")
	// ErrOnLoop is returned at once by the calls that wait for the loops
	// (Engine.Stop, Engine.Listen) when they are made on a loop goroutine,
	// from a callback, timer, task or OnShutdown, where waiting would wait
	// for the caller itself and never end. Call them from another goroutine,
	// or use Engine.StopAsync.
	ErrOnLoop = errors.New("loop: call made on a loop goroutine would wait for itself; call it from outside the loops, or use StopAsync")
)

// PanicError is the close reason of a connection whose handler panicked.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("loop: handler panic: %v", e.Value) }
