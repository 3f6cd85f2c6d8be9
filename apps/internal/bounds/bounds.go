// Package bounds gives the servers their "bounded by default" flags: a
// deadline for every state a connection can sit in, a limit on how many
// it may hold and a budget for the memory they hold together, so that silent, never-reading or too-many peers cannot hold
// the server's descriptors and memory for as long as they like.
package bounds

import (
	"flag"
	"os"
	"runtime/debug"
	"time"

	"github.com/evsel/evsel/loop"
)

// Reserve is how many descriptors of the open-file limit the default
// -max-conns leaves for everything else: listeners, pollers, the engine's
// reserve descriptor, stdio, logs.
const Reserve = 64

// DefaultMaxMemory is the default -max-memory: the engine-wide budget for
// the input and output all connections hold.
const DefaultMaxMemory = 256 << 20

// Flags are the values of the flags Register defines.
type Flags struct {
	IdleTimeout      time.Duration
	LingerTimeout    time.Duration
	FirstByteTimeout time.Duration
	MaxConns         int
	MaxMemory        int64
}

// Register defines -idle-timeout, -linger, -first-byte-timeout,
// -max-conns and -max-memory on fs, with the defaults a server facing the open internet
// wants; 0 turns each off.
func Register(fs *flag.FlagSet) *Flags {
	f := &Flags{}
	fs.DurationVar(&f.IdleTimeout, "idle-timeout", 60*time.Second,
		"close a connection that has neither read nor written for this long (0: never)")
	fs.DurationVar(&f.LingerTimeout, "linger", 10*time.Second,
		"close hard a closing connection whose output has not drained after this long (0: wait forever)")
	fs.DurationVar(&f.FirstByteTimeout, "first-byte-timeout", 10*time.Second,
		"close a connection that has sent nothing this long after the accept (0: never)")
	fs.IntVar(&f.MaxConns, "max-conns", DefaultMaxConns(),
		"connections held at most; past it the longest-idle one is shed (0: no limit; default the open-file limit minus a reserve)")
	fs.Int64Var(&f.MaxMemory, "max-memory", DefaultMaxMemory,
		"bytes of input and output all connections may hold together; past it the connections holding the most are paused, then closed (0: no budget)")
	return f
}

// HeapSlack is how far beyond -max-memory the Go heap may grow before the
// garbage collector works harder to stay under it: room for the
// connections' own state, the loops' read buffers, the runtime, and garbage
// not yet collected.
const HeapSlack = 64 << 20

// Apply sets the engine options the flags stand for. With a budget it also
// sets the Go runtime's soft memory limit to MaxMemory+HeapSlack, unless
// GOMEMLIMIT says otherwise: the budget bounds the bytes connections hold,
// but with the collector's default pacing (GOGC=100) the heap may reach
// twice what is live before it collects the buffers they have let go of,
// and the process would grow to twice the budget.
func (f *Flags) Apply(o *loop.Options) {
	o.IdleTimeout = f.IdleTimeout
	o.LingerTimeout = f.LingerTimeout
	o.FirstByteTimeout = f.FirstByteTimeout
	o.MaxConns = f.MaxConns
	o.MaxMemory = f.MaxMemory
	if f.MaxMemory > 0 && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(f.MaxMemory + HeapSlack)
	}
}

// DefaultMaxPacketQueue and DefaultMaxPacketQueueBytes are the defaults of
// -max-queue and -max-queue-bytes: the unsent datagrams a loop may hold.
const (
	DefaultMaxPacketQueue      = 4096
	DefaultMaxPacketQueueBytes = 4 << 20
)

// PacketFlags are the values of the flags RegisterPacket defines.
type PacketFlags struct {
	MaxPacketQueue      int
	MaxPacketQueueBytes int
}

// RegisterPacket defines the bounds that apply to datagram servers, which
// hold no connections: -max-queue and -max-queue-bytes bound the replies a
// loop holds unsent while the socket's send buffer is full; past them
// replies are dropped (and counted), as the network may drop any datagram.
func RegisterPacket(fs *flag.FlagSet) *PacketFlags {
	f := &PacketFlags{}
	fs.IntVar(&f.MaxPacketQueue, "max-queue", DefaultMaxPacketQueue,
		"datagrams a loop holds unsent at most; past it replies are dropped")
	fs.IntVar(&f.MaxPacketQueueBytes, "max-queue-bytes", DefaultMaxPacketQueueBytes,
		"bytes of unsent datagrams a loop holds at most; past it replies are dropped")
	return f
}

// Apply sets the engine options the flags stand for.
func (f *PacketFlags) Apply(o *loop.Options) {
	o.MaxPacketQueue = f.MaxPacketQueue
	o.MaxPacketQueueBytes = f.MaxPacketQueueBytes
}
