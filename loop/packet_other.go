//go:build !linux

package loop

// Elsewhere SO_REUSEPORT does not spread datagrams (the BSDs give them to
// the last socket bound; Windows has no such option), and evsel receives
// one datagram a call: see packet_linux.go.
const (
	reusePortSpreadsDatagrams = false
	batchedReceive            = false
)
