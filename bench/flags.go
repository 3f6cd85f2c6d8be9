package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/evsel/evsel/bench/internal/report"
)

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{}
	var conns, sizes, servers, tlsConns, tlsSizes string
	fs.BoolVar(&o.quick, "quick", false, "CI-sized run: short windows, small matrix (a smoke test, not a measurement)")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "warm-up per server per cell (-quick: 200ms)")
	fs.DurationVar(&o.measure, "measure", 3*time.Second, "measured window per server per cell (-quick: 500ms)")
	fs.StringVar(&conns, "conns", "1,64,1024,8192", "connection counts of the echo matrix (-quick: 1,64)")
	fs.StringVar(&sizes, "sizes", "64,1024,16384", "message sizes of the echo matrix, bytes (-quick: 64,1024)")
	fs.IntVar(&o.depth, "depth", 16, "pipeline depth of the extra pipelined echo cell; 0 leaves it out")
	fs.IntVar(&o.pipeConns, "pipe-conns", 64, "connections of the pipelined cell")
	fs.IntVar(&o.pipeSize, "pipe-size", 64, "message size of the pipelined cell")
	fs.IntVar(&o.appConns, "app-conns", 64, "connections of the app-protocol cell (evsel and net); 0 leaves it out")
	fs.IntVar(&o.udpConns, "udp-conns", 64, "UDP sockets of the datagram cell (evsel, net, gnet); 0 leaves it out")
	fs.IntVar(&o.udpSize, "udp-size", 64, "datagram size of the datagram cell, bytes (at least 20)")
	fs.IntVar(&o.udpDepth, "udp-depth", 8, "datagrams in flight per socket in the datagram cell (at most 64)")
	fs.IntVar(&o.idle, "idle", 10000, "idle connections for the memory test; 0 leaves it out (-quick: 1000)")
	fs.BoolVar(&o.idleApps, "idle-apps", true, "also measure apps/multiconn-server, as users run it, in the memory test")
	fs.StringVar(&tlsConns, "tls-conns", "64,1024", "connection counts of the TLS echo cells (evsel, evsel-uring, evsel-base and net only); \"\" leaves them out (-quick: 64)")
	fs.StringVar(&tlsSizes, "tls-sizes", "64,4096", "message sizes of the TLS echo cells, bytes (-quick: 64)")
	fs.IntVar(&o.tlsIdle, "tls-idle", 2000, "idle TLS connections for the TLS memory test; 0 leaves it out (-quick: 200)")
	fs.StringVar(&servers, "servers", strings.Join(defaultServers, ","), "servers to compare (-baseline adds evsel-base after evsel)")
	fs.IntVar(&o.rounds, "rounds", 2, "times each server runs each cell (the tables show medians; -quick: 1)")
	fs.IntVar(&o.serverCores, "server-cores", 1, "event loops, or GOMAXPROCS, of every server; the server gets that many CPUs and the load generator the rest")
	fs.BoolVar(&o.pin, "pin", true, "pin the server and the load generator to different CPUs with taskset")
	fs.StringVar(&o.serverCPUs, "server-cpus", "", "taskset CPU list for every server (e.g. 0-7); default CPUs 1..-server-cores")
	fs.StringVar(&o.clientCPUs, "client-cpus", "", "taskset CPU list for the load generator (e.g. 8-15); default the CPUs the servers do not get")
	fs.StringVar(&o.out, "out", "", "directory for latest.md and latest.svg (quick.md, quick.svg with -quick); default bench/results; \"-\" writes none")
	fs.StringVar(&o.jsonPath, "json", "", "also write every run's raw figures to this JSON file")
	fs.BoolVar(&o.progress, "progress", true, "show a progress bar on stderr")
	fs.StringVar(&o.gnetTags, "gnet-tags", "", "build tags for the gnet server (e.g. poll_opt)")
	fs.BoolVar(&o.syscalls, "syscalls", true, "count each server's system calls over the echo cells' window with perf (syscalls/msg)")
	fs.Float64Var(&o.maxSteal, "max-steal", 0, "measure a server again, up to 3 times, when the hypervisor took more than this percentage of the CPUs' time in its window, and keep the least stolen try; 0 never does")
	fs.BoolVar(&o.verbose, "v", false, "copy the children's diagnostics to stderr")
	fs.StringVar(&o.callgrindKeep, "callgrind-keep", "", "with -instructions, copy each window's callgrind dump into this directory (as <cell>-<server>-<round>.callgrind) for callgrind_annotate, to see where the instructions go")
	fs.BoolVar(&o.instructions, "instructions", false, "count each server's user-space instructions per message under valgrind's callgrind instead of measuring CPU time, a figure that moves far less on a noisy host (echo cells only, not the io_uring servers, no system-call count; defaults: -conns 1,64 -sizes 64 -rounds 1 -warmup 2s -servers evsel,c, or evsel,evsel-base,c with -baseline)")
	fs.StringVar(&o.baseline, "baseline", "", "git revision to build evsel from as the extra server evsel-base, to measure a change against it in the same run")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	o.udpExplicit = set["udp-conns"]
	if strings.HasPrefix(o.baseline, "-") {
		return nil, fmt.Errorf("-baseline: %q is not a revision", o.baseline)
	}
	if o.baseline != "" && !set["servers"] {
		servers = strings.Join(slices.Insert(slices.Clone(defaultServers), 1, report.EvselBase), ",")
	}
	if o.instructions {
		if o.quick {
			return nil, errors.New("-instructions and -quick do not go together")
		}
		defaults := map[string]string{
			"conns": "1,64", "sizes": "64", "rounds": "1", "servers": "evsel,c", "warmup": "2s",
			"app-conns": "0", "udp-conns": "0", "idle": "0", "tls-conns": "", "tls-idle": "0", "syscalls": "false",
		}
		if o.baseline != "" {
			defaults["servers"] = "evsel,evsel-base,c"
		}
		if err := setUnset(fs, set, defaults); err != nil {
			return nil, err
		}
		for _, s := range strings.Split(servers, ",") {
			if slices.Contains(uringServers, strings.TrimSpace(s)) {
				return nil, fmt.Errorf("-instructions: %s cannot run under valgrind (io_uring)", s)
			}
		}
		if o.appConns > 0 || o.udpConns > 0 || o.idle > 0 || tlsConns != "" || o.tlsIdle > 0 {
			return nil, errors.New("-instructions counts echo cells only: leave out -app-conns, -udp-conns, -idle, -tls-conns and -tls-idle")
		}
		if o.syscalls {
			return nil, errors.New("-instructions counts no system calls: leave out -syscalls")
		}
	} else if o.callgrindKeep != "" {
		return nil, errors.New("-callgrind-keep goes with -instructions")
	}
	if o.quick {
		quick := map[string]string{
			"warmup": "200ms", "measure": "500ms", "conns": "1,64", "sizes": "64,1024",
			"idle": "1000", "rounds": "1", "tls-conns": "64", "tls-sizes": "64", "tls-idle": "200",
		}
		if err := setUnset(fs, set, quick); err != nil {
			return nil, err
		}
	}
	var err error
	if o.conns, err = intList(conns); err != nil {
		return nil, fmt.Errorf("-conns: %w", err)
	}
	if o.sizes, err = intList(sizes); err != nil {
		return nil, fmt.Errorf("-sizes: %w", err)
	}
	if o.tlsConns, err = intList(tlsConns); err != nil {
		return nil, fmt.Errorf("-tls-conns: %w", err)
	}
	if o.tlsSizes, err = intList(tlsSizes); err != nil {
		return nil, fmt.Errorf("-tls-sizes: %w", err)
	}
	for _, s := range strings.Split(servers, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if s == report.EvselBase && o.baseline == "" {
			return nil, fmt.Errorf("-servers: %s needs -baseline REV", s)
		}
		if !slices.Contains(allServers, s) {
			return nil, fmt.Errorf("-servers: unknown server %q (%s; evsel-base with -baseline)", s, strings.Join(defaultServers, ", "))
		}
		o.servers = append(o.servers, s)
	}
	if len(o.servers) == 0 {
		return nil, errors.New("-servers: none")
	}
	if o.baseline != "" && !slices.Contains(o.servers, report.EvselBase) {
		return nil, fmt.Errorf("-baseline: -servers must include %s", report.EvselBase)
	}
	for _, l := range []struct{ flag, v string }{{"-server-cpus", o.serverCPUs}, {"-client-cpus", o.clientCPUs}} {
		if l.v != "" && !validCPUList(l.v) {
			return nil, fmt.Errorf("%s: %q is not a CPU list such as 0-3,8", l.flag, l.v)
		}
	}
	if o.measure <= 0 || o.warmup < 0 || o.rounds < 1 || o.serverCores < 1 || o.maxSteal < 0 || o.maxSteal >= 100 {
		return nil, errors.New("need -measure > 0, -warmup ≥ 0, -rounds ≥ 1, -server-cores ≥ 1, 0 ≤ -max-steal < 100")
	}
	return o, nil
}

func intList(s string) ([]int, error) {
	var v []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a positive number", f)
		}
		v = append(v, n)
	}
	return v, nil
}

// defaultServers are compared unless -servers says otherwise; allServers
// also has evsel-base, which only -baseline builds.
var (
	defaultServers = []string{report.Evsel, report.EvselUring, report.Net, report.Gnet, report.Nbio, report.C, report.GoEpoll, report.CUring}
	allServers     = append(slices.Clone(defaultServers), report.EvselBase)
)

// appServers have a server of the application protocol: it is evsel's
// codec, so gnet, nbio and the C floors have none.
var appServers = []string{report.Evsel, report.EvselUring, report.EvselBase, report.Net}

// udpServers have a datagram echo server; nbio and the C floors have none.
var udpServers = []string{report.Evsel, report.EvselUring, report.EvselBase, report.Net, report.Gnet}

// validCPUList reports whether s is a taskset CPU list: numbers and
// ranges separated by commas.
func validCPUList(s string) bool {
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err1 := strconv.Atoi(lo)
		b, err2 := a, error(nil)
		if isRange {
			b, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil || a < 0 || b < a {
			return false
		}
	}
	return true
}

// setUnset gives the flags a mode changes their defaults (-quick,
// -instructions) those values, unless the command line set them.
func setUnset(fs *flag.FlagSet, set map[string]bool, values map[string]string) error {
	for name, v := range values {
		if !set[name] {
			if err := fs.Set(name, v); err != nil {
				return err
			}
		}
	}
	return nil
}
