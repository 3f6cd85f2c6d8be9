//go:build unix || windows

package evsel

// TrySendFile sends up to n bytes of the regular file whose descriptor is
// file, from offset off, without copying them through user space, and
// returns how many the kernel took: the stream's TryWrite for a file's
// bytes. A short count is not an error; ErrWouldBlock means the send buffer
// is full, and a count of 0 with no error that the file ends at off. Where
// the system has no such call, or cannot send from this file,
// it returns an error that errors.Is reports as errors.ErrUnsupported,
// and the caller copies the bytes instead (read them, then TryWrite).
//
// The socket must be non-blocking, as every socket the package makes or
// adopts is (unlike TryWrite, the call has no per-call flag for it, nor
// one against SIGPIPE: see loop's Conn.SendFile). The file's own offset
// does not move. Reading the file may wait for the disk:
// the call is cheap only for bytes already in the page cache.
func (s *Socket) TrySendFile(file uintptr, off int64, n int) (int, error) {
	if err := s.ok(); err != nil {
		return 0, err
	}
	if n <= 0 {
		return 0, nil
	}
	w, err := ignoringEINTR(func() (int, error) { return sysSendFile(s, file, off, n) })
	return writeDone("sendfile", w, err)
}
