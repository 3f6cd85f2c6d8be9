//go:build (unix && !linux) || windows

package evsel

import "errors"

// sysSendFile has no zero-copy call to make: the BSDs' and Windows'
// (TransmitFile) differ in how they report a short send on a non-blocking
// socket, and the loop's copy is what serves them.
func sysSendFile(*Socket, uintptr, int64, int) (int, error) {
	return 0, errors.ErrUnsupported
}
