// Package shutdown is how the programs end on a signal: the first SIGINT
// (Ctrl-C) or SIGTERM (what service managers send) starts a graceful stop,
// after which the program prints its summary and exits 0; a second signal
// exits at once, with status 128 plus its number (130 for SIGINT, 143 for
// SIGTERM), which is what a shell reports for a process the signal killed.
package shutdown

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Signals are the signals that stop the programs.
var Signals = []os.Signal{os.Interrupt, syscall.SIGTERM}

// signalCause is the cancellation cause of a Context ended by a signal.
type signalCause struct{ sig os.Signal }

func (c signalCause) Error() string { return "caught " + c.sig.String() }

// exit is os.Exit, replaced in tests.
var exit = os.Exit

// OnSignal returns a context cancelled by the first of Signals to arrive;
// Caught tells which. From then on the next one exits the process at once.
// Call it early, so a signal arriving during start-up is not fatal.
func OnSignal() context.Context {
	ctx, cancel := context.WithCancelCause(context.Background())
	// Room for both signals: delivery to a full channel drops the signal.
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, Signals...)
	go func() {
		first := <-ch
		cancel(signalCause{first})
		second := <-ch
		exit(ExitCode(second))
	}()
	return ctx
}

// Caught returns the signal that ended ctx, a context from OnSignal, or nil.
func Caught(ctx context.Context) os.Signal {
	if c, ok := context.Cause(ctx).(signalCause); ok {
		return c.sig
	}
	return nil
}

// ExitCode is the status for a process ended by sig: 128 plus its number.
func ExitCode(sig os.Signal) int {
	if s, ok := sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return 1
}

// Line is what the programs print when sig stops them: Python's line for
// Ctrl-C (KeyboardInterrupt), and one naming the signal otherwise.
func Line(sig os.Signal) string {
	if sig == os.Interrupt {
		return "Caught keyboard interrupt, exiting"
	}
	if s, ok := sig.(syscall.Signal); ok && s == syscall.SIGTERM {
		return "Caught SIGTERM, exiting"
	}
	return "Caught signal " + sig.String() + ", exiting"
}

// Grace is how long a stopping program lets its engine send the output
// its connections still hold before what is left is closed.
const Grace = 2 * time.Second

// Stop stops s, an engine or a server on one, waiting at most Grace.
func Stop(s interface{ Stop(context.Context) error }) error {
	ctx, cancel := context.WithTimeout(context.Background(), Grace)
	defer cancel()
	return s.Stop(ctx)
}
