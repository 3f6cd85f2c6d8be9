package message

import (
	"bytes"
	"math"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func jsonMsg(content []byte) Message {
	m := NewBinaryMessage(ContentTypeJSON, content)
	m.Header.ContentEncoding = EncodingUTF8
	return m
}

// repeatDoc is open, then item n times separated by commas, then close.
func repeatDoc(open, item, close string, size int) []byte {
	var b bytes.Buffer
	b.Grow(size + len(item) + len(close))
	b.WriteString(open)
	for i := 0; b.Len() < size-len(close)-len(item)-1; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strings.ReplaceAll(item, "#", strconv.Itoa(i)))
	}
	b.WriteString(close)
	return b.Bytes()
}

// allocated returns the bytes f allocates.
//
// TotalAlloc counts the whole process, so an allocation of another
// goroutine meanwhile (the runtime's own, on Windows under Wine: 5 KiB once
// in a CI run) would be charged to f. f does the same work every time, so
// the least of three runs is its own cost.
func allocated(f func()) uint64 {
	least := uint64(math.MaxUint64)
	for range 3 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		least = min(least, after.TotalAlloc-before.TotalAlloc)
	}
	return least
}

// TestParseLimitsMemory: whatever shape a document has, parsing it with the
// default limits allocates at most 24 bytes per byte of it plus 256 KiB —
// the bound ParseLimits documents — and a document too dense for that fails
// with ErrTooComplex. Before the limits a 16 MiB [0,0,...] took about 150
// times its size.
func TestParseLimitsMemory(t *testing.T) {
	const mib = 1 << 20
	cases := []struct {
		name  string
		doc   []byte
		dense bool // more values than the default budget allows
	}{
		{"zeros 16 MiB", repeatDoc("[", "0", "]", 16*mib), true},
		{"zeros 1 MiB", repeatDoc("[", "0", "]", mib), true},
		{"empty arrays", repeatDoc("[", "[]", "]", mib), true},
		{"empty objects", repeatDoc("[", "{}", "]", mib), true},
		{"empty strings", repeatDoc("[", `""`, "]", mib), true},
		{"distinct keys", repeatDoc("{", `"#":0`, "}", mib), true},
		{"nested", repeatDoc("[", "[[[0]]]", "]", mib), true},
		{"big integers", repeatDoc("[", "123456789012345678901234567890", "]", mib), false},
		{"strings", repeatDoc("[", `"a string of about twenty"`, "]", mib), false},
		{"objects", repeatDoc("[", `{"action": "search", "value": "morpheus"}`, "]", mib), false},
		{"short strings at the budget", repeatDoc("[", `"abcdef"`, "]", mib), false},
		{"short objects at the budget", repeatDoc("[", `{"abcdefghijklmnopq": 0}`, "]", mib), false},
		{"one long string", []byte(`"` + strings.Repeat("x", mib) + `"`), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := jsonMsg(c.doc)
			var err error
			got := allocated(func() { _, err = m.JSON() })
			if c.dense {
				require.ErrorIs(t, err, ErrTooComplex)
				require.Contains(t, err.Error(), "JSON too complex")
			} else {
				require.NoError(t, err)
			}
			bound := uint64(24*len(c.doc) + 256<<10)
			require.LessOrEqual(t, got, bound, "%d bytes allocated for %d bytes of JSON", got, len(c.doc))
			t.Logf("%d bytes: %d allocated (%.1f×)", len(c.doc), got, float64(got)/float64(len(c.doc)))

			// Picking two keys builds none of it.
			got = allocated(func() { _, err = m.JSONPick("action", "value") })
			if c.doc[0] != '{' {
				require.ErrorIs(t, err, ErrContentNotObject)
			} else {
				require.NoError(t, err)
			}
			require.Less(t, got, uint64(4<<10), "JSONPick allocated %d bytes", got)
		})
	}
}

func TestParseLimitsFields(t *testing.T) {
	doc := jsonMsg([]byte(`{"a": [1, 2, 3], "b": "xyz", "c": {"d": null}}`))
	_, err := doc.JSON()
	require.NoError(t, err)

	_, err = ParseLimits{MaxValues: 12}.JSON(doc) // 8 values and 4 keys
	require.NoError(t, err)
	_, err = ParseLimits{MaxValues: 11}.JSON(doc)
	require.ErrorIs(t, err, ErrTooComplex)
	_, err = ParseLimits{MaxTextBytes: 10}.JSON(doc) // a b c d 1 2 3 xyz
	require.NoError(t, err)
	_, err = ParseLimits{MaxTextBytes: 9}.JSON(doc)
	require.ErrorIs(t, err, ErrTooComplex)
	_, err = ParseLimits{MaxDepth: 2}.JSON(doc)
	require.NoError(t, err)
	_, err = ParseLimits{MaxDepth: 1}.JSON(doc)
	require.ErrorIs(t, err, ErrInvalidContent, "nesting fails as it always did")

	// A dense document fails by default, and passes with a larger budget.
	dense := jsonMsg(repeatDoc("[", "0", "]", 1<<16))
	_, err = dense.JSON()
	require.ErrorIs(t, err, ErrTooComplex)
	_, err = ParseLimits{MaxValues: 1 << 16}.JSON(dense)
	require.NoError(t, err)
	// The default budget grows with the document.
	depth, values, text := ParseLimits{}.resolve(1 << 20)
	require.Equal(t, []int{1000, 1024 + 1<<17, 1 << 20}, []int{depth, values, text})
	depth, _, _ = ParseLimits{MaxDepth: 5000}.resolve(0)
	require.Equal(t, 1000, depth)
}

// checkPick: JSONPick agrees with JSON and Get on every document, except
// that it may succeed where building the whole tree is too costly.
func checkPick(t *testing.T, m Message) {
	keys := []string{"action", "value", ""}
	picked, perr := m.JSONPick(keys...)
	whole, err := m.JSON()
	switch {
	case err == nil && whole.Kind() != Object:
		require.ErrorIs(t, perr, ErrContentNotObject)
		require.Contains(t, perr.Error(), "content is a JSON "+whole.Kind().String())
	case err == nil:
		require.NoError(t, perr)
		require.Equal(t, Object, picked.Kind())
		var want []Field
		for _, f := range whole.Fields() {
			for _, k := range keys {
				if f.Key == k {
					want = append(want, f)
				}
			}
		}
		require.Equal(t, ObjectValue(want...).String(), picked.String())
	case errorsIsTooComplex(err):
		// Pick builds less, so it may pass.
	default:
		require.Equal(t, err, perr)
	}
}

func errorsIsTooComplex(err error) bool {
	pe, ok := err.(*ProtocolError)
	return ok && pe.Code == CodeTooComplex
}

func TestJSONPick(t *testing.T) {
	docs := []string{
		`{"action": "search", "value": "morpheus"}`,
		`{"value": "ring", "action": "search"}`,
		`{}`, `{"other": [1, {"action": 2}], "value": null}`,
		`{"action": "a", "action": "b", "value": [1, 2], "action": "c"}`,
		`{"\u0061ction": "search", "va\u006cue": "\ud83d\udc36", "x\u0041": 1}`,
		`{"` + strings.Repeat(`\u0061`, 100) + `": 1, "value": 2}`,
		`[1, 2]`, `"search"`, `null`, `1.5`, `-0`, `true`,
		`{"action": "search"`, `{"action": }`, `{"a": [1, 2,]}`, `{} x`, "\ufeff{}", `{"a": nul}`,
		`{"a": ` + strings.Repeat("[", 1001) + strings.Repeat("]", 1001) + `}`,
		strings.Repeat("[", 1001) + strings.Repeat("]", 1001),
		`{"a": "\x01"}`, `{"a": "\q"}`, "{\"a\": \"\xff\"}", ``,
	}
	for _, d := range docs {
		checkPick(t, jsonMsg([]byte(d)))
	}
	m := jsonMsg([]byte(`{"x": [1, 2, 3], "value": [0, {"k": "v"}], "action": "search", "value": "last"}`))
	v, err := m.JSONPick("action", "value")
	require.NoError(t, err)
	require.Equal(t, `{"value": "last", "action": "search"}`, v.String())
	ascii := m
	ascii.Header.ContentEncoding = "ascii"
	ascii.Content = []byte(`{"value": "é"}`)
	_, err = ascii.JSONPick("value")
	require.ErrorIs(t, err, ErrInvalidContent)
	ascii.Header.ContentEncoding = "utf-16"
	_, err = ascii.JSONPick("value")
	require.ErrorIs(t, err, ErrUnknownEncoding)

	// What Pick skips costs no allocation, however much of it there is.
	big := jsonMsg(append(append([]byte(`{"skip": `), repeatDoc("[", `{"a\n": [0, "x"]}`, "]", 1<<16)...), `, "action": "search"}`...))
	small := jsonMsg([]byte(`{"skip": [], "action": "search"}`))
	pick := func(m Message) func() {
		return func() {
			if _, err := m.JSONPick("action", "value"); err != nil {
				panic(err)
			}
		}
	}
	require.Equal(t, testing.AllocsPerRun(10, pick(small)), testing.AllocsPerRun(10, pick(big)))
}

// TestJSONContentLength: text/json content has its own, lower bound, checked
// as soon as the header is in, before any content arrives; binary content
// keeps the general one.
func TestJSONContentLength(t *testing.T) {
	header := func(ctype string, n int) []byte {
		h := `{"byteorder": "little", "content-type": "` + ctype +
			`", "content-encoding": "utf-8", "content-length": ` + strconv.Itoa(n) + `}`
		return append([]byte{0, byte(len(h))}, h...)
	}
	var d Decoder
	_, _, err := d.Decode(header(ContentTypeJSON, DefaultMaxJSONContentLength+1))
	require.ErrorIs(t, err, ErrContentTooLarge)
	require.Contains(t, err.Error(), "text/json content of 1048577 bytes > 1048576")
	d = Decoder{}
	_, n, err := d.Decode(header(ContentTypeJSON, DefaultMaxJSONContentLength))
	require.NoError(t, err)
	require.Zero(t, n, "waits for the content")
	d = Decoder{}
	_, _, err = d.Decode(header("binary/x", DefaultMaxJSONContentLength+1))
	require.NoError(t, err, "binary content keeps DefaultMaxContentLength")
	d = Decoder{MaxJSONContentLength: 10}
	_, _, err = d.Decode(header(ContentTypeJSON, 11))
	require.ErrorIs(t, err, ErrContentTooLarge)
	d = Decoder{MaxJSONContentLength: 10 << 20}
	_, _, err = d.Decode(header(ContentTypeJSON, 10<<20))
	require.NoError(t, err)
	d = Decoder{MaxContentLength: 100}
	_, _, err = d.Decode(header(ContentTypeJSON, 101))
	require.ErrorIs(t, err, ErrContentTooLarge, "the general bound applies to JSON too")

	s := ServerConn{Config: ServerConfig{MaxJSONContentLength: 10}}
	_, _, err = s.Next(header(ContentTypeJSON, 11), time.Now())
	require.ErrorIs(t, err, ErrContentTooLarge)
	c := ClientConn{MaxJSONContentLength: 10}
	_, err = c.Send(nil, NewBinaryMessage("x", nil))
	require.NoError(t, err)
	_, _, err = c.Next(header(ContentTypeJSON, 11))
	require.ErrorIs(t, err, ErrContentTooLarge)
}

// TestParseChunkedStack: arrays and objects of every size around the stack's
// chunk boundaries, nested in each other, come out whole and in order.
func TestParseChunkedStack(t *testing.T) {
	var b strings.Builder
	b.WriteString("[")
	for n := range 70 {
		if n > 0 {
			b.WriteString(", ")
		}
		if n%2 == 0 {
			b.WriteString("[")
			for i := range n * 37 {
				if i > 0 {
					b.WriteString(", ")
				}
				if i%50 == 7 {
					b.WriteString(`{"k": [` + strconv.Itoa(i) + `, []], "j": {}}`)
				} else {
					b.WriteString(strconv.Itoa(i))
				}
			}
			b.WriteString("]")
		} else {
			b.WriteString("{")
			for i := range n * 23 {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString(`"` + strconv.Itoa(i) + `": [` + strconv.Itoa(n) + `]`)
			}
			b.WriteString("}")
		}
	}
	b.WriteString("]")
	v, err := ParseLimits{MaxValues: 1 << 20}.JSON(jsonMsg([]byte(b.String())))
	require.NoError(t, err)
	require.Equal(t, b.String(), v.String())
}
