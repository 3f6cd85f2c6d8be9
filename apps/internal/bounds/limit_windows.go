//go:build windows

package bounds

// DefaultMaxConns is a fixed bound: Windows has no per-process limit on
// socket handles to derive one from, only memory.
func DefaultMaxConns() int { return 16384 }
