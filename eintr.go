//go:build unix || windows

package evsel

// ignoringEINTR calls fn again for as long as it fails with EINTR: a signal
// that interrupted a system call is no reason to fail it. Go's runtime
// installs its handlers with SA_RESTART, but not every call is restarted
// (epoll_wait, poll, kevent and calls on sockets with timeouts never are),
// and handlers installed by C code may lack the flag.
//
// It is the one retry loop of the package. It is small enough to be inlined,
// so fn's closure stays on the caller's stack and a retried call allocates
// nothing. Callers that wait for a deadline recompute the timeout inside fn.
func ignoringEINTR[T any](fn func() (T, error)) (T, error) {
	for {
		v, err := fn()
		if err != errEINTR {
			return v, err
		}
	}
}
