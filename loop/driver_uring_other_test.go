//go:build !linux

package loop

// uringHasOptional: no io_uring here (see the Linux version).
func uringHasOptional() bool { return false }
