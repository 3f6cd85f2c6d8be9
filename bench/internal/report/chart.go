package report

import (
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// serverStyle gives each server the same colour and dash in every panel.
var serverStyle = map[string]struct {
	c    color.Color
	dash []vg.Length
	mark draw.GlyphDrawer
}{
	Evsel: {color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}, nil, draw.CircleGlyph{}},
	Net:   {color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, []vg.Length{vg.Points(4), vg.Points(2)}, draw.SquareGlyph{}},
	Gnet:  {color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}, []vg.Length{vg.Points(1), vg.Points(2)}, draw.TriangleGlyph{}},
	Nbio:  {color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff}, []vg.Length{vg.Points(5), vg.Points(2), vg.Points(1), vg.Points(2)}, draw.PlusGlyph{}},
	// The floor: black, solid, crosses.
	C: {color.Black, nil, draw.CrossGlyph{}},
	// The Go floor: grey, solid like C's, dots.
	GoEpoll: {color.Gray{Y: 0x80}, nil, draw.CircleGlyph{}},
	// The io_uring floor: black, dotted like evsel-uring, boxes.
	CUring: {color.Black, []vg.Length{vg.Points(2), vg.Points(2)}, draw.BoxGlyph{}},
	// The baseline is evsel's colour, lighter, with long dashes and open
	// rings: the eye pairs it with evsel and still tells them apart.
	EvselBase: {color.RGBA{R: 0xf0, G: 0x90, B: 0x80, A: 0xff}, []vg.Length{vg.Points(6), vg.Points(3)}, draw.RingGlyph{}},
	// io_uring: evsel's colour, darker, dotted, filled squares.
	EvselUring: {color.RGBA{R: 0x8c, G: 0x10, B: 0x10, A: 0xff}, []vg.Length{vg.Points(2), vg.Points(2)}, draw.BoxGlyph{}},
}

// otherStyle is for a server without a style of its own.
var otherStyle = serverStyle[Net]

func styleOf(server string) (c color.Color, dash []vg.Length, mark draw.GlyphDrawer) {
	st, ok := serverStyle[server]
	if !ok {
		st = otherStyle
		st.c = color.Gray{Y: 0x70}
	}
	return st.c, st.dash, st.mark
}

type metric struct {
	title string
	log   bool
	value func(Row) float64
}

var chartMetrics = []metric{
	{"server CPU µs/msg", false, func(r Row) float64 { return r.CPUPerMsg }},
	{"msgs/s", false, func(r Row) float64 { return r.MsgsPerS }},
	{"p99 latency µs", true, func(r Row) float64 { return r.P99 }},
}

// WriteChart draws the echo cells (request/response, no pipelining) as a
// grid of panels, one column per message size and one row per metric
// (server CPU per message, throughput, p99), connections on a log x axis
// and one line per server, named by labels, and writes it as SVG.
func WriteChart(w io.Writer, rows []Row, servers []string, labels Labels, title string) error {
	var sizes, conns []int
	for _, r := range rows {
		if r.Cell.Kind != "echo" || r.Cell.Depth > 1 {
			continue
		}
		if !slices.Contains(sizes, r.Cell.Size) {
			sizes = append(sizes, r.Cell.Size)
		}
		if !slices.Contains(conns, r.Cell.Conns) {
			conns = append(conns, r.Cell.Conns)
		}
	}
	if len(sizes) == 0 {
		return errors.New("report: no echo cells to chart")
	}
	slices.Sort(sizes)
	slices.Sort(conns)
	var xticks plot.ConstantTicks
	for _, c := range conns {
		xticks = append(xticks, plot.Tick{Value: float64(c), Label: strconv.Itoa(c)})
	}

	legend := plot.NewLegend()
	legend.Top, legend.Left = true, true
	legend.ThumbnailWidth = vg.Points(24)
	legend.TextStyle.Font.Size = vg.Points(9)
	grid := make([][]*plot.Plot, len(chartMetrics))
	for mi, m := range chartMetrics {
		grid[mi] = make([]*plot.Plot, len(sizes))
		for si, size := range sizes {
			p := plot.New()
			p.Title.Text = fmt.Sprintf("%s, %s messages", m.title, SizeName(size))
			p.Title.TextStyle.Font.Size = vg.Points(9)
			p.X.Label.Text = "connections"
			p.X.Label.TextStyle.Font.Size = vg.Points(8)
			p.X.Tick.Label.Font.Size = vg.Points(8)
			p.Y.Tick.Label.Font.Size = vg.Points(8)
			p.X.Scale = plot.LogScale{}
			p.X.Tick.Marker = xticks
			p.X.Min, p.X.Max = float64(conns[0])/1.6, float64(conns[len(conns)-1])*1.6
			p.Add(plotter.NewGrid())
			lo, hi := math.Inf(1), math.Inf(-1)
			for _, s := range servers {
				var pts plotter.XYs
				for _, c := range conns {
					for _, r := range rows {
						if r.Cell == (Cell{Kind: "echo", Conns: c, Size: size}) && r.Server == s {
							if v := m.value(r); !math.IsNaN(v) && (!m.log || v > 0) {
								pts = append(pts, plotter.XY{X: float64(c), Y: v})
								lo, hi = math.Min(lo, v), math.Max(hi, v)
							}
						}
					}
				}
				if len(pts) == 0 {
					continue
				}
				line, scatter, err := plotter.NewLinePoints(pts)
				if err != nil {
					return err
				}
				c, dash, mark := styleOf(s)
				line.Color, line.Dashes, line.Width = c, dash, vg.Points(1.5)
				scatter.Color, scatter.Shape, scatter.Radius = c, mark, vg.Points(2.5)
				p.Add(line, scatter)
				if mi == 0 && si == 0 {
					legend.Add(labels.Of(s), line, scatter)
				}
			}
			if math.IsInf(lo, 0) {
				lo, hi = 1, 10
			}
			if m.log {
				p.Y.Scale = plot.LogScale{}
				p.Y.Min, p.Y.Max = lo/1.5, hi*1.5
			} else {
				p.Y.Min, p.Y.Max = 0, hi*1.1
				if hi <= 0 {
					p.Y.Max = 1
				}
			}
			p.Y.Tick.Marker = compactTicks{log: m.log}
			grid[mi][si] = p
		}
	}

	const header = 0.55 * vg.Inch
	width := vg.Length(len(sizes)) * 3.2 * vg.Inch
	height := vg.Length(len(chartMetrics))*2.3*vg.Inch + header
	canvas := vgsvg.NewWith(vgsvg.UseWH(width, height))
	dc := draw.New(canvas)
	// The header holds the title and one legend for every panel.
	head := draw.Crop(dc, 0, -vg.Points(8), height-header, -vg.Points(2))
	if title != "" {
		head.FillText(draw.TextStyle{
			Color: color.Black, Font: font.From(plot.DefaultFont, vg.Points(11)), Handler: plot.DefaultTextHandler,
			XAlign: draw.XCenter, YAlign: draw.YTop,
		}, vg.Point{X: width / 2, Y: head.Max.Y}, title)
	}
	legend.Draw(head)
	dc = draw.Crop(dc, 0, 0, 0, -header)
	tiles := draw.Tiles{
		Rows: len(chartMetrics), Cols: len(sizes),
		PadX: vg.Points(8), PadY: vg.Points(8), PadTop: vg.Points(4), PadBottom: vg.Points(4),
		PadLeft: vg.Points(4), PadRight: vg.Points(8),
	}
	canvases := plot.Align(grid, tiles, dc)
	for i := range grid {
		for j := range grid[i] {
			grid[i][j].Draw(canvases[i][j])
		}
	}
	_, err := canvas.WriteTo(w)
	return err
}

// compactTicks labels an axis with a few round values (1, 2, 5 per decade
// on a log axis) and no minor ticks, in k and M, which keeps the SVG small
// and the labels short.
type compactTicks struct{ log bool }

func (t compactTicks) Ticks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	if t.log {
		for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
			for _, d := range []float64{1, 2, 5} {
				if v := d * math.Pow(10, e); v >= lo && v <= hi {
					ticks = append(ticks, plot.Tick{Value: v, Label: shortNumber(v)})
				}
			}
		}
		if len(ticks) > 0 {
			return ticks
		}
	}
	for _, tk := range (plot.DefaultTicks{}).Ticks(lo, hi) {
		if tk.Label != "" {
			ticks = append(ticks, plot.Tick{Value: tk.Value, Label: shortNumber(tk.Value)})
		}
	}
	return ticks
}

// shortNumber spells a tick value: 0.5, 20, 300, 4k, 1.5M.
func shortNumber(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', -1, 64) + "M"
	case a >= 1e4:
		return strconv.FormatFloat(v/1e3, 'f', -1, 64) + "k"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}
