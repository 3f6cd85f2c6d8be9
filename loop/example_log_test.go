package loop_test

import (
	"context"
	"log/slog"
	"os"

	"github.com/evsel/evsel/loop"
)

// A Logger of the application's own that never makes a loop wait for its
// writer, as the engine's default does: the records go to the text handler
// on a goroutine of the QueuedHandler's, and Flush waits for them (the
// engine flushes it too, before Done is closed).
func ExampleQueuedHandler() {
	text := slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{} // the example's output must not change
			}
			return a
		},
	})
	queued := loop.NewQueuedHandler(text)
	log := slog.New(queued)
	e, err := loop.New(loop.Funcs{}, loop.Options{Loops: 1, Logger: log}) // the engine's reports go there too
	if err != nil {
		panic(err)
	}
	defer e.Stop(context.Background())
	log.Info("serving", "loops", len(e.Loops()))
	if err := queued.Flush(context.Background()); err != nil {
		panic(err)
	}
	// Output:
	// level=INFO msg=serving loops=1
}
