package report

import (
	"bytes"
	"encoding/xml"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/evsel/evsel/bench/internal/load"
)

func echoRun(conns, size int, server string, msgs, p99, cpu float64) Run {
	return Run{
		Cell:   Cell{Kind: "echo", Conns: conns, Size: size},
		Server: server,
		Load: load.Result{
			MsgsPerS: msgs, MBPerS: msgs * float64(size) / 1e6,
			P50us: p99 / 2, P99us: p99, P999us: p99 * 2, Bytes: int64(msgs) * int64(size),
		},
		Window: 3, SrvCPU: cpu * msgs * 3 / 1e6, CPUPerMsgUs: cpu, SrvCPUPct: 90, LoadCPUPct: 99, SrvRSS: 8 << 20,
	}
}

func inRound(r Run, round int) Run {
	r.Round = round
	return r
}

// TestCPURatio: the tables' CPU ratios pair the servers round by round.
// A host twice as slow in the first round as in the second, and one
// server 9% dearer in the third only: paired, the median is 1.00; the
// medians' ratio, 12 ÷ 11, would say 1.09. Rows without rounds (or none
// in common) fall back to the medians' ratio.
func TestCPURatio(t *testing.T) {
	var runs []Run
	for round, cpu := range [][2]float64{{20, 20}, {10, 10}, {12, 11}} {
		runs = append(runs, inRound(echoRun(64, 64, Evsel, 1000, 10, cpu[0]), round),
			inRound(echoRun(64, 64, C, 1000, 10, cpu[1]), round))
	}
	rows := Aggregate(runs, []string{Evsel, C})
	if len(rows) != 2 {
		t.Fatalf("%d rows", len(rows))
	}
	if got := CPURatio(rows[0], rows[1]); got != 1 {
		t.Errorf("paired ratio %v, want 1", got)
	}
	if got := Ratio(rows[0].CPUPerMsg, rows[1].CPUPerMsg); math.Abs(got-12.0/11) > 1e-9 {
		t.Errorf("medians' ratio %v, want 12/11", got)
	}
	if got := CPURatio(Row{CPUPerMsg: 6}, Row{CPUPerMsg: 4}); got != 1.5 {
		t.Errorf("without rounds: %v, want 1.5", got)
	}
	// A round one server failed pairs with nothing: C's failed third
	// round leaves the first two, 1.00 each, where the evsel row's median
	// (12) over C's (15) would say 0.80.
	failed := inRound(echoRun(64, 64, C, 1000, 10, 11), 2)
	failed.Err = "server died"
	runs[5] = failed
	rows = Aggregate(runs, []string{Evsel, C})
	if got := CPURatio(rows[0], rows[1]); got != 1 {
		t.Errorf("a failed round: paired ratio %v, want 1", got)
	}
	// One round of four in common is no median: the medians' ratio.
	few := Row{CPUPerMsg: 6, CPUPerMsgByRound: map[int]float64{0: 3, 1: 6, 2: 6, 3: 9}}
	if got := CPURatio(few, Row{CPUPerMsg: 4, CPUPerMsgByRound: map[int]float64{0: 4}}); got != 1.5 {
		t.Errorf("one round of four paired: %v, want 1.5", got)
	}
	apart := Row{CPUPerMsg: 6, CPUPerMsgByRound: map[int]float64{0: 6}}
	if got := CPURatio(apart, Row{CPUPerMsg: 4, CPUPerMsgByRound: map[int]float64{1: 4}}); got != 1.5 {
		t.Errorf("no round in common: %v, want 1.5", got)
	}
}

func sampleRuns() []Run {
	runs := []Run{
		echoRun(64, 64, Evsel, 100000, 50, 4),
		echoRun(64, 64, Net, 80000, 100, 8),
		echoRun(64, 64, Gnet, 100000, 40, 5),
		// A second round: the medians are the means of the two.
		inRound(echoRun(64, 64, Evsel, 120000, 70, 6), 1),
		inRound(echoRun(64, 64, Net, 80000, 100, 8), 1),
		inRound(echoRun(64, 64, Gnet, 100000, 40, 5), 1),
		echoRun(1, 1024, Evsel, 20000, 30, 10),
		echoRun(1, 1024, Gnet, 20000, 30, 10),
		{Cell: Cell{Kind: "app", Conns: 64}, Server: Evsel, Load: load.Result{MsgsPerS: 5000, P99us: 10}, Window: 3, CPUPerMsgUs: 20},
		{Cell: Cell{Kind: "app", Conns: 64}, Server: Net, Load: load.Result{MsgsPerS: 4000, P99us: 20}, Window: 3, CPUPerMsgUs: 25},
		{Cell: Cell{Kind: "idle", Conns: 10000}, Server: Evsel, Idle: &Idle{Conns: 10000, Connected: 10000, RSSBefore: 4 << 20, RSSAfter: 4<<20 + 2_000_000, BytesPerConn: 200, RSSBeforeGC: 4 << 20, RSSAfterGC: 4<<20 + 1_500_000, BytesPerConnGC: 150}},
		{Cell: Cell{Kind: "idle", Conns: 10000}, Server: Net, Idle: &Idle{Conns: 10000, Connected: 10000, RSSBefore: 4 << 20, RSSAfter: 4<<20 + 40_000_000, BytesPerConn: 4000}},
	}
	return runs
}

func TestCellName(t *testing.T) {
	for c, want := range map[Cell]string{
		{Kind: "echo", Conns: 64, Size: 1024}:          "echo c=64 1KiB",
		{Kind: "echo", Conns: 64, Size: 64, Depth: 16}: "echo c=64 64B d=16",
		{Kind: "app", Conns: 64}:                       "app c=64 search",
		{Kind: "idle", Conns: 10000}:                   "idle c=10000",
		{Kind: "echo", Conns: 1, Size: 16384}:          "echo c=1 16KiB",
	} {
		if got := c.Name(); got != want {
			t.Errorf("%+v: %q, want %q", c, got, want)
		}
	}
}

func TestAggregate(t *testing.T) {
	rows := Aggregate(sampleRuns(), []string{Evsel, Net, Gnet})
	if len(rows) != 9 {
		t.Fatalf("%d rows, want 9: %+v", len(rows), rows)
	}
	ev := rows[0]
	if ev.Server != Evsel || ev.Rounds != 2 {
		t.Fatalf("first row %+v", ev)
	}
	if ev.MsgsPerS != 110000 || ev.P99 != 60 || ev.CPUPerMsg != 5 {
		t.Errorf("medians: msgs/s %v p99 %v cpu %v, want 110000 60 5", ev.MsgsPerS, ev.P99, ev.CPUPerMsg)
	}
	// Rows follow cell order, servers in the given order.
	var order []string
	for _, r := range rows {
		order = append(order, r.Cell.Name()+"/"+r.Server)
	}
	want := "echo c=64 64B/evsel echo c=64 64B/net echo c=64 64B/gnet echo c=1 1KiB/evsel echo c=1 1KiB/gnet app c=64 search/evsel app c=64 search/net idle c=10000/evsel idle c=10000/net"
	if strings.Join(order, " ") != want {
		t.Errorf("order:\n%s\nwant\n%s", strings.Join(order, " "), want)
	}
}

func TestAggregateFailedAndUnsampled(t *testing.T) {
	runs := []Run{
		{Cell: Cell{Kind: "echo", Conns: 1, Size: 64}, Server: Evsel, Err: "server died"},
		{Cell: Cell{Kind: "echo", Conns: 1, Size: 64}, Server: Evsel, Load: load.Result{MsgsPerS: 10, Errors: 2, ErrorSamples: []string{"conn 0: reset"}}},
	}
	rows := Aggregate(runs, []string{Evsel})
	r := rows[0]
	if r.MsgsPerS != 10 {
		t.Errorf("failed runs must not count in medians: %v", r.MsgsPerS)
	}
	if !math.IsNaN(r.CPUPerMsg) {
		t.Errorf("a run without /proc samples has no CPU figure, got %v", r.CPUPerMsg)
	}
	if r.Errors != 2 || len(r.Failures) != 2 {
		t.Errorf("errors %d failures %q", r.Errors, r.Failures)
	}
}

func TestMedianAndRatio(t *testing.T) {
	if m := Median([]float64{3, 1, 2}); m != 2 {
		t.Errorf("median %v", m)
	}
	if m := Median([]float64{4, math.NaN(), 1}); m != 2.5 {
		t.Errorf("median ignoring NaN %v", m)
	}
	if !math.IsNaN(Median(nil)) || !math.IsNaN(Ratio(1, 0)) || !math.IsNaN(Ratio(math.NaN(), 1)) {
		t.Error("unknowns must stay NaN")
	}
	if r := Ratio(3, 4); r != 0.75 {
		t.Errorf("ratio %v", r)
	}
}

func TestTargetCheck(t *testing.T) {
	for _, tc := range []struct {
		cpu, thr, p99 float64
		want          string
	}{
		{0.8, 1.1, 0.9, "cpu ✓ thr ✓ p99 ✓"},
		{0.95, 0.99, 1.01, "cpu ✗ thr ✗ p99 ✗"},
		{0.9, 1, 1, "cpu ✓ thr ✓ p99 ✓"},
		{math.NaN(), 1, 1, "cpu ? thr ✓ p99 ✓"},
		{math.NaN(), math.NaN(), math.NaN(), "–"},
	} {
		if got := TargetCheck(tc.cpu, tc.thr, tc.p99); got != tc.want {
			t.Errorf("TargetCheck(%v, %v, %v) = %q, want %q", tc.cpu, tc.thr, tc.p99, got, tc.want)
		}
	}
}

func TestFormat(t *testing.T) {
	for _, tc := range [][2]string{
		{FormatCount(950), "950"}, {FormatCount(1234), "1.23k"}, {FormatCount(123456), "123.5k"},
		{FormatCount(2.5e6), "2.50M"}, {FormatCount(math.NaN()), "–"},
		{FormatLatency(5.678), "5.68"}, {FormatLatency(45.6), "45.6"}, {FormatLatency(1234.5), "1234"},
		{FormatBytes(512), "512 B"}, {FormatBytes(8 << 20), "8.0 MiB"}, {FormatBytes(3 << 10), "3 KiB"},
		{FormatRatio(0.8765), "0.88×"}, {FormatRatio(math.Inf(1)), "–"}, {FormatPercent(99.6), "100%"},
	} {
		if tc[0] != tc[1] {
			t.Errorf("got %q, want %q", tc[0], tc[1])
		}
	}
}

func TestWriteMarkdown(t *testing.T) {
	md := markdown(t, Meta{Title: "t", Command: "cd bench && go run .", Quick: true}, sampleRuns(), Evsel, Net, Gnet)
	requireLines(t, md,
		"# t\n",
		"Quick run",
		"`cd bench && go run .`",
		// evsel ÷ net and ÷ gnet: CPU 5/8, 5/5; msgs/s 110k/80k, 110k/100k; p99 60/100, 60/40.
		"| echo c=64 64B | 0.62× | 1.00× | 1.38× | 1.10× | 0.60× | 1.50× | cpu ✗ thr ✓ p99 ✗ | – | – |",
		"| echo c=1 1KiB | – | 1.00× | – | 1.00× | – | 1.00× | cpu ✗ thr ✓ p99 ✓ | – | – |",
		"| app c=64 search | 0.80× | – | 1.25× | – | 0.50× | – | – | – | – |",
		"| echo c=64 64B | net | 8.00 | – | – | – | 80.0k | 5.1 | 50.0 | 100 | 200 | 90% | 99% | 0% | 8.0 MiB | 0 |",
		"- Steal: the hypervisor took 0.0% of the CPUs' time during the measured windows (median of the rows; 0.0% at most)\n",
		"| 10000 | evsel | 4.0 MiB | 5.9 MiB | 200 | 150 | – | – |",
		"| 10000 | net | 4.0 MiB | 42.1 MiB | 4000 | – | 0.05× | – |",
	)
	if strings.Contains(md, "## Errors") {
		t.Errorf("no errors, but an Errors section:\n%s", md)
	}
	if strings.Contains(md, "Not a quiet machine") {
		t.Errorf("no steal, but a warning:\n%s", md)
	}
	checkColumns(t, md)
}

// TestWriteMarkdownSteal: the rows' steal medians are summed up under the
// heading, with a warning from StealWarn on; a run without /proc samples
// has none to show.
func TestWriteMarkdownSteal(t *testing.T) {
	runs := sampleRuns()
	for i := range runs {
		runs[i].StealPct = float64(2 * i) // evsel at 64 conns: 0 and 6, median 3%
	}
	requireLines(t, markdown(t, Meta{}, runs, Evsel, Net, Gnet),
		"| echo c=64 64B | evsel | 5.00 | – | – | – | 110.0k | 7.0 | 30.0 | 60.0 | 120 | 90% | 99% | 3% | 8.0 MiB | 0 |",
		// Row medians 3 5 7 12 14 16 18 (the idle rows have no window): the
		// median row 12, the worst 18.
		"- Steal: the hypervisor took 12.0% of the CPUs' time during the measured windows (median of the rows; 18.0% at most)\n",
		"- **Not a quiet machine**: steal reached 18%.",
	)
	runs = runs[:1]
	runs[0].Window = 0
	if md := markdown(t, Meta{}, runs, Evsel); strings.Contains(md, "Steal") {
		t.Errorf("steal shown for a run without samples:\n%s", md)
	}
}

// markdown is WriteMarkdown's report of runs, servers in the given order.
func markdown(t *testing.T, meta Meta, runs []Run, servers ...string) string {
	t.Helper()
	var b bytes.Buffer
	if err := WriteMarkdown(&b, meta, Aggregate(runs, servers)); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// requireLines checks that md holds each of want.
func requireLines(t *testing.T, md string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(md, w) {
			t.Errorf("markdown lacks %q:\n%s", w, md)
		}
	}
}

// checkColumns checks that every table row has as many cells as its header.
func checkColumns(t *testing.T, md string) {
	t.Helper()
	var cols int
	for _, line := range strings.Split(md, "\n") {
		if !strings.HasPrefix(line, "|") {
			cols = 0
			continue
		}
		n := strings.Count(line, "|")
		if cols == 0 {
			cols = n
		} else if n != cols {
			t.Errorf("row has %d bars, header %d: %s", n, cols, line)
		}
	}
}

func TestWriteChart(t *testing.T) {
	var runs []Run
	for _, size := range []int{64, 1024, 16384} {
		for _, c := range []int{1, 64, 1024, 8192} {
			for i, s := range []string{Evsel, Net, Gnet} {
				runs = append(runs, echoRun(c, size, s, float64(10000*(i+1)*c/(c+1)), float64(20+c+10*i), float64(3+i)))
			}
		}
	}
	runs = append(runs, sampleRuns()...) // pipelined, app and idle cells are left out of the chart
	rows := Aggregate(runs, []string{Evsel, Net, Gnet})
	var b bytes.Buffer
	if err := WriteChart(&b, rows, []string{Evsel, Net, Gnet}, nil, "chart"); err != nil {
		t.Fatal(err)
	}
	if b.Len() > 64<<10 {
		t.Errorf("chart is %d bytes; keep it small", b.Len())
	}
	// Well-formed XML with an svg root.
	dec := xml.NewDecoder(bytes.NewReader(b.Bytes()))
	var root string
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("chart is not well-formed XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && root == "" {
			root = se.Name.Local
		}
	}
	if root != "svg" {
		t.Errorf("root element %q", root)
	}
	for _, want := range []string{"evsel", "net", "gnet", "16KiB", "p99"} {
		if !bytes.Contains(b.Bytes(), []byte(want)) {
			t.Errorf("chart lacks %q", want)
		}
	}

	if err := WriteChart(io.Discard, nil, []string{Evsel}, nil, ""); err == nil {
		t.Error("a chart of nothing should fail")
	}
}

// baselineRuns adds evsel-base to the sample: the same cells as evsel.
func baselineRuns() []Run {
	runs := sampleRuns()
	runs = append(runs,
		echoRun(64, 64, EvselBase, 100000, 120, 10),
		inRound(echoRun(64, 64, EvselBase, 100000, 120, 10), 1),
		echoRun(1, 1024, EvselBase, 40000, 15, 20),
		Run{Cell: Cell{Kind: "app", Conns: 64}, Server: EvselBase, Load: load.Result{MsgsPerS: 4000, P99us: 20}, Window: 3, CPUPerMsgUs: 40},
		Run{Cell: Cell{Kind: "idle", Conns: 10000}, Server: EvselBase, Idle: &Idle{Conns: 10000, Connected: 10000, RSSBefore: 4 << 20, RSSAfter: 4<<20 + 4_000_000, BytesPerConn: 400}},
	)
	return runs
}

func TestWriteMarkdownBaseline(t *testing.T) {
	servers := []string{Evsel, EvselBase, Net, Gnet}
	rows := Aggregate(baselineRuns(), servers)
	var b bytes.Buffer
	meta := Meta{
		Title: "t", Command: "cd bench && go run . -baseline 5638839",
		Baseline: `5638839 "loop: no tick timer"`, Labels: Labels{EvselBase: "evsel@5638839"},
	}
	if err := WriteMarkdown(&b, meta, rows); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{
		"`cd bench && go run . -baseline 5638839`",
		"- Baseline: evsel@5638839 is evsel built from 5638839 \"loop: no tick timer\"",
		"| cell | CPU/msg ÷net | CPU/msg ÷gnet | msgs/s ÷net | msgs/s ÷gnet | p99 ÷net | p99 ÷gnet | targets vs gnet | CPU/msg ÷C | target vs C | CPU/msg ÷go-epoll | evsel-uring CPU/msg ÷C-uring | target vs C-uring | CPU/msg ÷base | msgs/s ÷base | p99 ÷base |",
		// evsel ÷ evsel-base: CPU 5/10, msgs/s 110k/100k, p99 60/120.
		"| echo c=64 64B | 0.62× | 1.00× | 1.38× | 1.10× | 0.60× | 1.50× | cpu ✗ thr ✓ p99 ✗ | – | – | – | – | – | 0.50× | 1.10× | 0.50× |",
		"| echo c=1 1KiB | – | 1.00× | – | 1.00× | – | 1.00× | cpu ✗ thr ✓ p99 ✓ | – | – | – | – | – | 0.50× | 0.50× | 2.00× |",
		"| app c=64 search | 0.80× | – | 1.25× | – | 0.50× | – | – | – | – | – | – | – | 0.50× | 1.25× | 0.50× |",
		"| echo c=64 64B | evsel@5638839 | 10.00 | – | – | – | 100.0k |",
		"| app c=64 search | evsel@5638839 | 40.00 | – | – | – | 4.00k |",
		"| 10000 | evsel@5638839 | 4.0 MiB | 7.8 MiB | 400 | – | 0.50× | – |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "| evsel-base |") {
		t.Errorf("evsel-base shown by its name, not its label:\n%s", md)
	}
	// The detail table lists evsel-base right after evsel, as servers says.
	if i, j := strings.Index(md, "| echo c=64 64B | evsel |"), strings.Index(md, "| echo c=64 64B | evsel@5638839 |"); i < 0 || j < i {
		t.Errorf("evsel-base row not after evsel's:\n%s", md)
	}
	checkColumns(t, md)

	// Without the baseline the ratio table keeps its columns.
	b.Reset()
	if err := WriteMarkdown(&b, Meta{}, Aggregate(sampleRuns(), servers)); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "÷base") || strings.Contains(b.String(), "Baseline") {
		t.Errorf("÷base columns without a baseline:\n%s", b.String())
	}
}

func TestWriteChartBaseline(t *testing.T) {
	servers := []string{Evsel, EvselBase, Net, Gnet}
	var b bytes.Buffer
	if err := WriteChart(&b, Aggregate(baselineRuns(), servers), servers, Labels{EvselBase: "evsel@5638839"}, ""); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b.Bytes(), []byte("evsel@5638839")) {
		t.Error("chart legend lacks the baseline's label")
	}
	if c, _, _ := styleOf(EvselBase); c == serverStyle[Evsel].c {
		t.Error("the baseline needs a colour of its own")
	}
}

func TestLabels(t *testing.T) {
	var none Labels
	l := Labels{EvselBase: "evsel@abc"}
	if none.Of(EvselBase) != EvselBase || l.Of(EvselBase) != "evsel@abc" || l.Of(Net) != Net {
		t.Error("Labels.Of")
	}
}

// TestWriteMarkdownFloor: with the C floor and nbio in the run, every
// table relates each server to C (÷C), and the ratio table checks issue
// 13's target (≤ 1.05× C, ≤ net).
func TestWriteMarkdownFloor(t *testing.T) {
	runs := append(sampleRuns(),
		echoRun(64, 64, C, 130000, 30, 4),
		inRound(echoRun(64, 64, C, 130000, 30, 4), 1),
		echoRun(64, 64, Nbio, 90000, 60, 6),
		echoRun(1, 1024, C, 20000, 30, 9.6),
		echoRun(64, 64, GoEpoll, 130000, 30, 4.5),
		inRound(echoRun(64, 64, GoEpoll, 130000, 30, 4.5), 1),
		Run{Cell: Cell{Kind: "idle", Conns: 10000}, Server: C, Idle: &Idle{Conns: 10000, Connected: 10000, RSSBefore: 1 << 20, RSSAfter: 1<<20 + 400_000, BytesPerConn: 40}},
	)
	servers := []string{Evsel, Net, Gnet, Nbio, C, GoEpoll}
	var b bytes.Buffer
	if err := WriteMarkdown(&b, Meta{Notes: []string{"a note"}}, Aggregate(runs, servers)); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{
		"- Note: a note\n",
		// evsel 4 and 6 µs ÷ C 4 in the two rounds: 1.25×, over the
		// target, and ÷ the Go floor's 4.5: 1.11×; at 1 KiB 10 ÷ 9.6 =
		// 1.04×, met, and no Go floor.
		"| echo c=64 64B | 0.62× | 1.00× | 1.38× | 1.10× | 0.60× | 1.50× | cpu ✗ thr ✓ p99 ✗ | 1.25× | cpu ✗ | 1.11× |",
		"| echo c=1 1KiB | – | 1.00× | – | 1.00× | – | 1.00× | cpu ✗ thr ✓ p99 ✓ | 1.04× | cpu ✓ | – |",
		"| echo c=64 64B | go-epoll | 4.50 | 1.12× | – | – | 130.0k |",
		"| echo c=64 64B | nbio | 6.00 | 1.50× | – | – | 90.0k |",
		"| echo c=64 64B | c | 4.00 | 1.00× | – | – | 130.0k |",
		"| app c=64 search | evsel | 20.00 | – |",
		"| 10000 | evsel | 4.0 MiB | 5.9 MiB | 200 | 150 | – | 5.00× |",
		"| 10000 | c | 1.0 MiB | 1.4 MiB | 40 | – | 5.00× | 1.00× |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	checkColumns(t, md)
	if got := TargetCheckC(1.04, 1.01); got != "cpu ✗" {
		t.Errorf("above net must miss the target: %q", got)
	}
}

// TestWriteMarkdownUringFloor: with the C io_uring floor and evsel-uring
// in the run, the detail table relates every server to it (÷C-uring), the
// ratio table checks issue 14's target for evsel-uring (≤ 1.05× C-uring),
// even in a run without evsel on epoll, and syscalls/msg shows where
// counted and "–" where not.
func TestWriteMarkdownUringFloor(t *testing.T) {
	withSyscalls := func(r Run, perMsg float64) Run {
		r.SyscallsPerMsg = perMsg
		return r
	}
	runs := []Run{
		withSyscalls(echoRun(64, 64, EvselUring, 120000, 30, 6.3), 0.12),
		withSyscalls(echoRun(64, 64, CUring, 130000, 30, 6), 0.1),
		echoRun(64, 64, C, 130000, 30, 5),
		withSyscalls(echoRun(1, 1024, EvselUring, 20000, 30, 9), 1.5),
		withSyscalls(echoRun(1, 1024, CUring, 20000, 30, 10), 1),
	}
	servers := []string{EvselUring, C, CUring}
	var b bytes.Buffer
	if err := WriteMarkdown(&b, Meta{}, Aggregate(runs, servers)); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{
		// 6.3 ÷ 6 = 1.05×: met; 9 ÷ 10: met. No evsel: its columns are empty.
		"| echo c=64 64B | – | – | – | – | – | – | – | – | – | – | 1.05× | cpu ✓ |",
		"| echo c=1 1KiB | – | – | – | – | – | – | – | – | – | – | 0.90× | cpu ✓ |",
		"| echo c=64 64B | evsel-uring | 6.30 | 1.26× | 1.05× | 0.12 | 120.0k |",
		"| echo c=64 64B | c | 5.00 | 1.00× | 0.83× | – | 130.0k |",
		"| echo c=64 64B | c-uring | 6.00 | 1.20× | 1.00× | 0.10 | 130.0k |",
		"| echo c=1 1KiB | evsel-uring | 9.00 | – | 0.90× | 1.50 |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	checkColumns(t, md)
	if TargetCheckCUring(1.06) != "cpu ✗" || TargetCheckCUring(math.NaN()) != "–" {
		t.Error("TargetCheckCUring")
	}
}
