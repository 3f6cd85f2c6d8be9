// Package tlsflags holds the TLS flags the programs share: -tls-cert and
// -tls-key for servers; -tls, -tls-ca, -tls-insecure and -tls-server-name
// for clients; and the self-signed certificate that demo -tls and tls-cert
// make.
package tlsflags

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"net"
	"os"
	"time"
)

// Server is a server's TLS flags.
type Server struct {
	Cert, Key string
}

// RegisterServer defines -tls-cert and -tls-key on fs.
func RegisterServer(fs *flag.FlagSet) *Server {
	s := &Server{}
	fs.StringVar(&s.Cert, "tls-cert", "", "serve TLS with this certificate (PEM file; needs -tls-key)")
	fs.StringVar(&s.Key, "tls-key", "", "private key of -tls-cert (PEM file)")
	return s
}

// Config returns the server's tls.Config, or nil for plaintext when neither
// flag is set.
func (s *Server) Config() (*tls.Config, error) {
	if s.Cert == "" && s.Key == "" {
		return nil, nil
	}
	if s.Cert == "" || s.Key == "" {
		return nil, errors.New("-tls-cert and -tls-key go together")
	}
	cert, err := tls.LoadX509KeyPair(s.Cert, s.Key)
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}}, nil
}

// Client is a client's TLS flags.
type Client struct {
	Enable     bool
	CA         string
	Insecure   bool
	ServerName string
}

// RegisterClient defines -tls, -tls-ca, -tls-insecure and -tls-server-name
// on fs.
func RegisterClient(fs *flag.FlagSet) *Client {
	c := &Client{}
	fs.BoolVar(&c.Enable, "tls", false, "connect with TLS (implied by the other -tls-* flags)")
	fs.StringVar(&c.CA, "tls-ca", "", "trust the CA certificates in this PEM file (default: the system's)")
	fs.BoolVar(&c.Insecure, "tls-insecure", false, "do not verify the server's certificate (testing only)")
	fs.StringVar(&c.ServerName, "tls-server-name", "", "name to verify the server's certificate against (default: the host argument)")
	return c
}

// Config returns the client's tls.Config, or nil for plaintext when no
// TLS flag is set.
func (c *Client) Config() (*tls.Config, error) {
	if !c.Enable && c.CA == "" && !c.Insecure && c.ServerName == "" {
		return nil, nil
	}
	cfg := &tls.Config{ServerName: c.ServerName, InsecureSkipVerify: c.Insecure}
	if c.CA != "" {
		pem, err := os.ReadFile(c.CA)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no PEM certificate found", c.CA)
		}
	}
	return cfg, nil
}

// SelfSigned makes a self-signed certificate for hosts (names or IP
// addresses), valid from an hour ago for validFor, and its ECDSA P-256 key,
// both PEM-encoded. It is its own CA: a client trusts it with -tls-ca.
func SelfSigned(hosts []string, validFor time.Duration) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{Organization: []string{"evsel self-signed"}},
		NotBefore:    now.Add(-time.Hour), NotAfter: now.Add(validFor),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:        true, BasicConstraintsValid: true,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	if len(hosts) > 0 {
		tmpl.Subject.CommonName = hosts[0]
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}

// InMemory returns a server config with a fresh self-signed certificate for
// hosts and a client config that trusts it, for demo -tls.
func InMemory(hosts ...string) (server, client *tls.Config, err error) {
	certPEM, keyPEM, err := SelfSigned(hosts, 24*time.Hour)
	if err != nil {
		return nil, nil, err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	return &tls.Config{Certificates: []tls.Certificate{cert}}, &tls.Config{RootCAs: pool}, nil
}
