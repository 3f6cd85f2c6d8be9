// Command tls-cert writes a self-signed certificate and its key, so that the
// servers' -tls-cert/-tls-key and the clients' -tls-ca flags can be tried
// without a real certificate:
//
//	go run ./apps/tls-cert -host 127.0.0.1,localhost [-out DIR] [-days N]
//	go run ./apps/multiconn-server -tls-cert cert.pem -tls-key key.pem 127.0.0.1 65432
//	go run ./apps/multiconn-client -tls-ca cert.pem 127.0.0.1 65432 2
//
// It writes DIR/cert.pem and DIR/key.pem (the key readable by its owner
// only) and refuses to overwrite existing files. The certificate is its own
// CA, valid for -days (default 30) for the names and addresses in -host.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/evsel/evsel/apps/internal/tlsflags"
)

func main() {
	hosts := flag.String("host", "127.0.0.1,localhost", "comma-separated host names and IP addresses the certificate is for")
	out := flag.String("out", ".", "directory to write cert.pem and key.pem to")
	days := flag.Int("days", 30, "days the certificate is valid")
	flag.Parse()
	if flag.NArg() != 0 || *days <= 0 || *hosts == "" {
		flag.Usage()
		os.Exit(2)
	}
	certPEM, keyPEM, err := tlsflags.SelfSigned(strings.Split(*hosts, ","), time.Duration(*days)*24*time.Hour)
	if err != nil {
		fail(err)
	}
	certFile, keyFile := filepath.Join(*out, "cert.pem"), filepath.Join(*out, "key.pem")
	if err := write(certFile, certPEM, 0o644); err != nil {
		fail(err)
	}
	if err := write(keyFile, keyPEM, 0o600); err != nil {
		os.Remove(certFile)
		fail(err)
	}
	fmt.Printf("Wrote %s and %s for %s\n", certFile, keyFile, *hosts)
}

func write(name string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "tls-cert:", err)
	os.Exit(1)
}
