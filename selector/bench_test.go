package selector_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/evsel/evsel/selector"
)

// benchIdle and benchReady bound the fixtures: up to 10,000 idle registered
// descriptors (5,000 socket pairs, both ends) plus a few ready ones, well
// inside the 20,000 open-file limit.
var (
	benchIdle  = []int{10, 100, 1000, 10000}
	benchReady = []int{1, 16}
)

// idleAndReady registers idle descriptors (both ends of socket pairs with
// nothing to read) and ready ones (a byte pending that nobody reads, so they
// stay ready under level triggering) for reading.
func idleAndReady(b *testing.B, s *selector.Selector, idle, ready int) {
	b.Helper()
	for range idle / 2 {
		x, y := socketPair(b)
		_, err := s.Register(x, selector.EventRead, nil)
		require.NoError(b, err)
		_, err = s.Register(y, selector.EventRead, nil)
		require.NoError(b, err)
	}
	for range ready {
		x, y := socketPair(b)
		_, err := s.Register(x, selector.EventRead, nil)
		require.NoError(b, err)
		_, err = y.Write([]byte("x"))
		require.NoError(b, err)
	}
	// Wait until every ready descriptor is reported together.
	for range 100 {
		r, err := s.Select(watchdog)
		require.NoError(b, err)
		if len(r) == ready {
			return
		}
	}
	b.Fatalf("the %d ready descriptors were never reported together", ready)
}

// BenchmarkSelect measures one Select(0) returning K ready descriptors among
// N idle registered ones. epoll's cost must not grow with N; poll's does.
func BenchmarkSelect(b *testing.B) {
	for _, backend := range selector.Backends() {
		for _, idle := range benchIdle {
			for _, ready := range benchReady {
				b.Run(fmt.Sprintf("%s/idle=%d/ready=%d", backend, idle, ready), func(b *testing.B) {
					s := newSelector(b, backend)
					idleAndReady(b, s, idle, ready)
					b.ReportAllocs()
					b.ResetTimer()
					for b.Loop() {
						r, err := s.Select(0)
						if err != nil || len(r) != ready {
							b.Fatalf("Select: %d ready, %v", len(r), err)
						}
					}
				})
			}
		}
	}
}
