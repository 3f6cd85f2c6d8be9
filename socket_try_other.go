//go:build (unix && !linux) || windows

package evsel

// Elsewhere the Try methods are the plain calls: every socket the package
// creates or adopts is non-blocking.

func sysTryRead(s *Socket, p []byte) (int, error)        { return sysRead(s.fd(), p) }
func sysTryWrite(s *Socket, p []byte) (int, error)       { return sysWrite(s.fd(), p) }
func sysTryWritev(s *Socket, bufs [][]byte) (int, error) { return s.sys.writev(s.fd(), bufs) }
