// Package report turns benchmark runs into the Markdown tables and the SVG
// chart: medians over rounds, ratios of evsel to the other servers, and the
// check against the targets.
package report

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/evsel/evsel/bench/internal/load"
)

// Server names as used in runs and tables.
const (
	Evsel = "evsel"
	Net   = "net"
	Gnet  = "gnet"
	// Nbio is github.com/lesismal/nbio, a second Go event-loop engine.
	Nbio = "nbio"
	// C is the one-thread C epoll echo server (bench/cserver): the floor
	// of what the kernel costs, which every table relates servers to (÷C).
	C = "c"
	// GoEpoll is the C floor's loop written in Go (cmd/echo-go-epoll):
	// one goroutine, nothing an engine adds, its system calls made as
	// evsel's loop makes them, so what it costs over C is the Go
	// runtime's share and what evsel costs over it the engine's own.
	GoEpoll = "go-epoll"
	// CUring is the one-thread C io_uring echo server (bench/cserver):
	// the floor issue 14 measures evsel's io_uring driver against (÷C-uring).
	CUring = "c-uring"
	// Multiconn is apps/multiconn-server, the engine inside a real
	// program, as users run it: it takes part in the idle-memory test only.
	Multiconn = "multiconn-server"
	// EvselBase is evsel built from another revision of the repository
	// (bench -baseline), so that a change is measured against what it
	// changes in the same run, on the same machine state.
	EvselBase = "evsel-base"
	// EvselUring is evsel's servers on the io_uring completion driver
	// (-driver io_uring); Evsel runs the default, epoll.
	EvselUring = "evsel-uring"
)

// Labels maps server names to how the tables and the chart show them
// (e.g. evsel-base as evsel@5638839); names not in it show as they are.
type Labels map[string]string

// Of is the label of server.
func (l Labels) Of(server string) string {
	if s, ok := l[server]; ok && s != "" {
		return s
	}
	return server
}

// Targets from the issue, against gnet (measured, never asserted in tests).
const (
	TargetCPURatio   = 0.9 // evsel CPU/msg ≤ 0.9× gnet's
	TargetThroughput = 1.0 // evsel msgs/s ≥ gnet's
	TargetP99        = 1.0 // evsel p99 ≤ gnet's
	TargetIdleBytes  = 256 // evsel bytes of RSS per idle connection
	// TargetCPUvsC is issue 13's: evsel's CPU/msg ≤ 1.05× the C floor's
	// in every echo cell, and never above net's.
	TargetCPUvsC = 1.05
	// TargetCPUvsCUring is issue 14's: evsel on io_uring ≤ 1.05× the C
	// io_uring floor's CPU/msg in every echo cell.
	TargetCPUvsCUring = 1.05
)

// Cell is one point of the matrix.
type Cell struct {
	Kind  string `json:"kind"` // "echo", "app", "udp", "idle", "tls" (echo over TLS) or "tls-idle"
	Conns int    `json:"conns"`
	Size  int    `json:"size,omitempty"`  // echo message size
	Depth int    `json:"depth,omitempty"` // requests in flight per connection
}

// IsIdle says whether the cell is an idle-memory test.
func (c Cell) IsIdle() bool { return c.Kind == "idle" || c.Kind == "tls-idle" }

// Name is how the tables show the cell.
func (c Cell) Name() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s c=%d", c.Kind, c.Conns)
	if c.Kind == "echo" || c.Kind == "udp" || c.Kind == "tls" {
		fmt.Fprintf(&b, " %s", SizeName(c.Size))
	}
	if c.Kind == "app" {
		b.WriteString(" search")
	}
	if c.Depth > 1 {
		fmt.Fprintf(&b, " d=%d", c.Depth)
	}
	return b.String()
}

// SizeName spells a byte count as 64B, 1KiB, 16KiB.
func SizeName(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

// Run is one server measured in one cell in one round.
type Run struct {
	Cell   Cell   `json:"cell"`
	Server string `json:"server"`
	Round  int    `json:"round"`
	// Load is the load generator's report (zero for idle cells).
	Load load.Result `json:"load"`
	// Window is the measured window as the orchestrator saw it, seconds;
	// the CPU figures are over it.
	Window float64 `json:"window_s"`
	// SrvCPU is the server's utime+stime over the window, seconds.
	SrvCPU float64 `json:"server_cpu_s"`
	// CPUPerMsgUs is server CPU microseconds per verified message: its CPU
	// rate over the orchestrator's window divided by the message rate over
	// the load generator's window.
	CPUPerMsgUs float64 `json:"server_cpu_us_per_msg"`
	SrvCPUPct   float64 `json:"server_cpu_pct"`  // of one core
	LoadCPUPct  float64 `json:"loadgen_cpu_pct"` // of one core
	SrvRSS      int64   `json:"server_rss_bytes"`
	// StealPct is the share of all the CPUs' time over the window that the
	// hypervisor gave to other guests (steal in /proc/stat), in percent.
	// On a shared host it makes everything dearer, caches colder and the
	// figures drift; a quiet machine shows 0.
	StealPct float64 `json:"steal_pct"`
	// Syscalls is the system calls the server entered over the window (all
	// threads, counted by perf's raw_syscalls:sys_enter tracepoint), and
	// SyscallsPerMsg the same per verified message, computed as
	// CPUPerMsgUs is; both absent when they were not counted (not an echo
	// cell, or no perf).
	Syscalls       int64   `json:"server_syscalls,omitempty"`
	SyscallsWindow float64 `json:"server_syscalls_window_s,omitempty"`
	SyscallsPerMsg float64 `json:"server_syscalls_per_msg,omitempty"`
	// InstrPerMsg is the server's user-space instructions per verified
	// message over the window, counted by callgrind (-instructions).
	InstrPerMsg float64 `json:"server_instructions_per_msg,omitempty"`
	Idle        *Idle   `json:"idle,omitempty"`
	// Err is set when the run failed as a whole (the server died, the load
	// generator did not report).
	Err string `json:"error,omitempty"`
}

// Idle is the idle-connection memory measurement.
type Idle struct {
	Conns        int     `json:"conns"`
	Connected    int     `json:"connected"`
	Accepted     int     `json:"accepted"` // descriptors the server gained
	RSSBefore    int64   `json:"rss_before"`
	RSSAfter     int64   `json:"rss_after"`
	BytesPerConn float64 `json:"bytes_per_conn"`
	// The same after the server collected garbage and returned free memory
	// to the OS (runtime.GC, debug.FreeOSMemory), before and after.
	RSSBeforeGC    int64   `json:"rss_before_gc"`
	RSSAfterGC     int64   `json:"rss_after_gc"`
	BytesPerConnGC float64 `json:"bytes_per_conn_gc"`
}

// Row is one server in one cell: the median of its rounds.
type Row struct {
	Cell   Cell
	Server string
	Rounds int
	// Medians over rounds.
	MsgsPerS, MBPerS, P50, P99, P999, CPUPerMsg, SrvCPUPct, LoadCPUPct float64
	// CPUPerMsgByRound is each round's CPU per message, for CPURatio.
	CPUPerMsgByRound                                  map[int]float64
	SrvRSS                                            float64
	StealPct                                          float64 // NaN when not sampled
	SyscallsPerMsg                                    float64 // NaN when not counted
	BytesPerConn, BytesPerConnGC, RSSBefore, RSSAfter float64
	// Sums over rounds.
	Errors, Bytes int64
	Failures      []string
}

// Meta describes the run for the report's heading.
type Meta struct {
	Title   string
	Date    string
	Machine string
	Go      string
	Command string
	Method  string
	// Baseline describes the revision evsel-base was built from, e.g.
	// `5638839 "loop: no tick timer..."`; empty without -baseline.
	Baseline string
	// Labels are the servers' display names.
	Labels Labels
	Quick  bool
	// Notes are shown under the heading, e.g. that the C floor could not
	// be built.
	Notes []string
}

// Aggregate groups runs by cell and server, in the order cells first
// appear, servers in the given order.
func Aggregate(runs []Run, servers []string) []Row {
	type key struct {
		c Cell
		s string
	}
	var cells []Cell
	groups := map[key][]Run{}
	for _, r := range runs {
		k := key{r.Cell, r.Server}
		if !slices.Contains(cells, r.Cell) {
			cells = append(cells, r.Cell)
		}
		groups[k] = append(groups[k], r)
	}
	var rows []Row
	for _, c := range cells {
		for _, s := range servers {
			g := groups[key{c, s}]
			if len(g) == 0 {
				continue
			}
			rows = append(rows, aggregate(c, s, g))
		}
	}
	return rows
}

func aggregate(c Cell, s string, g []Run) Row {
	row := Row{Cell: c, Server: s, Rounds: len(g)}
	var ok []Run
	for _, r := range g {
		row.Errors += r.Load.Errors
		row.Bytes += r.Load.Bytes
		if r.Err != "" {
			row.Failures = append(row.Failures, r.Err)
			continue
		}
		for _, e := range r.Load.ErrorSamples {
			if len(row.Failures) < 3 {
				row.Failures = append(row.Failures, e)
			}
		}
		ok = append(ok, r)
	}
	med := func(f func(Run) float64) float64 {
		if len(ok) == 0 {
			return math.NaN()
		}
		v := make([]float64, len(ok))
		for i, r := range ok {
			v[i] = f(r)
		}
		return Median(v)
	}
	row.MsgsPerS = med(func(r Run) float64 { return r.Load.MsgsPerS })
	row.MBPerS = med(func(r Run) float64 { return r.Load.MBPerS })
	row.P50 = med(func(r Run) float64 { return r.Load.P50us })
	row.P99 = med(func(r Run) float64 { return r.Load.P99us })
	row.P999 = med(func(r Run) float64 { return r.Load.P999us })
	// A run without /proc samples (Window 0) has no CPU figures.
	sampled := func(f func(Run) float64) func(Run) float64 {
		return func(r Run) float64 {
			if r.Window <= 0 {
				return math.NaN()
			}
			return f(r)
		}
	}
	row.CPUPerMsg = med(sampled(func(r Run) float64 { return r.CPUPerMsgUs }))
	for _, r := range ok {
		if r.Window > 0 && !math.IsNaN(r.CPUPerMsgUs) {
			if row.CPUPerMsgByRound == nil {
				row.CPUPerMsgByRound = map[int]float64{}
			}
			row.CPUPerMsgByRound[r.Round] = r.CPUPerMsgUs
		}
	}
	row.SrvCPUPct = med(sampled(func(r Run) float64 { return r.SrvCPUPct }))
	row.LoadCPUPct = med(sampled(func(r Run) float64 { return r.LoadCPUPct }))
	row.StealPct = med(sampled(func(r Run) float64 { return r.StealPct }))
	row.SyscallsPerMsg = med(func(r Run) float64 {
		if r.SyscallsPerMsg <= 0 {
			return math.NaN()
		}
		return r.SyscallsPerMsg
	})
	row.SrvRSS = med(func(r Run) float64 {
		if r.SrvRSS <= 0 {
			return math.NaN()
		}
		return float64(r.SrvRSS)
	})
	if c.IsIdle() {
		idle := func(f func(*Idle) float64) float64 {
			return med(func(r Run) float64 {
				if r.Idle == nil {
					return math.NaN()
				}
				return f(r.Idle)
			})
		}
		row.BytesPerConn = idle(func(i *Idle) float64 { return i.BytesPerConn })
		row.BytesPerConnGC = idle(func(i *Idle) float64 {
			if i.RSSAfterGC == 0 {
				return math.NaN()
			}
			return i.BytesPerConnGC
		})
		row.RSSBefore = idle(func(i *Idle) float64 { return float64(i.RSSBefore) })
		row.RSSAfter = idle(func(i *Idle) float64 { return float64(i.RSSAfter) })
	}
	return row
}

// Median of the known (non-NaN) values of v, NaN if there are none; v is
// reordered.
func Median(v []float64) float64 {
	v = slices.DeleteFunc(v, math.IsNaN)
	if len(v) == 0 {
		return math.NaN()
	}
	slices.SortFunc(v, cmp.Compare[float64])
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// Ratio is a/b, NaN when either is missing or b is 0.
func Ratio(a, b float64) float64 {
	if math.IsNaN(a) || math.IsNaN(b) || b == 0 {
		return math.NaN()
	}
	return a / b
}

// CPURatio is a's CPU per message over b's, as the tables give it: the
// median of the two servers' ratios round by round, where at least half
// the rounds either has pair up (a failed round pairs with nothing), else
// the ratio of their medians. Within a round the servers of a cell run
// one after the other, seconds apart (unless -max-steal measured one
// again), so a pair shares the host's state; the host's drift between
// rounds (a fifth for every server, hours apart, on a shared host)
// cancels in the pair's ratio, where it moves a ratio of medians whenever
// the rounds that give the two medians are not the same. Nine rounds at 1,024 × 64 B on a
// shared host: evsel ÷ go-epoll 1.03 paired, 1.13 as a ratio of medians.
func CPURatio(a, b Row) float64 {
	var pairs []float64
	for round, av := range a.CPUPerMsgByRound {
		if bv, ok := b.CPUPerMsgByRound[round]; ok && bv > 0 {
			pairs = append(pairs, av/bv)
		}
	}
	if len(pairs) == 0 || 2*len(pairs) < max(len(a.CPUPerMsgByRound), len(b.CPUPerMsgByRound)) {
		return Ratio(a.CPUPerMsg, b.CPUPerMsg)
	}
	return Median(pairs)
}

func find(rows []Row, c Cell, server string) (Row, bool) {
	for _, r := range rows {
		if r.Cell == c && r.Server == server {
			return r, true
		}
	}
	return Row{}, false
}

// cellsOf lists the cells of the given kinds, in order.
func cellsOf(rows []Row, kinds ...string) []Cell {
	var cells []Cell
	for _, r := range rows {
		if slices.Contains(kinds, r.Cell.Kind) && !slices.Contains(cells, r.Cell) {
			cells = append(cells, r.Cell)
		}
	}
	return cells
}

// WriteHeading writes a report's title and the facts under it: date,
// machine, Go, command, method, baseline and notes.
func WriteHeading(b *strings.Builder, meta Meta) {
	title := cmp.Or(meta.Title, "evsel benchmark")
	fmt.Fprintf(b, "# %s\n\n", title)
	if meta.Quick {
		b.WriteString("> **Quick run** (`-quick`): a smoke test of the harness, too short to be a measurement.\n\n")
	}
	for _, kv := range [][2]string{
		{"Date", meta.Date}, {"Machine", meta.Machine}, {"Go", meta.Go},
		{"Command", "`" + meta.Command + "`"}, {"Method", meta.Method},
		{"Baseline", baselineLine(meta)},
	} {
		if kv[1] != "" && kv[1] != "``" {
			fmt.Fprintf(b, "- %s: %s\n", kv[0], kv[1])
		}
	}
	for _, n := range meta.Notes {
		fmt.Fprintf(b, "- Note: %s\n", n)
	}
}

// WriteMarkdown writes the whole report: heading, the ratio table, the
// detail table and the idle-memory table.
func WriteMarkdown(w io.Writer, meta Meta, rows []Row) error {
	var b strings.Builder
	WriteHeading(&b, meta)
	b.WriteString(stealLine(rows))
	b.WriteString("\n")
	if cells := cellsOf(rows, "echo", "app", "udp", "tls"); len(cells) > 0 {
		b.WriteString("## evsel compared (ratio = evsel ÷ other)\n\n")
		b.WriteString("CPU/msg and p99: lower is better; msgs/s: higher is better. ")
		fmt.Fprintf(&b, "Targets vs gnet: CPU/msg ≤ %.1f×, msgs/s ≥ %.0f×, p99 ≤ %.0f×.\n\n", TargetCPURatio, TargetThroughput, TargetP99)
		RatioTable(&b, rows, cells)
		b.WriteString("\n## Details (server CPU is the primary figure)\n\n")
		DetailTable(&b, rows, cells, meta.Labels)
		b.WriteString("\n")
	}
	if cells := cellsOf(rows, "idle", "tls-idle"); len(cells) > 0 {
		b.WriteString("## Memory per idle connection (server RSS)\n\n")
		IdleTable(&b, rows, cells, meta.Labels)
		b.WriteString("\n")
	}
	if f := failures(rows, meta.Labels); f != "" {
		b.WriteString("## Errors\n\n" + f + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// StealWarn is the steal share, in percent of the CPUs' time, from which
// the report says that the run is not from a quiet machine.
const StealWarn = 5.0

// stealLine says how much CPU time the hypervisor took during the measured
// windows (the median and the worst of the rows), and warns when it was
// enough to make the figures incomparable with a quiet machine's; empty
// when steal was not sampled.
func stealLine(rows []Row) string {
	var v []float64
	for _, r := range rows {
		if !math.IsNaN(r.StealPct) {
			v = append(v, r.StealPct)
		}
	}
	if len(v) == 0 {
		return ""
	}
	worst := slices.Max(v)
	line := fmt.Sprintf("- Steal: the hypervisor took %.1f%% of the CPUs' time during the measured windows (median of the rows; %.1f%% at most)\n", Median(v), worst)
	if worst >= StealWarn {
		line += fmt.Sprintf("- **Not a quiet machine**: steal reached %.0f%%. Other guests shared the CPUs and their caches, so every server paid more per message than on a quiet host, unevenly from cell to cell; compare ratios within this run only, and do not judge a target by it.\n", worst)
	}
	return line
}

// baselineLine names the baseline revision for the heading.
func baselineLine(meta Meta) string {
	if meta.Baseline == "" {
		return ""
	}
	return fmt.Sprintf("%s is evsel built from %s (÷base columns: evsel ÷ %s)",
		meta.Labels.Of(EvselBase), meta.Baseline, meta.Labels.Of(EvselBase))
}
