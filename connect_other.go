//go:build (unix && !linux) || windows

package evsel

// sysConnecting: elsewhere a socket not yet connected is taken to be
// connecting, since some systems report a connecting socket writable.
func sysConnecting(int) bool { return true }
