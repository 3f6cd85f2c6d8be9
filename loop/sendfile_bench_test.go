package loop

import (
	"io"
	"net"
	"os"
	"testing"

	"github.com/evsel/evsel"
)

// BenchmarkSendFile: a request line answered with a 1 MiB file, three ways
// on each driver: SendFile; the file read into memory once per request
// (os.ReadFile) and written, as a handler without SendFile would; and
// the file's bytes already in memory, the least a Write can cost. The
// client is Go's net, reading each answer whole before asking again.
func BenchmarkSendFile(b *testing.B) {
	drivers := []string{evsel.Backends()[0]}
	if evsel.UringAvailable() == nil {
		drivers = append(drivers, DriverIOUring)
	}
	const size = 1 << 20
	w, err := os.CreateTemp("", "evsel-bench-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.Remove(w.Name())
	content := pattern(size)
	if _, err := w.Write(content); err != nil {
		b.Fatal(err)
	}
	w.Close()
	f, err := os.Open(w.Name())
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	answers := map[string]func(c *Conn){
		"SendFile": func(c *Conn) { c.SendFile(f, 0, size) },
		"ReadFile+Write": func(c *Conn) {
			p, err := os.ReadFile(w.Name())
			if err != nil {
				c.Abort(err)
				return
			}
			c.Write(p)
		},
		"Write": func(c *Conn) { c.Write(content) },
	}
	for _, driver := range drivers {
		for _, way := range []string{"SendFile", "ReadFile+Write", "Write"} {
			b.Run(driver+"/"+way, func(b *testing.B) { benchAnswer(b, driver, size, answers[way]) })
		}
	}
}

func benchAnswer(b *testing.B, driver string, size int, answer func(c *Conn)) {
	h := Funcs{Data: func(c *Conn) {
		for range c.Inbound() {
			answer(c)
		}
		c.Consume(len(c.Inbound()))
	}}
	e, err := New(h, Options{Loops: 1, Driver: driver, Logger: quietLog, HighWater: 4 << 20, MaxOutput: 64 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Stop(b.Context())
	addr, err := e.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, size)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Write([]byte{'?'}); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			b.Fatal(err)
		}
	}
}
