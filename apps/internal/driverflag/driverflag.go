// Package driverflag gives the servers their -driver flag: which loop
// driver runs the engine (loop.Options.Driver).
package driverflag

import (
	"flag"

	"github.com/evsel/evsel/loop"
)

// Register defines -driver on fs and returns its value, "" for the
// engine's default.
func Register(fs *flag.FlagSet) *string {
	return fs.String("driver", "",
		`loop driver: "epoll", "poll", "kqueue", "iocp" (readiness) or "io_uring" (completion, Linux; falls back to epoll where unavailable); default the platform's best poller`)
}

// Apply sets the engine option the flag stands for.
func Apply(name *string, o *loop.Options) { o.Driver = *name }
