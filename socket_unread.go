//go:build unix || windows

package evsel

// HasUnread reports whether bytes the peer sent wait in the kernel, not
// yet read. An event loop asks it before closing: on Linux, Windows and
// the BSDs a close with unread input resets the connection, and the reset
// throws away what of the output the peer has not yet received.
func (s *Socket) HasUnread() bool {
	return s.ok() == nil && sysHasUnread(s.fd())
}
