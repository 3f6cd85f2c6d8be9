// Command bench measures evsel's engine against goroutine-per-connection
// servers on the standard net package, against the event-loop engines gnet
// and nbio, and against a one-thread C epoll server as the floor of what
// the kernel costs: `cd bench && go run .`
// (or `go run . -quick` for a CI-sized smoke run). bench is a module of its
// own, so that gnet, gonum/plot and the rest stay out of the library's
// dependencies; its go.mod replaces the library with the directory above.
//
// It builds the servers and the load generator (cmd/...), then for
// every cell of the matrix starts each server in a process of its own,
// pinned with taskset away from the load generator, runs the load
// generator against it, and samples the server's CPU time and memory from
// /proc over the measured window. Servers take turns within each cell, in
// an order that rotates from cell to cell, so slow drift on the machine
// hits all of them alike. It prints Markdown tables on stdout and writes
// them, with an SVG chart, to results/. See README.md.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/evsel/evsel/bench/internal/procinfo"
	"github.com/evsel/evsel/bench/internal/report"
)

// exeSuffix is what go build appends to the programs it builds.
var exeSuffix = func() string {
	if runtime.GOOS == "windows" {
		return ".exe"
	}
	return ""
}()

type options struct {
	quick           bool
	warmup, measure time.Duration
	conns, sizes    []int
	depth           int // pipelined cell's depth; 0: no pipelined cell
	pipeConns       int
	pipeSize        int
	appConns        int // 0: no app cell
	udpConns        int // 0: no datagram cell
	udpSize         int
	udpDepth        int
	// udpExplicit: -udp-conns was given. With -baseline the datagram cell
	// runs only then, since revisions before it have no udp-evsel to build.
	udpExplicit bool
	idle        int // 0: no idle-memory test
	idleApps    bool
	tlsConns    []int
	tlsSizes    []int
	tlsIdle     int // 0: no TLS idle-memory test
	servers     []string
	rounds      int
	serverCores int
	pin         bool
	serverCPUs  string // -server-cpus: taskset list overriding the computed one
	clientCPUs  string // -client-cpus: the same for the load generator
	out         string
	jsonPath    string
	progress    bool
	gnetTags    string
	verbose     bool
	maxSteal    float64 // -max-steal: percent; 0 keeps every first try
	baseline    string  // -baseline: a git revision; "" for none
	syscalls    bool    // count the servers' system calls with perf (echo cells)
	// baseTLS: the baseline revision has cmd/tls-evsel, so evsel-base
	// runs in the TLS cells too (run sets it once the revision is known).
	baseTLS bool
	// instructions: count the servers' user-space instructions per
	// message under callgrind instead of measuring CPU (instructions.go).
	instructions bool
	// callgrindKeep: -instructions copies each window's dump here.
	callgrindKeep string
}

// summary is what a run produced, for the smoke test.
type summary struct {
	Rows     []report.Row
	Runs     []report.Run
	Markdown string
	Files    []string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sum, err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	for _, r := range sum.Rows {
		if r.Errors > 0 || len(r.Failures) > 0 {
			fmt.Fprintln(os.Stderr, "bench: some runs had errors; see the Errors section")
			os.Exit(1)
		}
	}
}

// plan lists the cells: the echo matrix, the pipelined cell, the app
// cell, the datagram cell and the idle-memory test, each with the servers that take part.
type plannedCell struct {
	cell    report.Cell
	servers []string
}

func plan(o *options) []plannedCell {
	var cells []plannedCell
	for _, size := range o.sizes {
		for _, c := range o.conns {
			cells = append(cells, plannedCell{report.Cell{Kind: "echo", Conns: c, Size: size}, o.servers})
		}
	}
	if o.depth > 1 {
		cells = append(cells, plannedCell{report.Cell{Kind: "echo", Conns: o.pipeConns, Size: o.pipeSize, Depth: o.depth}, o.servers})
	}
	if o.appConns > 0 {
		var s []string
		for _, srv := range o.servers {
			if slices.Contains(appServers, srv) {
				s = append(s, srv)
			}
		}
		if len(s) > 0 {
			cells = append(cells, plannedCell{report.Cell{Kind: "app", Conns: o.appConns}, s})
		}
	}
	if o.udpConns > 0 && (o.baseline == "" || o.udpExplicit) {
		cell := report.Cell{Kind: "udp", Conns: o.udpConns, Size: max(o.udpSize, 20), Depth: min(max(o.udpDepth, 1), 64)}
		var s []string
		for _, srv := range o.servers {
			if slices.Contains(udpServers, srv) {
				s = append(s, srv)
			}
		}
		cells = append(cells, plannedCell{cell, s})
	}
	if o.idle > 0 {
		s := o.servers
		if o.idleApps {
			s = append(slices.Clone(s), report.Multiconn)
		}
		cells = append(cells, plannedCell{report.Cell{Kind: "idle", Conns: o.idle}, s})
	}
	// TLS: evsel against net+crypto/tls. gnet has no TLS, and a baseline
	// revision may predate evsel's (baseTLS).
	var tlsServers []string
	for _, srv := range o.servers {
		if srv == report.Evsel || srv == report.EvselUring || srv == report.Net || (srv == report.EvselBase && o.baseTLS) {
			tlsServers = append(tlsServers, srv)
		}
	}
	if len(tlsServers) > 0 {
		for _, size := range o.tlsSizes {
			for _, c := range o.tlsConns {
				cells = append(cells, plannedCell{report.Cell{Kind: "tls", Conns: c, Size: size}, tlsServers})
			}
		}
		if o.tlsIdle > 0 {
			cells = append(cells, plannedCell{report.Cell{Kind: "tls-idle", Conns: o.tlsIdle}, tlsServers})
		}
	}
	return cells
}

// programs lists the binaries the plan needs.
func programs(cells []plannedCell) []string {
	progs := []string{"loadgen"}
	for _, pc := range cells {
		for _, s := range pc.servers {
			if p := program(pc.cell.Kind, s); !slices.Contains(progs, p) {
				progs = append(progs, p)
			}
		}
	}
	return progs
}

// benchDir finds the bench module's directory from the working directory,
// which must be inside that module: the go command builds the servers
// there, against the library its go.mod points at.
func benchDir() (string, error) {
	out, err := exec.Command("go", "list", "-f", "{{.Dir}}", benchPkg).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			// Only the first line: the go command goes on to suggest a
			// go get, which is not the fix.
			first, _, _ := strings.Cut(strings.TrimSpace(string(ee.Stderr)), "\n")
			return "", fmt.Errorf("run from inside the bench module (cd bench && go run .): go list %s: %s", benchPkg, first)
		}
		return "", fmt.Errorf("go list: %w (the go command builds the servers)", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// benchPkg is this command's import path.
const benchPkg = "github.com/evsel/evsel/bench"

// build compiles the programs into dir, once.
func build(ctx context.Context, root, dir string, progs []string, gnetTags string) error {
	var plain, tagged []string
	for _, p := range progs {
		pkg := "./cmd/" + p
		if p == multiconnProgram {
			plain = append(plain, multiconnPkg)
			continue
		}
		if _, ok := cSources[p]; ok {
			if err := buildC(ctx, root, dir, p); err != nil {
				return err
			}
			continue
		}
		if p == "echo-gnet" && gnetTags != "" {
			tagged = append(tagged, pkg)
		} else {
			plain = append(plain, pkg)
		}
	}
	run := func(args ...string) error {
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	if len(plain) > 0 {
		if err := run(append([]string{"build", "-o", dir + string(os.PathSeparator)}, plain...)...); err != nil {
			return err
		}
	}
	if len(tagged) > 0 {
		return run(append([]string{"build", "-tags", gnetTags, "-o", dir + string(os.PathSeparator)}, tagged...)...)
	}
	return nil
}

// pinning chooses the CPUs: the server gets CPUs 1..cores, the load
// generator the others (CPU 0 on a 2-core machine). Without taskset or
// without enough CPUs nothing is pinned.
func pinning(o *options, logf func(string, ...any)) (srv, lg, desc string) {
	n := runtime.NumCPU()
	switch {
	case !o.pin:
		return "", "", "not pinned (-pin=false)"
	case o.serverCPUs != "" || o.clientCPUs != "":
		if _, err := exec.LookPath("taskset"); err != nil {
			logf("taskset not found: not pinning")
			return "", "", "not pinned (no taskset)"
		}
		desc = fmt.Sprintf("server on CPU %s, load generator on CPU %s (taskset, -server-cpus/-client-cpus)",
			cmp.Or(o.serverCPUs, "any"), cmp.Or(o.clientCPUs, "any"))
		return o.serverCPUs, o.clientCPUs, desc
	case n < o.serverCores+1:
		logf("only %d CPUs: not pinning (server and load generator share the CPUs)", n)
		return "", "", fmt.Sprintf("not pinned (%d CPU)", n)
	}
	if _, err := exec.LookPath("taskset"); err != nil {
		logf("taskset not found: not pinning")
		return "", "", "not pinned (no taskset)"
	}
	var s, l []int
	for i := range n {
		if i >= 1 && i <= o.serverCores {
			s = append(s, i)
		} else {
			l = append(l, i)
		}
	}
	srv, lg = cpuList(s), cpuList(l)
	return srv, lg, fmt.Sprintf("server on CPU %s, load generator on CPU %s (taskset)", srv, lg)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) (*summary, error) {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return nil, err
	}
	logf := func(format string, a ...any) {
		if o.verbose {
			fmt.Fprintf(stderr, "\n"+format+"\n", a...)
		}
	}
	warnf := func(format string, a ...any) { fmt.Fprintf(stderr, "bench: "+format+"\n", a...) }

	if o.instructions {
		if err := checkCallgrind(); err != nil {
			return nil, err
		}
	}
	root, err := benchDir()
	if err != nil {
		return nil, err
	}
	var base *baseline
	if o.baseline != "" {
		if base, err = resolveBaseline(ctx, root, o.baseline); err != nil {
			return nil, err
		}
		if o.baseTLS, err = base.has(ctx, root, "bench/cmd/tls-evsel"); err != nil {
			return nil, err
		}
	}
	bins, err := os.MkdirTemp("", "evsel-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(bins)
	var notes []string
	leaveOut := func(server, note string) {
		warnf("%s", note)
		notes = append(notes, note)
		o.servers = slices.DeleteFunc(o.servers, func(s string) bool { return s == server })
	}
	if slices.Contains(o.servers, report.C) {
		// The floor is epoll's: Linux only, and built with gcc.
		if _, err := exec.LookPath("gcc"); err != nil {
			leaveOut(report.C, "no gcc on PATH: the C epoll floor (server c) was left out, and the ÷C columns are empty")
		} else if runtime.GOOS != "linux" {
			leaveOut(report.C, "the C floor is an epoll server, Linux only: left out, and the ÷C columns are empty")
		}
	}
	if slices.Contains(o.servers, report.GoEpoll) && runtime.GOOS != "linux" {
		leaveOut(report.GoEpoll, "the Go floor (server go-epoll) is an epoll server, Linux only: left out")
	}
	cUringBuilt := false
	if slices.Contains(o.servers, report.CUring) {
		// The io_uring floor also needs a kernel that lets it run: built
		// and asked (-probe) before the plan is made.
		if _, err := exec.LookPath("gcc"); err != nil {
			leaveOut(report.CUring, "no gcc on PATH: the C io_uring floor (server c-uring) was left out, and the ÷C-uring columns are empty")
		} else if runtime.GOOS != "linux" {
			leaveOut(report.CUring, "the C io_uring floor is Linux only: left out, and the ÷C-uring columns are empty")
		} else if err := probeCUring(ctx, root, bins); err != nil {
			leaveOut(report.CUring, fmt.Sprintf("the C io_uring floor (server c-uring) was left out (%v), and the ÷C-uring columns are empty", err))
		} else {
			cUringBuilt = true
		}
	}
	cells := plan(o)
	if base != nil && !o.baseTLS && slices.ContainsFunc(cells, func(pc plannedCell) bool { return strings.HasPrefix(pc.cell.Kind, "tls") }) {
		note := fmt.Sprintf("the baseline %s predates cmd/tls-evsel: the TLS cells run without evsel-base", base.short)
		warnf("%s", note)
		notes = append(notes, note)
	}
	current, baseProgs := splitBaseline(programs(cells))
	if cUringBuilt {
		current = slices.DeleteFunc(current, func(p string) bool { return p == cUringProgram })
	}
	fmt.Fprintf(stderr, "bench: building %d programs...\n", len(current))
	if err := build(ctx, root, bins, current, o.gnetTags); err != nil {
		return nil, err
	}
	if base != nil {
		fmt.Fprintf(stderr, "bench: building %d programs of the baseline %s...\n", len(baseProgs), base.describe())
		if err := buildBaseline(ctx, root, bins, base, baseProgs); err != nil {
			return nil, err
		}
	}

	srvCPUs, lgCPUs, pinDesc := pinning(o, warnf)
	h := &harness{opts: o, bins: bins, srvCPUs: srvCPUs, loadCPUs: lgCPUs, haveProcs: procinfo.Available(), logf: logf}
	var callgrindRoot string // -instructions: the runs' directories go here
	if o.instructions {
		if callgrindRoot, err = os.MkdirTemp("", "evsel-callgrind-"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(callgrindRoot)
	}
	if !o.syscalls {
		if !o.instructions {
			notes = append(notes, "system calls not counted (-syscalls=false): the syscalls/msg column is empty")
		}
	} else if why := perfCheck(ctx); why != "" {
		warnf("%s", why)
		notes = append(notes, why)
	} else {
		h.syscalls = true
	}
	if !h.haveProcs {
		warnf("no /proc: CPU and memory figures are left out")
	}

	total := 0
	for _, pc := range cells {
		total += len(pc.servers) * o.rounds
	}
	bar := progressbar.NewOptions(total,
		progressbar.OptionSetWriter(stderr),
		progressbar.OptionSetVisibility(o.progress),
		progressbar.OptionSetWidth(30),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionThrottle(200*time.Millisecond),
	)

	var runs []report.Run
	retried := 0 // measurements repeated for steal (-max-steal)
	for round := range o.rounds {
		for i, pc := range cells {
			n := len(pc.servers)
			for k := range n {
				server := pc.servers[(i+round+k)%n] // rotate who goes first
				bar.Describe(fmt.Sprintf("%-24s %-10s", pc.cell.Name(), server))
				var r report.Run
				switch {
				case o.instructions:
					r = h.runInstructions(ctx, callgrindRoot, pc.cell, server, round)
				case pc.cell.IsIdle():
					r = h.runIdle(ctx, pc.cell, server)
				default:
					var again int
					r, again = h.runQuiet(ctx, pc.cell, server)
					retried += again
				}
				r.Round = round
				runs = append(runs, r)
				if r.Err != "" {
					logf("%s / %s: %s", pc.cell.Name(), server, r.Err)
				}
				bar.Add(1)
				if ctx.Err() != nil {
					bar.Exit()
					return nil, ctx.Err()
				}
			}
		}
	}
	bar.Finish()
	if o.progress {
		fmt.Fprintln(stderr)
	}

	if o.instructions {
		return writeInstructionRun(o, args, base, pinDesc, notes, runs, root, stdout, stderr)
	}
	shown := o.servers
	if o.idle > 0 && o.idleApps {
		shown = append(slices.Clone(shown), report.Multiconn)
	}
	rows := report.Aggregate(runs, shown)
	if retried > 0 {
		notes = append(notes, fmt.Sprintf("%d measurement(s) ran again because the hypervisor took more than %g%% of the CPUs' time in their window (-max-steal); each keeps the least stolen of up to %d tries", retried, o.maxSteal, 1+stealRetries))
	}
	meta := newMeta("evsel benchmark", args, base, notes,
		fmt.Sprintf("%s; %d loop(s)/GOMAXPROCS=%d per server; warm-up %v, measured %v per server per cell; %d round(s), servers interleaved, medians shown",
			pinDesc, o.serverCores, o.serverCores, o.warmup, o.measure, o.rounds))
	meta.Quick = o.quick
	if o.quick {
		meta.Title = "evsel benchmark (quick smoke run)"
	}
	var md strings.Builder
	if err := report.WriteMarkdown(&md, meta, rows); err != nil {
		return nil, err
	}
	io.WriteString(stdout, md.String())
	sum := &summary{Rows: rows, Runs: runs, Markdown: md.String()}

	outDir := o.out
	if outDir == "" {
		outDir = filepath.Join(root, "results")
	}
	if outDir != "-" {
		name := "latest"
		if o.quick {
			name = "quick"
		}
		if err := os.MkdirAll(outDir, 0o755); err != nil {
			return nil, err
		}
		mdPath := filepath.Join(outDir, name+".md")
		if err := os.WriteFile(mdPath, []byte(md.String()), 0o644); err != nil {
			return nil, err
		}
		sum.Files = append(sum.Files, mdPath)
		svgPath := filepath.Join(outDir, name+".svg")
		if err := writeChart(svgPath, rows, o.servers, meta.Labels, meta.Title); err != nil {
			warnf("chart: %v", err)
		} else {
			sum.Files = append(sum.Files, svgPath)
		}
		fmt.Fprintf(stderr, "bench: wrote %s\n", strings.Join(sum.Files, ", "))
	}
	if o.jsonPath != "" {
		if err := writeJSON(o.jsonPath, meta, runs); err != nil {
			return nil, err
		}
	}
	return sum, nil
}

// newMeta is a report's heading: what ran, where, when and how.
func newMeta(title string, args []string, base *baseline, notes []string, method string) report.Meta {
	meta := report.Meta{
		Title:   title,
		Date:    time.Now().UTC().Format("2006-01-02 15:04 UTC"),
		Machine: procinfo.Machine(),
		Go:      goVersion(),
		Command: strings.TrimSpace("cd bench && go run . " + strings.Join(args, " ")),
		Method:  method,
		Labels:  report.Labels{},
		Notes:   notes,
	}
	if base != nil {
		meta.Baseline = base.describe()
		meta.Labels[report.EvselBase] = base.label()
	}
	return meta
}

// writeJSON writes every run's raw figures (-json).
func writeJSON(path string, meta report.Meta, runs []report.Run) error {
	b, err := json.MarshalIndent(struct {
		Meta report.Meta
		Runs []report.Run
	}{meta, runs}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func writeChart(path string, rows []report.Row, servers []string, labels report.Labels, title string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := report.WriteChart(f, rows, servers, labels, title); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}

func goVersion() string {
	out, err := exec.Command("go", "env", "GOVERSION").Output()
	if err != nil {
		return runtime.Version()
	}
	return strings.TrimSpace(string(out)) + " " + runtime.GOOS + "/" + runtime.GOARCH
}
