package evsel_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/evsel/evsel"
)

// BenchmarkPollerWait measures one Wait(0) that reports K ready descriptors
// among N idle watched ones, for every backend.
func BenchmarkPollerWait(b *testing.B) {
	for _, be := range evsel.Backends() {
		for _, idle := range []int{10, 1000, 10000} {
			for _, ready := range []int{1, 16} {
				b.Run(fmt.Sprintf("%s/idle=%d/ready=%d", be, idle, ready), func(b *testing.B) {
					p := newPoller(b, be)
					for range idle / 2 {
						x, y := socketPair(b)
						require.NoError(b, p.Add(int(x.Fd()), evsel.EventRead))
						require.NoError(b, p.Add(int(y.Fd()), evsel.EventRead))
					}
					var last int
					for range ready {
						x, y := socketPair(b)
						require.NoError(b, p.Add(int(x.Fd()), evsel.EventRead))
						_, err := y.Write([]byte("x"))
						require.NoError(b, err)
						last = int(x.Fd())
					}
					waitFor(b, p, last, evsel.EventRead)
					events := make([]evsel.Event, 256)
					b.ReportAllocs()
					b.ResetTimer()
					for b.Loop() {
						n, err := p.Wait(events, 0)
						if err != nil || n != ready {
							b.Fatalf("Wait: %d ready, %v", n, err)
						}
					}
				})
			}
		}
	}
}

// BenchmarkWakeWait measures a Wake followed by the Wait it interrupts.
func BenchmarkWakeWait(b *testing.B) {
	for _, be := range evsel.Backends() {
		b.Run(be, func(b *testing.B) {
			p := newPoller(b, be)
			events := make([]evsel.Event, 8)
			b.ReportAllocs()
			for b.Loop() {
				if err := p.Wake(); err != nil {
					b.Fatal(err)
				}
				if _, err := p.Wait(events, -1); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
