package loop

import (
	"net"
	"testing"

	"github.com/evsel/evsel"
)

// BenchmarkEchoRoundTrip is one 64-byte message through the engine and back
// on one connection: the engine's per-message cost plus a loopback round
// trip, on each driver the platform has.
func BenchmarkEchoRoundTrip(b *testing.B) {
	drivers := []string{evsel.Backends()[0]}
	if evsel.UringAvailable() == nil {
		drivers = append(drivers, DriverIOUring)
	}
	for _, driver := range drivers {
		for _, size := range []int{64, 4096} {
			b.Run(driver+"/"+byteSize(size), func(b *testing.B) { benchEcho(b, driver, size) })
		}
	}
}

func benchEcho(b *testing.B, driver string, size int) {
	e, err := New(echo, Options{Loops: 1, Driver: driver, Logger: quietLog})
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
	msg, buf := make([]byte, size), make([]byte, size)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.Write(msg)
		for got := 0; got < size; {
			n, err := c.Read(buf[got:])
			if err != nil {
				b.Fatal(err)
			}
			got += n
		}
	}
}

func byteSize(n int) string {
	if n >= 1024 {
		return itoa(n/1024) + "KiB"
	}
	return itoa(n) + "B"
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}
