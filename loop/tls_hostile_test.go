package loop

import (
	"crypto/tls"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Hostile TLS peers beyond tls_bad_test.go's: records crypto/tls refuses
// by their header, and what a peer does after the handshake.

// TestTLSHostileOversizedFirstRecord: a first record whose header claims
// more than any TLS record may hold is refused at once, as crypto/tls
// refuses it, instead of holding the connection and its buffered bytes
// until the handshake timeout.
func TestTLSHostileOversizedFirstRecord(t *testing.T) {
	const timeout = 5 * time.Second
	s := newBadPeerServer(t, Options{Loops: 1, TLSHandshakeTimeout: timeout})
	c := dial(t, s.addr)
	junk := make([]byte, 5+1024)
	copy(junk, []byte{0x16, 0x03, 0x01, 0xff, 0xff})
	_, err := c.Write(junk)
	require.NoError(t, err)
	took := closedByServer(t, c, 2*timeout)
	assert.Less(t, took, timeout/2, "held until the handshake timeout")
	s.stillServed(t)
	errs := s.logs.errors()
	require.Len(t, errs, 1)
	var rh tls.RecordHeaderError
	assert.True(t, errors.As(errs[0], &rh), "crypto/tls's own error: %v", errs[0])
}
