package loop_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"math/big"
	"net"
	"time"

	"github.com/evsel/evsel/loop"
)

// A TLS echo server. ListenTLS is Listen with a handshake first: the
// handler's callbacks begin once it has succeeded, Inbound holds plaintext
// and Write encrypts, so the echo handler is the plain one. The client is
// Go's crypto/tls, a peer that knows nothing of the engine; it trusts the
// certificate the example makes for 127.0.0.1.
func ExampleEngine_ListenTLS() {
	cert, roots := selfSigned()
	echo := loop.Funcs{Data: func(c *loop.Conn) {
		c.Write(c.Inbound())
		c.Consume(len(c.Inbound()))
	}}
	e, err := loop.New(echo, loop.Options{Loops: 1})
	if err != nil {
		panic(err)
	}
	defer e.Stop(context.Background())
	addr, err := e.ListenTLS("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		panic(err)
	}

	dialer := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second}, Config: &tls.Config{RootCAs: roots}}
	conn, err := dialer.DialContext(context.Background(), "tcp", addr.String())
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	tc := conn.(*tls.Conn)
	fmt.Println(tls.VersionName(tc.ConnectionState().Version))
	tc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := tc.Write([]byte("hello, TLS")); err != nil {
		panic(err)
	}
	reply := make([]byte, len("hello, TLS"))
	if _, err := io.ReadFull(tc, reply); err != nil {
		panic(err)
	}
	fmt.Printf("%s\n", reply)
	// Output:
	// TLS 1.3
	// hello, TLS
}

// A TLS client: WithTLS makes Dial do the handshake once connected, so
// OnOpen comes after it and Conn.TLS reports what was negotiated; from then
// on Inbound holds plaintext and Write encrypts. The server is Go's
// crypto/tls, an echo server with a certificate the example makes for
// 127.0.0.1; the client trusts it through RootCAs, and checks it against
// the host of Dial's address, as tls.Dial does.
func ExampleWithTLS() {
	cert, roots := selfSigned()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	served := make(chan struct{})
	go func() { // one connection, echoed until the client's close_notify
		defer close(served)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 512)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			c.Write(buf[:n])
		}
	}()

	const ask = "hello, TLS"
	closed := make(chan struct{})
	client := loop.Funcs{
		Open: func(c *loop.Conn) {
			st, _ := c.TLS()
			fmt.Println("handshake done:", tls.VersionName(st.Version))
			c.Write([]byte(ask))
		},
		Data: func(c *loop.Conn) {
			if len(c.Inbound()) < len(ask) {
				return // the rest comes with a later OnData
			}
			fmt.Printf("reply: %s\n", c.Inbound())
			c.Consume(len(c.Inbound()))
			c.Close() // sends close_notify after the pending output
		},
		Close: func(c *loop.Conn, err error) {
			fmt.Println("closed:", err)
			close(closed)
		},
	}
	e, err := loop.New(client, loop.Options{Loops: 1})
	if err != nil {
		panic(err)
	}
	defer e.Stop(context.Background())

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := e.Dial(ctx, "tcp", ln.Addr().String(), loop.WithTLS(&tls.Config{RootCAs: roots})); err != nil {
		panic(err)
	}
	<-closed
	<-served
	// Output:
	// handshake done: TLS 1.3
	// reply: hello, TLS
	// closed: <nil>
}

// selfSigned makes an ECDSA P-256 certificate for 127.0.0.1, signed by its
// own key, and a pool that trusts it, for the example's client.
func selfSigned() (tls.Certificate, *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, roots
}
