package apps_test

import (
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAppServerBounded (issue item 3, end to end): silent connections,
// more of them than -max-conns, neither lock clients out nor stay: each is
// shed or closed at the first-byte deadline, and a client is served
// meanwhile.
func TestAppServerBounded(t *testing.T) {
	_, port := startAppServer(t, bin("app-server"), "-quiet", "-first-byte-timeout", "300ms", "-max-conns", "100")
	silent := make([]net.Conn, 150)
	for i := range silent {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, 5*time.Second)
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		silent[i] = c
	}
	assert.Contains(t, appOutput(t, goCmd("app-client", "127.0.0.1", port, "search", "ring")...), appCases[1].got)
	deadline := time.Now().Add(5 * time.Second)
	for i, c := range silent {
		c.SetReadDeadline(deadline)
		var b [1]byte
		_, err := c.Read(b[:])
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("silent connection %d is still open", i)
		}
	}
}
