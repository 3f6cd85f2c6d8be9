//go:build (unix || windows) && !linux

package evsel

// sysBindAddressNoPort does nothing where the system has no such option:
// the bind chooses the port.
func sysBindAddressNoPort(int) {}
