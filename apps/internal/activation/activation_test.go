package activation

import (
	"context"
	"crypto/tls"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/evsel/evsel/loop"
)

// TestListenRefusesTLSOnInherited: the engine serves adopted listeners in
// plaintext, so -systemd with -tls-cert is an error, not a silent
// plaintext server; without -systemd the TLS listener is made.
func TestListenRefusesTLSOnInherited(t *testing.T) {
	e, err := loop.New(loop.Funcs{}, loop.Options{Loops: 1})
	require.NoError(t, err)
	defer e.Stop(context.Background())
	// No handshake happens here: a certificate source is all ListenTLS asks.
	cfg := &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return nil, errors.New("unused") }}

	_, err = Listen(e, true, "", 0, cfg)
	require.ErrorContains(t, err, "-systemd does not combine with -tls-cert")

	shown, err := Listen(e, false, "127.0.0.1", 0, cfg)
	require.NoError(t, err)
	require.Len(t, shown, 1)
	require.Contains(t, shown[0], "'127.0.0.1'")
}
