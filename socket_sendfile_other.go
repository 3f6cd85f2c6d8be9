//go:build (unix && !linux) || windows

package evsel

import "errors"

// sysSendFile makes no zero-copy call here: the BSDs' sendfile and
// Windows' TransmitFile each need their own handling of a non-blocking
// socket, which nothing on the machines this is tested on could exercise;
// the loop's copy serves them.
func sysSendFile(*Socket, uintptr, int64, int) (int, error) {
	return 0, errors.ErrUnsupported
}
