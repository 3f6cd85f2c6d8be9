package loop

import (
	"context"
	"crypto/tls"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Hostile and broken peers that no one in the project wrote, beyond
// tls_bad_test.go's and tls_hostile_test.go's.

// TestTLSDialRenegotiationRefused: a TLS 1.2 server (openssl s_server)
// asks a WithTLS client for a renegotiation. The loop cannot run a
// handshake after OnOpen, so it is refused whatever the config allows:
// the connection ends with crypto/tls's no_renegotiation error at once.
// Allowed (RenegotiateOnceAsClient), crypto/tls began the handshake inside
// Read, kept the transport's "no more input" as its error and returned it
// from every Read after: the connection hung, the server's bytes dropped.
func TestTLSDialRenegotiationRefused(t *testing.T) {
	needTool(t, "openssl")
	p := getPKI(t)
	_, cert, key := p.files(t)
	ossl := startPeer(t, "openssl", "s_server", "-accept", "127.0.0.1:0", "-cert", cert, "-key", key, "-tls1_2", "-naccept", "1")
	addr := strings.TrimSpace(strings.TrimPrefix(ossl.expect(t, "ACCEPT "), "ACCEPT "))

	e := newClientEngine(t)
	got := make(chan string, 16)
	closed := make(chan error, 1)
	e.h.(*switchHandler).set(Funcs{
		Open: func(c *Conn) { c.Write([]byte("hello\n")) },
		Data: func(c *Conn) {
			got <- string(c.Inbound())
			c.Consume(len(c.Inbound()))
		},
		Close: func(c *Conn, err error) { closed <- err },
	})
	cfg := p.clientConfig()
	cfg.Renegotiation = tls.RenegotiateOnceAsClient
	_, err := e.Dial(context.Background(), "tcp", addr, WithTLS(cfg))
	require.NoError(t, err)
	ossl.expect(t, "hello")
	io.WriteString(ossl.stdin, "before\n")
	select {
	case s := <-got:
		assert.Equal(t, "before\n", s)
	case <-time.After(10 * time.Second):
		t.Fatal("no data from the server")
	}
	io.WriteString(ossl.stdin, "r\n") // s_server sends a HelloRequest
	select {
	case err := <-closed:
		require.Error(t, err)
		assert.Contains(t, err.Error(), "renegotiation")
	case <-time.After(5 * time.Second):
		io.WriteString(ossl.stdin, "after\n")
		select {
		case s := <-got:
			t.Fatalf("neither refused nor closed; then got %q", s)
		case <-time.After(time.Second):
			t.Fatal("renegotiation neither refused nor closed: the connection hangs, the server's bytes dropped")
		}
	}
}
