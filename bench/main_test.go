package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/procfs"

	"github.com/evsel/evsel/bench/internal/procinfo"
	"github.com/evsel/evsel/bench/internal/report"
)

// TestSmoke runs the whole orchestrator end to end in a tiny
// configuration: it builds the programs, evsel also from HEAD as the
// baseline (and the C floors when gcc and io_uring are there), runs every
// server in one echo cell, a pipelined cell, the app cell, the datagram
// cell, the TLS cells and the idle tests, and checks that every server
// reported verified bytes and no error, and system calls per message where
// perf may count them. It measures nothing.
func TestSmoke(t *testing.T) {
	if runtime.GOOS != "linux" || !procinfo.Available() {
		t.Skip("the harness samples servers through Linux's /proc")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("needs the go command to build the servers")
	}
	if testing.Short() {
		t.Skip("builds and runs the servers")
	}
	short := gitShort(t, "HEAD") // the baseline; skips outside a git checkout
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	sum, err := run(ctx, []string{
		"-quick", "-warmup", "50ms", "-measure", "200ms", "-conns", "4", "-sizes", "64",
		"-depth", "4", "-pipe-conns", "2", "-app-conns", "2", "-udp-conns", "2", "-idle", "50",
		"-tls-conns", "2", "-tls-sizes", "64", "-tls-idle", "20",
		"-progress=false", "-out", out, "-json", filepath.Join(out, "raw.json"), "-baseline", "HEAD",
	}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	t.Logf("smoke run (not a measurement):\n%s", stdout.String())

	seen := map[string]map[string]bool{}
	for _, r := range sum.Rows {
		if seen[r.Cell.Kind] == nil {
			seen[r.Cell.Kind] = map[string]bool{}
		}
		seen[r.Cell.Kind][r.Server] = true
		if r.Errors != 0 || len(r.Failures) > 0 {
			t.Errorf("%s / %s: %d errors: %q", r.Cell.Name(), r.Server, r.Errors, r.Failures)
		}
		if !r.Cell.IsIdle() && r.Bytes <= 0 {
			t.Errorf("%s / %s: no verified bytes", r.Cell.Name(), r.Server)
		}
		if r.Cell.IsIdle() && !(r.RSSAfter > 0) {
			t.Errorf("%s / %s: no RSS figure", r.Cell.Name(), r.Server)
		}
	}
	peers := []string{report.Evsel, report.EvselUring, report.EvselBase, report.Net, report.Gnet, report.Nbio}
	if haveGCC() {
		peers = append(peers, report.C)
	} else if !strings.Contains(stdout.String(), "- Note: no gcc on PATH") {
		t.Error("without gcc the report must say the C floor was left out")
	}
	if slices.ContainsFunc(sum.Rows, func(r report.Row) bool { return r.Server == report.CUring }) {
		peers = append(peers, report.CUring)
	} else if !strings.Contains(stdout.String(), "(server c-uring) was left out") {
		t.Error("without the C io_uring floor the report must say why it was left out")
	}
	// System calls are counted in the echo cells where perf may, and the
	// report says once why not where it may not.
	if why := perfCheck(ctx); why == "" {
		for _, r := range sum.Rows {
			if r.Cell.Kind == "echo" && !(r.SyscallsPerMsg > 0) {
				t.Errorf("%s / %s: no syscalls/msg", r.Cell.Name(), r.Server)
			}
		}
	} else if strings.Count(stdout.String(), "syscalls/msg column is empty") != 1 {
		t.Errorf("perf unusable (%s) and the report does not say so once", why)
	}
	for kind, want := range map[string][]string{
		"echo":     peers,
		"app":      {report.Evsel, report.EvselUring, report.EvselBase, report.Net},
		"udp":      {report.Evsel, report.EvselUring, report.EvselBase, report.Net, report.Gnet},
		"idle":     append(slices.Clone(peers), report.Multiconn),
		"tls":      {report.Evsel, report.EvselUring, report.EvselBase, report.Net},
		"tls-idle": {report.Evsel, report.EvselUring, report.EvselBase, report.Net},
	} {
		for _, s := range want {
			if !seen[kind][s] {
				t.Errorf("no %s row for %s", kind, s)
			}
		}
	}
	for _, want := range []string{
		"| echo c=4 64B | evsel |", "| echo c=4 64B | net |", "| echo c=4 64B | gnet |", "| echo c=2 64B d=4 |", "| app c=2 search |",
		"| udp c=2 64B d=8 | evsel |", "| udp c=2 64B d=8 | gnet |",
		"| echo c=4 64B | evsel@" + short + " |", "| tls c=2 64B | evsel |", "| tls c=2 64B | net |", "p99 ÷base |", "-baseline HEAD", "- Baseline: evsel@" + short,
		"| echo c=4 64B | nbio |", "CPU/msg ÷C |", "| CPU µs/msg | ÷C | ÷C-uring | syscalls/msg |", "evsel-uring CPU/msg ÷C-uring |",
		"| 50 | multiconn-server |",
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("table lacks %q", want)
		}
	}
	for _, name := range []string{"quick.md", "quick.svg", "raw.json"} {
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil || len(b) == 0 {
			t.Errorf("%s: %v (%d bytes)", name, err, len(b))
		}
	}
	var raw struct{ Runs []report.Run }
	if b, err := os.ReadFile(filepath.Join(out, "raw.json")); err == nil {
		if err := json.Unmarshal(b, &raw); err != nil || len(raw.Runs) != len(sum.Runs) {
			t.Errorf("raw.json: %v, %d runs", err, len(raw.Runs))
		}
	}
	if kids := children(); len(kids) > 0 {
		t.Errorf("processes left behind: %v", kids)
	}
	checkNoBaselineWorktree(t)
}

// gitShort is rev's abbreviated hash; the test is skipped when the
// repository lacks rev (a shallow clone).
func gitShort(t *testing.T, rev string) string {
	t.Helper()
	out, err := exec.Command("git", "rev-parse", "--short", "--verify", "--quiet", rev+"^{commit}").Output()
	if err != nil {
		t.Skipf("no revision %s in this repository: %v", rev, err)
	}
	return strings.TrimSpace(string(out))
}

// checkNoBaselineWorktree fails if a baseline worktree is still registered.
func checkNoBaselineWorktree(t *testing.T) {
	t.Helper()
	out, err := exec.Command("git", "worktree", "list", "--porcelain").Output()
	if err != nil {
		t.Fatalf("git worktree list: %v", err)
	}
	if strings.Contains(string(out), "evsel-baseline-") {
		t.Errorf("baseline worktree left behind:\n%s", out)
	}
}

// TestBuildBaseline builds echo-evsel from an old revision, where bench/
// was part of the root module, and from HEAD, where it is a module of its
// own, and checks that a failed build removes its worktree too.
func TestBuildBaseline(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("needs the go command")
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("needs git")
	}
	if testing.Short() {
		t.Skip("builds servers from other revisions")
	}
	root, err := benchDir()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for _, rev := range []string{"5638839", "HEAD"} {
		t.Run(rev, func(t *testing.T) {
			gitShort(t, rev)
			b, err := resolveBaseline(ctx, root, rev)
			if err != nil {
				t.Fatal(err)
			}
			bins := t.TempDir()
			if err := buildBaseline(ctx, root, bins, b, []string{"echo-evsel-base"}); err != nil {
				t.Fatal(err)
			}
			if fi, err := os.Stat(filepath.Join(bins, "echo-evsel-base"+exeSuffix)); err != nil || fi.Size() == 0 {
				t.Errorf("echo-evsel-base not built: %v", err)
			}
			checkNoBaselineWorktree(t)
		})
	}
	b, err := resolveBaseline(ctx, root, "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	if err := buildBaseline(ctx, root, t.TempDir(), b, []string{"echo-nosuch-base"}); err == nil {
		t.Error("building a program the revision lacks succeeded")
	}
	checkNoBaselineWorktree(t)
	if _, err := resolveBaseline(ctx, root, "no-such-revision-xyz"); err == nil {
		t.Error("an unknown revision resolved")
	}
}

// children lists the live child processes of this one.
func children() []string {
	procs, _ := procfs.AllProcs()
	var kids []string
	for _, p := range procs {
		if st, err := p.Stat(); err == nil && st.PPID == os.Getpid() {
			kids = append(kids, fmt.Sprintf("%d (%s)", st.PID, st.Comm))
		}
	}
	return kids
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags([]string{"-quick", "-conns", "8"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if o.measure != 500*time.Millisecond || o.warmup != 200*time.Millisecond || o.idle != 1000 || o.rounds != 1 {
		t.Errorf("quick defaults not applied: %+v", o)
	}
	if len(o.conns) != 1 || o.conns[0] != 8 || len(o.sizes) != 2 {
		t.Errorf("an explicit flag must beat -quick: conns %v sizes %v", o.conns, o.sizes)
	}
	o, err = parseFlags(nil, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	cells := plan(o)
	// 4 conns × 3 sizes, the pipelined cell, app, udp, idle; TLS: 2 conns
	// × 2 sizes and its idle test.
	if len(cells) != 21 {
		t.Errorf("full plan has %d cells, want 21", len(cells))
	}
	if udp := cells[14]; udp.cell.Kind != "udp" || len(udp.servers) != 4 || udp.cell.Name() != "udp c=64 64B d=8" {
		t.Errorf("udp cell %+v", udp)
	}
	for _, pc := range cells[16:] {
		if !strings.HasPrefix(pc.cell.Kind, "tls") || strings.Join(pc.servers, ",") != "evsel,evsel-uring,net" {
			t.Errorf("TLS cell %+v", pc)
		}
	}
	if app := cells[13]; app.cell.Kind != "app" || len(app.servers) != 3 {
		t.Errorf("app cell %+v", app)
	}
	if got := strings.Join(programs(cells), " "); got != "loadgen echo-evsel echo-net echo-gnet echo-nbio echo-c echo-go-epoll echo-c-uring app-evsel app-net udp-evsel udp-net udp-gnet multiconn-server tls-evsel tls-net" {
		t.Errorf("programs %q", got)
	}

	// -baseline adds evsel-base next to evsel, in every cell evsel runs in;
	// the datagram cell only when asked for, as older revisions lack it.
	o, err = parseFlags([]string{"-baseline", "HEAD~3"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(o.servers, ","); got != "evsel,evsel-base,evsel-uring,net,gnet,nbio,c,go-epoll,c-uring" || o.baseline != "HEAD~3" {
		t.Errorf("-baseline: servers %q baseline %q", got, o.baseline)
	}
	cells = plan(o)
	for _, pc := range cells {
		if strings.HasPrefix(pc.cell.Kind, "tls") {
			if slices.Contains(pc.servers, report.EvselBase) {
				t.Errorf("%s: evsel-base in a TLS cell, but the baseline has no cmd/tls-evsel", pc.cell.Name())
			}
			continue
		}
		if slices.Contains(pc.servers, report.Evsel) != slices.Contains(pc.servers, report.EvselBase) {
			t.Errorf("%s: evsel and evsel-base do not run together: %v", pc.cell.Name(), pc.servers)
		}
	}
	if got := strings.Join(programs(cells), " "); got != "loadgen echo-evsel echo-evsel-base echo-net echo-gnet echo-nbio echo-c echo-go-epoll echo-c-uring app-evsel app-evsel-base app-net multiconn-server tls-evsel tls-net" {
		t.Errorf("programs %q", got)
	}
	cur, base := splitBaseline(programs(cells))
	if strings.Join(cur, " ") != "loadgen echo-evsel echo-net echo-gnet echo-nbio echo-c echo-go-epoll echo-c-uring app-evsel app-net multiconn-server tls-evsel tls-net" || strings.Join(base, " ") != "echo-evsel-base app-evsel-base" {
		t.Errorf("splitBaseline: %q %q", cur, base)
	}
	o.baseTLS = true // a baseline with cmd/tls-evsel: evsel-base wherever evsel runs
	for _, pc := range plan(o) {
		if slices.Contains(pc.servers, report.Evsel) != slices.Contains(pc.servers, report.EvselBase) {
			t.Errorf("%s, TLS baseline: evsel and evsel-base do not run together: %v", pc.cell.Name(), pc.servers)
		}
	}
	if _, base := splitBaseline(programs(plan(o))); strings.Join(base, " ") != "echo-evsel-base app-evsel-base tls-evsel-base" {
		t.Errorf("splitBaseline with a TLS baseline: %q", base)
	}
	o, err = parseFlags([]string{"-baseline", "abc123", "-servers", "evsel-base,evsel"}, &bytes.Buffer{})
	if err != nil || strings.Join(o.servers, ",") != "evsel-base,evsel" {
		t.Errorf("explicit -servers with -baseline: %v %v", o, err)
	}

	refused(t, [][]string{
		{"-servers", "nginx"}, {"-conns", "0"}, {"-rounds", "0"}, {"extra"},
		{"-servers", "evsel,evsel-base"},               // evsel-base without -baseline
		{"-baseline", "HEAD", "-servers", "evsel,net"}, // -baseline without evsel-base
		{"-baseline", "--all"},
		{"-server-cpus", "1-0"}, {"-client-cpus", "x"}, {"-server-cpus", "0,,1"},
		{"-max-steal", "-1"}, {"-max-steal", "100"},
	})
}

// refused checks that parseFlags refuses each command line.
func refused(t *testing.T, lines [][]string) {
	t.Helper()
	for _, bad := range lines {
		if _, err := parseFlags(bad, &bytes.Buffer{}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestLeastStolen: a try over -max-steal is measured again, at most
// stealRetries times, the least stolen kept; a failure ends the retries;
// 0 never retries.
func TestLeastStolen(t *testing.T) {
	for _, tc := range []struct {
		name     string
		maxSteal float64
		steal    []float64 // the tries' steal in turn; -1 fails
		want     float64   // steal of the kept try; -1 the failure
		again    int
	}{
		{"quiet", 10, []float64{3}, 3, 0},
		{"off", 0, []float64{50}, 50, 0},
		{"second quiet", 10, []float64{30, 4}, 4, 1},
		{"least of four", 10, []float64{30, 20, 40, 25, 1}, 20, 3},
		{"failure", 10, []float64{30, -1, 1}, -1, 1},
		{"at the bound", 10, []float64{10}, 10, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tries, logged := 0, 0
			got, again := leastStolen(tc.maxSteal, func() report.Run {
				s := tc.steal[tries]
				tries++
				if s < 0 {
					return report.Run{Err: "server died", Window: 3}
				}
				return report.Run{Window: 3, StealPct: s, Round: tries}
			}, func(report.Run) { logged++ })
			kept := got.StealPct
			if got.Err != "" {
				kept = -1
			}
			if kept != tc.want || again != tc.again || tries != 1+tc.again || logged != tc.again {
				t.Errorf("kept steal %v after %d tries (%d more, %d logged), want %v and %d more", kept, tries, again, logged, tc.want, tc.again)
			}
		})
	}
}

func TestPinningFlags(t *testing.T) {
	o, err := parseFlags([]string{"-server-cores", "8", "-server-cpus", "0-7", "-client-cpus", "8-15,24"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("taskset"); err != nil {
		t.Skip("needs taskset")
	}
	srv, lg, desc := pinning(o, t.Logf)
	if srv != "0-7" || lg != "8-15,24" || !strings.Contains(desc, "-server-cpus") {
		t.Errorf("pinning = %q, %q, %q", srv, lg, desc)
	}
}

func TestCPUList(t *testing.T) {
	for _, tc := range []struct {
		in   []int
		want string
	}{{[]int{1}, "1"}, {[]int{0, 2, 3}, "0,2-3"}, {[]int{0, 1, 2, 5, 7, 8}, "0-2,5,7-8"}, {nil, ""}} {
		if got := cpuList(tc.in); got != tc.want {
			t.Errorf("cpuList(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestBaselineHas: the harness asks the baseline revision for a server's
// directory (cmd/tls-evsel) before it plans evsel-base into that server's
// cells, so a revision that predates it leaves the cells to the others.
func TestBaselineHas(t *testing.T) {
	gitShort(t, "HEAD") // skips outside a git checkout
	ctx := context.Background()
	b, err := resolveBaseline(ctx, ".", "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := b.has(ctx, ".", "bench/cmd/tls-evsel"); !ok || err != nil {
		t.Errorf("HEAD has no bench/cmd/tls-evsel: %v", err)
	}
	if ok, err := b.has(ctx, ".", "bench/cmd/no-such-server"); ok || err != nil {
		t.Errorf("HEAD has bench/cmd/no-such-server (%v)", err)
	}
	b.commit = "0000000000000000000000000000000000000000"
	if _, err := b.has(ctx, ".", "bench/cmd/tls-evsel"); err == nil {
		t.Error("a revision git does not have: no error")
	}
}
