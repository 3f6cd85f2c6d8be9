//go:build unix

package message

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// These tests run the Python programs in testdata/python against our codec;
// the exchanges with app-server.py and app-client.py are in msgloop, the
// repr spellings in apps/internal/pyfmt. python3 is part of every machine
// this project runs on, so its absence is a failure, not a skip.

var pyDir = filepath.Join("testdata", "python")

func python3(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("python3")
	require.NoError(t, err, "python3 must be on PATH for the interop tests")
	return p
}

func TestInteropPythonUsage(t *testing.T) {
	py := python3(t)
	for prog, want := range map[string]string{
		"app-server.py": "Usage: app-server.py <host> <port>\n",
		"app-client.py": "Usage: app-client.py <host> <port> <action> <value>\n",
	} {
		cmd := exec.Command(py, prog, "127.0.0.1")
		cmd.Dir = pyDir
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		require.True(t, errors.As(err, &ee), "%s: %v", prog, err)
		require.Equal(t, 1, ee.ExitCode())
		require.Equal(t, want, string(out))
	}
}

// TestInteropPythonSpelling compares our JSON spelling with CPython's
// json.dumps on thousands of random floats and strings.
func TestInteropPythonSpelling(t *testing.T) {
	py := python3(t)
	rng := rand.New(rand.NewPCG(1, 2))
	type item struct {
		Float *string `json:"float,omitempty"`
		Str   *string `json:"str,omitempty"`
	}
	var items []item
	var floats []float64
	var strs []string
	addFloat := func(f float64) {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return
		}
		h := strconv.FormatFloat(f, 'x', -1, 64)
		items = append(items, item{Float: &h})
		floats = append(floats, f)
	}
	for range 1500 {
		addFloat(math.Float64frombits(rng.Uint64()))
		// Around the positional/exponent switch points.
		addFloat(math.Pow(10, float64(rng.IntN(40)-20)) * (1 + rng.Float64()))
		addFloat(float64(rng.Int64N(1<<60)) / float64(int64(1)<<rng.IntN(64)))
	}
	// Runes from blocks assigned long ago, so that Go's and Python's Unicode
	// tables agree on which are printable.
	ranges := [][2]rune{{0, 0x7f}, {0x80, 0xff}, {0x370, 0x3ff}, {0x2000, 0x206f}, {0x4e00, 0x4e80}, {0x1f300, 0x1f64f}, {0xe000, 0xe010}, {0xfff0, 0xfffd}}
	for range 1500 {
		var sb strings.Builder
		for range rng.IntN(12) {
			r := ranges[rng.IntN(len(ranges))]
			sb.WriteRune(r[0] + rng.Int32N(r[1]-r[0]+1))
		}
		s := sb.String()
		items = append(items, item{Str: &s})
		strs = append(strs, s)
	}

	var in bytes.Buffer
	enc := json.NewEncoder(&in)
	for _, it := range items {
		require.NoError(t, enc.Encode(it))
	}
	cmd := exec.Command(py, "spelling.py")
	cmd.Dir = pyDir
	cmd.Stdin = &in
	out, err := cmd.Output()
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	require.Len(t, lines, len(items))

	var fi, si int
	for i, it := range items {
		var got struct{ JSON string }
		require.NoError(t, json.Unmarshal([]byte(lines[i]), &got))
		if it.Float != nil {
			f := floats[fi]
			fi++
			require.Equal(t, got.JSON, FloatValue(f).String(), "%v", f)
		} else {
			s := strs[si]
			si++
			require.Equal(t, got.JSON, StringValue(s).String(), "%+q", s)
		}
	}
}
