package apps_test

// The programs' TLS flags: a certificate from tls-cert, the servers with
// -tls-cert/-tls-key, the clients with -tls-ca, -tls-insecure and
// -tls-server-name, and demo -tls.

import (
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tlsCert runs tls-cert into a temporary directory and returns the files.
func tlsCert(t *testing.T) (cert, key string) {
	t.Helper()
	dir := t.TempDir()
	p := run(t, 20*time.Second, goCmd("tls-cert", "-host", "127.0.0.1,localhost", "-out", dir)...)
	require.Zero(t, p.code, p.describe())
	// A second run refuses to overwrite them.
	again := run(t, 20*time.Second, goCmd("tls-cert", "-out", dir)...)
	require.NotZero(t, again.code, "tls-cert overwrote its files")
	return filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
}

func TestTLSMulticonnPrograms(t *testing.T) {
	t.Parallel()
	cert, key := tlsCert(t)
	srv, port := startServer(t, goCmd("multiconn-server", "-tls-cert", cert, "-tls-key", key, "127.0.0.1", "0")...)
	p := strconv.Itoa(port)

	cl := start(t, goCmd("multiconn-client", "-tls-ca", cert, "127.0.0.1", p, "5")...)
	checkClient(t, cl, 5, port, true)
	// -tls-insecure trusts anything; -tls-server-name checks another name.
	cl = start(t, goCmd("multiconn-client", "-tls-insecure", "127.0.0.1", p, "5")...)
	checkClient(t, cl, 5, port, true)
	cl = start(t, goCmd("multiconn-client", "-tls-ca", cert, "-tls-server-name", "localhost", "127.0.0.1", p, "5")...)
	checkClient(t, cl, 5, port, true)
	checkServer(t, srv, 15)

	// Verification failures end the client with exit code 1 and cost the
	// server nothing but a log line.
	srv, port = startServer(t, goCmd("multiconn-server", "-tls-cert", cert, "-tls-key", key, "127.0.0.1", "0")...)
	p = strconv.Itoa(port)
	for _, args := range [][]string{
		{"-tls", "127.0.0.1", p, "2"}, // the system's CAs do not know it
		{"-tls-ca", cert, "-tls-server-name", "example.com", "127.0.0.1", p, "2"}, // not its name
	} {
		cl := run(t, 20*time.Second, goCmd("multiconn-client", args...)...)
		assert.Equal(t, 1, cl.code, "%v: %s", args, cl.describe())
	}
	// A plaintext client to a TLS server fails too.
	cl = run(t, 20*time.Second, goCmd("multiconn-client", "127.0.0.1", p, "1")...)
	assert.Equal(t, 1, cl.code, cl.describe())
	checkServer(t, srv, 0)
}

func TestTLSAppPrograms(t *testing.T) {
	t.Parallel()
	cert, key := tlsCert(t)
	_, plainPort := startAppServer(t, bin("app-server"))
	_, tlsPort := startAppServer(t, bin("app-server"), "-tls-cert", cert, "-tls-key", key)
	for _, tc := range appCases[:2] {
		plain := appOutput(t, goCmd("app-client", "127.0.0.1", plainPort, tc.action, tc.value)...)
		secure := appOutput(t, goCmd("app-client", "-tls-ca", cert, "127.0.0.1", tlsPort, tc.action, tc.value)...)
		assert.Contains(t, secure, tc.got+"\n")
		assert.Equal(t, len(plain), len(secure), "the same lines, but for the port:\n%s\n%s", plain, secure)
	}
	load := run(t, 30*time.Second, goCmd("app-client", "-tls-insecure", "-n", "50", "-c", "5", "127.0.0.1", tlsPort, "search", "ring")...)
	assert.Zero(t, load.code, load.describe())
}

func TestTLSDemo(t *testing.T) {
	t.Parallel()
	p := run(t, 60*time.Second, goCmd("demo", "-tls", "-conns", "50", "-messages", "4", "-size", "2048")...)
	assert.Zero(t, p.code, p.describe())
	assert.Contains(t, p.Lines(), "OK")
}
