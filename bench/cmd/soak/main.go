// Command soak holds apps/multiconn-server, started with its bounded
// defaults, under a mixed hostile load and checks that it stays bounded:
//
//	cd bench && go run ./cmd/soak                # 10,000 connections, 60 s, 256 MiB budget
//	go run ./cmd/soak -conns 2000 -duration 10s  # smaller
//
// The connections are split between well-behaved clients (echo round trips
// of 64 B – 16 KiB, every byte verified), slowloris peers (a byte every
// 1–3 s), silent peers, peers that send and never read, large uploads
// (4–16 MiB streamed and read back) and peers that send a little and reset;
// every peer the server closes reconnects. While it runs the server's
// resident memory is sampled every 20 ms. It passes when
//
//   - every well-behaved client's every byte came back, in order, with no
//     connection of theirs ended by the server;
//   - no byte that came back to any peer was wrong;
//   - the server's RSS never exceeded -max-memory plus -rss-slack;
//   - afterwards the server holds as many descriptors and goroutines as a
//     server that never had a connection.
//
// It prints the figures and exits 1 on a failed check.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evsel/evsel/bench/internal/procinfo"
)

// config is one soak's parameters.
type config struct {
	conns     int
	duration  time.Duration
	maxMemory int64
	rssSlack  int64
	drain     time.Duration // how long the server may take to get back to its idle descriptors
	server    string        // multiconn-server binary; built when empty
	flags     []string      // more server flags
	seed      uint64
	progress  io.Writer // a line every few seconds; nil for none
}

func main() {
	var c config
	var flags string
	flag.IntVar(&c.conns, "conns", 10000, "connections held at once, split between the peer kinds")
	flag.DurationVar(&c.duration, "duration", 60*time.Second, "how long the load runs")
	flag.Int64Var(&c.maxMemory, "max-memory", 256<<20, "the server's -max-memory")
	flag.Int64Var(&c.rssSlack, "rss-slack", 96<<20, "how far above -max-memory the server's RSS may go")
	flag.DurationVar(&c.drain, "drain", 100*time.Second,
		"how long the server may take to close every connection once the peers have left: a connection whose peer's last packets the kernel dropped under the load ends only at the server's idle timeout (-idle-timeout 60s, checked every 30s), or its -linger")
	flag.StringVar(&c.server, "server", "", "multiconn-server binary (default: built from this checkout)")
	flag.StringVar(&flags, "server-flags", "", "more flags for the server, space-separated")
	flag.Uint64Var(&c.seed, "seed", uint64(time.Now().UnixNano()), "seed of the peers' sizes and timings")
	flag.Parse()
	c.flags = strings.Fields(flags)
	c.progress = os.Stdout

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()
	r, err := run(ctx, c)
	if r != nil {
		r.print(os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

// report is what a soak measured.
type report struct {
	cfg                       config
	peers                     *peers
	rssBefore, rssMax, rssEnd int64
	fdsBefore, fdsEnd         int
	goroutinesIdle, goroutine int
	serverCPU                 time.Duration
	drained                   time.Duration // from the peers' exit to descriptors back at the baseline
}

// run soaks one server and checks the bounds; the report is returned even
// when a check fails.
func run(ctx context.Context, c config) (*report, error) {
	if !procinfo.Available() {
		return nil, errors.New("needs Linux's /proc to watch the server")
	}
	if c.server == "" {
		dir, err := os.MkdirTemp("", "soak")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		if c.server, err = buildServer(ctx, dir); err != nil {
			return nil, err
		}
	}
	flags := append([]string{fmt.Sprintf("-max-memory=%d", c.maxMemory)}, c.flags...)

	// The baseline: goroutines of a server that never had a connection.
	idle, err := startServer(c.server, flags)
	if err != nil {
		return nil, err
	}
	r := &report{cfg: c}
	if r.goroutinesIdle, err = idle.goroutines(); err != nil {
		return nil, fmt.Errorf("idle server: %w", err)
	}

	srv, err := startServer(c.server, flags)
	if err != nil {
		return nil, err
	}
	defer srv.kill()
	pid := srv.cmd.Process.Pid
	before, err := procinfo.Read(pid)
	if err != nil {
		return nil, err
	}
	r.rssBefore = before.RSS
	if r.fdsBefore, err = procinfo.CountFDs(pid); err != nil {
		return nil, err
	}

	// Sample the server's RSS until the soak ends.
	var rssMax atomic.Int64
	rssMax.Store(before.RSS)
	sampling, stopSampling := context.WithCancel(ctx)
	var sampler sync.WaitGroup
	sampler.Go(func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-sampling.Done():
				return
			case <-tick.C:
			}
			if s, err := procinfo.Read(pid); err == nil && s.RSS > rssMax.Load() {
				rssMax.Store(s.RSS)
			}
		}
	})
	defer func() { stopSampling(); sampler.Wait() }()

	r.peers = newPeers(srv.addr, c.seed)
	load, stopLoad := context.WithTimeout(ctx, c.duration)
	defer stopLoad()
	var wg sync.WaitGroup
	counts := split(c.conns)
	for k := range kinds {
		r.peers.run(load, &wg, k, counts[k])
	}
	if c.progress != nil {
		wg.Go(func() { r.peers.progress(load, c.progress, pid, &rssMax) })
	}
	wg.Wait()
	peersDone := time.Now()
	if ctx.Err() != nil {
		return r, ctx.Err()
	}

	// Every peer has closed its connections: the server must get back to
	// its idle descriptor count. Most connections end at once; one whose
	// peer's reset the kernel dropped (loopback drops under this load)
	// still holds unsent output and ends at its idle or linger deadline.
	for {
		n, err := procinfo.CountFDs(pid)
		if err != nil {
			return r, err
		}
		r.fdsEnd = n
		if n <= r.fdsBefore || time.Since(peersDone) > c.drain {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.drained = time.Since(peersDone)
	stopSampling()
	sampler.Wait()
	r.rssMax = rssMax.Load()
	if end, err := procinfo.Read(pid); err == nil {
		r.rssEnd, r.serverCPU = end.RSS, end.CPU
	}
	if r.goroutine, err = srv.goroutines(); err != nil {
		return r, err
	}
	return r, r.check()
}

// split divides n connections between the kinds by mix; good clients get
// the remainder of the rounding.
func split(n int) [kinds]int {
	var c [kinds]int
	rest := n
	for k := range kinds {
		if k != good {
			c[k] = n * mix[k] / 100
			rest -= c[k]
		}
	}
	c[good] = rest
	return c
}

// check applies the pass conditions.
func (r *report) check() error {
	var errs []error
	g := &r.peers.tallies[good]
	if g.failures.Load() > 0 {
		errs = append(errs, fmt.Errorf("%d well-behaved clients failed; the first: %w", g.failures.Load(), g.firstErr))
	}
	if g.msgs.Load() == 0 {
		errs = append(errs, errors.New("no well-behaved round trip completed"))
	}
	for k := range kinds {
		if t := &r.peers.tallies[k]; k != good && t.failures.Load() > 0 {
			errs = append(errs, fmt.Errorf("%s peers: %d verification failures; the first: %w", kindNames[k], t.failures.Load(), t.firstErr))
		}
	}
	if bound := r.cfg.maxMemory + r.cfg.rssSlack; r.rssMax > bound {
		errs = append(errs, fmt.Errorf("server RSS peaked at %s, above the budget plus slack (%s)", mib(r.rssMax), mib(bound)))
	}
	if r.fdsEnd > r.fdsBefore {
		errs = append(errs, fmt.Errorf("server holds %d descriptors after the peers left, %d before", r.fdsEnd, r.fdsBefore))
	}
	if r.goroutine > r.goroutinesIdle {
		errs = append(errs, fmt.Errorf("server has %d goroutines after the soak, an idle one %d", r.goroutine, r.goroutinesIdle))
	}
	return errors.Join(errs...)
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
