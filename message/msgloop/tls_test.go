package msgloop_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/evsel/evsel/apps/refapp"
	"github.com/evsel/evsel/message"
	"github.com/evsel/evsel/message/msgloop"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// selfSigned is a throwaway certificate for 127.0.0.1.
func selfSigned(t *testing.T) tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestTLSCloseWithoutCloseNotifyQuiet: most TLS clients (Python's ssl
// among them) close the TCP connection without close_notify. Between
// messages that is a clean close for the protocol, and the server logs
// nothing for it; in the middle of one it is a truncated message, logged.
func TestTLSCloseWithoutCloseNotifyQuiet(t *testing.T) {
	logs := &logBuffer{}
	s, err := msgloop.NewServer(refapp.ServerResponse, msgloop.ServerOptions{
		ServerConfig: message.ServerConfig{KeepAlive: true},
		Logger:       slog.New(slog.NewTextHandler(logs, nil)),
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		assert.NoError(t, s.Stop(ctx))
	})
	addr, err := s.ListenTLS("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{selfSigned(t)}})
	require.NoError(t, err)
	dial := func() (*tls.Conn, net.Conn) {
		raw, err := net.Dial("tcp", addr.String())
		require.NoError(t, err)
		c := tls.Client(raw, &tls.Config{InsecureSkipVerify: true})
		c.SetDeadline(time.Now().Add(10 * time.Second))
		return c, raw
	}

	c, raw := dial()
	resp := exchange(t, c, refapp.ClientRequest("search", "ring"))
	assert.Equal(t, "Got result: "+refapp.SearchAnswer("ring"), resultOf(t, resp))
	raw.Close() // no close_notify
	require.Eventually(t, func() bool { return s.Engine().Stats().Closed == 1 }, 5*time.Second, 5*time.Millisecond)
	assert.NotContains(t, logs.String(), "connection", "log:\n%s", logs.String())

	c, raw = dial()
	_, err = c.Write(frameOf(t, refapp.ClientRequest("search", "ring"))[:10])
	require.NoError(t, err)
	time.Sleep(20 * time.Millisecond)
	raw.Close()
	require.Eventually(t, func() bool { return s.Engine().Stats().Closed == 2 }, 5*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "closing connection") },
		5*time.Second, 5*time.Millisecond, "a truncated message is not logged")
}
