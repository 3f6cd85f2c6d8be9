//go:build unix || windows

package evsel

import "io"

// The Try methods are Read, Write and Writev for an event loop: they do not
// wait, and on Linux they enter the kernel without telling the Go scheduler
// first. A system call made the usual way (entersyscall) leaves the
// goroutine's P marked as in a system call, and when the runtime's monitor
// finds it so on two of its ticks it hands the P to another thread: a
// futex wake, and a thread that spins and parks again on the loop's own
// core, while the loop is still busy in the kernel. A call that cannot
// block has no need of that, and an event loop makes two per message.
// Profiling the bench's TLS echo server at 1,024 connections, the share of
// its CPU spent switching threads (finish_task_switch) fell from 14.5% to
// 2.1%; server CPU per message, see the commit that brought these in.
//
// Linux passes MSG_DONTWAIT, so they do not wait whatever the socket's
// mode: a socket that another holder of its file description switched to
// blocking (os.File.Fd does that) still cannot stall the loop's thread.
// Elsewhere they are Read, Write and Writev, and rely on the socket being
// non-blocking, as every socket the package creates or adopts is.

// TryRead reads what has arrived, without waiting: ErrWouldBlock if
// nothing has, io.EOF once the peer has shut down its side.
func (s *Socket) TryRead(p []byte) (int, error) {
	if err := s.ok(); err != nil {
		return 0, err
	}
	n, err := ignoringEINTR(func() (int, error) { return sysTryRead(s, p) })
	n, err = readDone(n, err, len(p))
	if n == 0 && err == io.EOF {
		err = s.emptyRead()
	}
	return n, err
}

// TryWrite writes as much of p as the kernel takes now, without waiting: a
// short count is not an error, ErrWouldBlock means it took nothing.
func (s *Socket) TryWrite(p []byte) (int, error) {
	if err := s.ok(); err != nil {
		return 0, err
	}
	n, err := ignoringEINTR(func() (int, error) { return sysTryWrite(s, p) })
	return writeDone("write", n, err)
}

// TryWritev is TryWrite for several buffers, written in order with one
// system call where the platform gathers; it may write fewer buffers than
// given (at most maxTryIovec at once on Linux), which is a short count.
func (s *Socket) TryWritev(bufs [][]byte) (int, error) {
	if err := s.ok(); err != nil {
		return 0, err
	}
	n, err := ignoringEINTR(func() (int, error) { return sysTryWritev(s, bufs) })
	return writeDone("writev", n, err)
}
