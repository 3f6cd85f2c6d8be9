//go:build unix

package bounds

import "golang.org/x/sys/unix"

// maxDefault caps the default where the open-file limit is unlimited or
// absurdly high: a server holding more should say so with -max-conns.
const maxDefault = 1 << 20

// DefaultMaxConns is the open-file soft limit, as this process has it (Go
// raises it to the hard limit at start), minus Reserve; at least 1.
func DefaultMaxConns() int {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return maxDefault
	}
	if rl.Cur > maxDefault+Reserve {
		return maxDefault
	}
	return max(int(rl.Cur)-Reserve, 1)
}
