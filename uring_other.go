//go:build !linux

package evsel

// UringAvailable reports why io_uring cannot be used: it is Linux's alone.
func UringAvailable(required ...UringOp) error {
	return &UringError{Reason: UringNoKernel, Detail: "not Linux"}
}
