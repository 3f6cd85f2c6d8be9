package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/evsel/evsel/bench/internal/procinfo"
)

// TestSoakSmall runs the soak at a size CI can afford: 400 connections of
// every kind for 5 s against a 32 MiB budget, with deadlines short enough
// that silent peers are shed and stuck closes end within the test.
func TestSoakSmall(t *testing.T) {
	if !procinfo.Available() {
		t.Skip("needs /proc to watch the server")
	}
	var out bytes.Buffer
	r, err := run(context.Background(), config{
		conns:     400,
		duration:  5 * time.Second,
		maxMemory: 32 << 20,
		rssSlack:  96 << 20,
		drain:     20 * time.Second,
		flags:     []string{"-first-byte-timeout=2s", "-idle-timeout=6s", "-linger=2s"},
		seed:      1,
	})
	if r != nil {
		r.print(&out)
		t.Log(out.String())
	}
	if err != nil {
		t.Fatal(err)
	}
	g := &r.peers.tallies[good]
	// At most the message each had in flight when the soak ended is missing.
	if inFlight := int64(split(400)[good]) * 16 << 10; g.verified.Load() == 0 || g.sent.Load()-g.verified.Load() > inFlight {
		t.Errorf("good clients sent %d bytes and had %d verified; want all back but the last message each", g.sent.Load(), g.verified.Load())
	}
	if r.peers.tallies[silent].closed.Load() == 0 {
		t.Error("no silent peer was shed at the first-byte timeout")
	}
	if r.peers.tallies[nonReader].closed.Load() == 0 {
		t.Error("no never-reader was closed by the budget")
	}
}
