package loop

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/evsel/evsel/internal/sockettest"
)

// testPKI is a CA with a server and a client certificate, made once per
// test binary (key generation is the slow part of a TLS test).
type testPKI struct {
	pool   *x509.CertPool
	caPEM  []byte
	server tls.Certificate
	client tls.Certificate
	// certPEM and keyPEM are the server's, for peers that read files.
	certPEM, keyPEM []byte
}

var (
	pkiOnce sync.Once
	pki     testPKI
)

func getPKI(t testing.TB) *testPKI {
	t.Helper()
	pkiOnce.Do(func() {
		caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		caTmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "evsel test CA"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
		}
		caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
		if err != nil {
			panic(err)
		}
		ca, _ := x509.ParseCertificate(caDER)
		pki.pool = x509.NewCertPool()
		pki.pool.AddCert(ca)
		pki.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
		leaf := func(serial int64, usage x509.ExtKeyUsage) (tls.Certificate, []byte, []byte) {
			key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				panic(err)
			}
			tmpl := &x509.Certificate{
				SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "localhost"},
				NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
				KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
				DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
			}
			der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
			if err != nil {
				panic(err)
			}
			keyDER, _ := x509.MarshalECPrivateKey(key)
			certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
			keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
			cert, err := tls.X509KeyPair(certPEM, keyPEM)
			if err != nil {
				panic(err)
			}
			return cert, certPEM, keyPEM
		}
		pki.server, pki.certPEM, pki.keyPEM = leaf(2, x509.ExtKeyUsageServerAuth)
		pki.client, _, _ = leaf(3, x509.ExtKeyUsageClientAuth)
	})
	return &pki
}

func (p *testPKI) serverConfig() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{p.server}}
}

func (p *testPKI) clientConfig() *tls.Config {
	return &tls.Config{RootCAs: p.pool, ServerName: "localhost"}
}

// files writes the CA, the server's certificate and key to a temporary
// directory, for peers that take file names.
func (p *testPKI) files(t *testing.T) (ca, cert, key string) {
	dir := t.TempDir()
	ca, cert, key = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(ca, p.caPEM, 0o600))
	require.NoError(t, os.WriteFile(cert, p.certPEM, 0o600))
	require.NoError(t, os.WriteFile(key, p.keyPEM, 0o600))
	return ca, cert, key
}

// startTLS runs an engine serving TLS on an ephemeral loopback port.
func startTLS(t *testing.T, h Handler, opts Options, cfg *tls.Config) (*Engine, string) {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quietLog
	}
	e, err := New(h, opts)
	require.NoError(t, err)
	addr, err := e.ListenTLS("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		stop(t, e)
		require.NoError(t, err)
	}
	t.Cleanup(func() { stop(t, e) })
	return e, addr.String()
}

// dialTLS connects a crypto/tls client, handshake done.
func dialTLS(t *testing.T, addr string, cfg *tls.Config) *tls.Conn {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// dialTLSSmall is dialTLS through sockettest.SmallBufferDialer (dialSmall).
func dialTLSSmall(t *testing.T, addr string, cfg *tls.Config) *tls.Conn {
	t.Helper()
	c, err := tls.DialWithDialer(sockettest.SmallBufferDialer(), "tcp", addr, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}
