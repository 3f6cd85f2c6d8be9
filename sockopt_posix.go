//go:build unix || windows

package evsel

func (s *Socket) setInt(level, opt, v int) error {
	if err := s.ok(); err != nil {
		return err
	}
	return wrapErr("setsockopt", sysSetsockoptInt(s.fd(), level, opt, v))
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// SetNoDelay sets TCP_NODELAY (disables Nagle's algorithm).
func (s *Socket) SetNoDelay(on bool) error {
	return s.setInt(ipprotoTCP, tcpNoDelay, boolInt(on))
}

// SetKeepAlive sets SO_KEEPALIVE.
func (s *Socket) SetKeepAlive(on bool) error {
	return s.setInt(solSocket, soKeepAlive, boolInt(on))
}

// SetReuseAddr asks for what SO_REUSEADDR means on unix: that a restarted
// server can bind its port while old connections sit in TIME_WAIT. It must
// come before Bind.
//
// On unix it sets SO_REUSEADDR. Windows allows the rebind by default, and
// its own SO_REUSEADDR means something else and dangerous — another socket
// could bind the very port a live listener holds and steal its connections
// — so there it is never set (Go's net package does the same):
// SetReuseAddr(true) changes nothing, and SetReuseAddr(false) sets
// SO_EXCLUSIVEADDRUSE, which also keeps other sockets from binding the port
// with SO_REUSEADDR.
func (s *Socket) SetReuseAddr(on bool) error {
	if err := s.ok(); err != nil {
		return err
	}
	return wrapErr("setsockopt", sysSetReuseAddr(s.fd(), on))
}

// SetReusePort sets SO_REUSEPORT, which lets several sockets listen on one
// port and the kernel spread the connections over them. Where there is no
// such option (Windows) SetReusePort(true) fails with an error matching
// errors.ErrUnsupported (WSAEOPNOTSUPP), and callers fall back to one
// listener.
func (s *Socket) SetReusePort(on bool) error {
	if err := s.ok(); err != nil {
		return err
	}
	return wrapErr("setsockopt", sysSetReusePort(s.fd(), on))
}

// SetReadBuffer sets SO_RCVBUF.
func (s *Socket) SetReadBuffer(bytes int) error {
	return s.setInt(solSocket, soRcvBuf, bytes)
}

// SetWriteBuffer sets SO_SNDBUF.
func (s *Socket) SetWriteBuffer(bytes int) error {
	return s.setInt(solSocket, soSndBuf, bytes)
}

// SetLinger sets SO_LINGER. A negative value restores the default; zero
// makes Close discard unsent data and send a reset (RST) to the peer.
// Values past what the system can hold (65535 s on Windows) are clamped.
func (s *Socket) SetLinger(sec int) error {
	if err := s.ok(); err != nil {
		return err
	}
	return wrapErr("setsockopt", sysSetLinger(s.fd(), sec >= 0, min(max(sec, 0), maxLinger)))
}
