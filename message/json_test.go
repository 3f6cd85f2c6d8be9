package message

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Expected strings in these tables were printed by CPython 3.11.

func TestPyFloatRepr(t *testing.T) {
	for _, tc := range []struct {
		f    float64
		want string
	}{
		{1e16, "1e+16"},
		{1e15, "1000000000000000.0"},
		{0.0001, "0.0001"},
		{0.00001, "1e-05"},
		{1.0 / 3, "0.3333333333333333"},
		{9007199254740992, "9007199254740992.0"},
		{1e-7, "1e-07"},
		{123e300, "1.23e+302"},
		{9223372036854775808, "9.223372036854776e+18"},
		{0.5, "0.5"},
		{100, "100.0"},
		{-1.25e-10, "-1.25e-10"},
		{0, "0.0"},
		{negZero(), "-0.0"},
	} {
		require.Equal(t, tc.want, string(appendPyFloat(nil, tc.f)), "%v", tc.f)
		require.Equal(t, tc.want, FloatValue(tc.f).PyRepr())
		require.Equal(t, tc.want, FloatValue(tc.f).String())
	}
	require.Equal(t, "inf", FloatValue(math.Inf(1)).PyRepr())
	require.Equal(t, "-inf", FloatValue(math.Inf(-1)).PyRepr())
	require.Equal(t, "nan", FloatValue(math.NaN()).PyRepr())
}

func TestPyJSONString(t *testing.T) {
	for in, want := range map[string]string{
		"":                   `""`,
		"plain":              `"plain"`,
		"<>&'/":              `"<>&'/"`,
		"\"\\":               `"\"\\"`,
		"\b\f\n\r\t":         `"\b\f\n\r\t"`,
		"\x00\x01\x1f\x7f":   "\"\\u0000\\u0001\\u001f\x7f\"",
		"\u2028\u00e9🐶":      "\"\u2028\u00e9🐶\"",
		"bad\xffutf8\xc3":    "\"bad\uFFFDutf8\uFFFD\"",
		"mixed\x1bend\u00e9": "\"mixed\\u001bend\u00e9\"",
	} {
		require.Equal(t, want, string(appendPyString(nil, in)), "%q", in)
	}
}

func TestPyBytesRepr(t *testing.T) {
	for in, want := range map[string]string{
		"":                         `b''`,
		"it's":                     `b"it's"`,
		`say "hi"`:                 `b'say "hi"'`,
		`both ' and "`:             `b'both \' and "'`,
		`\`:                        `b'\\'`,
		"\x00\x7f\x80\xff\t\n\r\v": `b'\x00\x7f\x80\xff\t\n\r\x0b'`,
	} {
		require.Equal(t, want, PyBytesRepr([]byte(in)), "%q", in)
	}
}

func TestPyStrRepr(t *testing.T) {
	for in, want := range map[string]string{
		"it's":    `"it's"`,
		`x"y`:     `'x"y'`,
		`a'b"c`:   `'a\'b"c'`,
		"tab\t\\": `'tab\t\\'`,
		"\x00\x7f\u0085\u00a0\u00ad\u2028\ud7ff\ue000\U000e0001🐶é": `'\x00\x7f\x85\xa0\xad\u2028\ud7ff\ue000\U000e0001🐶é'`,
	} {
		require.Equal(t, want, PyStrRepr(in), "%q", in)
	}
	v := ObjectValue(
		F("a", ArrayValue(IntValue(1), FloatValue(2), NullValue(), BoolValue(true), BoolValue(false), StringValue("x"))),
		F("b", ObjectValue()))
	require.Equal(t, `{'a': [1, 2.0, None, True, False, 'x'], 'b': {}}`, v.PyRepr())
	require.Equal(t, `x`, StringValue("x").PyStr())
	require.Equal(t, `None`, NullValue().PyStr())
}

func TestValueAccessors(t *testing.T) {
	v, err := parseJSON([]byte(`{"s": "x", "i": 12, "big": 123456789012345678901234, "f": 1.5, "b": true, "n": null, "a": [1], "o": {"k": "v"}}`), CodeInvalidContent)
	require.Nil(t, err)
	require.Equal(t, Object, v.Kind())
	get := func(k string) Value {
		x, ok := v.Get(k)
		require.True(t, ok, k)
		return x
	}
	s, ok := get("s").Text()
	require.True(t, ok)
	require.Equal(t, "x", s)
	i, ok := get("i").Int()
	require.True(t, ok)
	require.Equal(t, int64(12), i)
	_, ok = get("big").Int()
	require.False(t, ok, "does not fit an int64")
	digits, ok := get("big").IntText()
	require.True(t, ok)
	require.Equal(t, "123456789012345678901234", digits)
	f, ok := get("big").Float()
	require.True(t, ok)
	require.Equal(t, 1.2345678901234568e23, f)
	f, ok = get("f").Float()
	require.True(t, ok)
	require.Equal(t, 1.5, f)
	b, ok := get("b").Bool()
	require.True(t, ok && b)
	require.True(t, get("n").IsNull())
	require.Len(t, get("a").Items(), 1)
	require.Len(t, get("o").Fields(), 1)
	_, ok = v.Get("missing")
	require.False(t, ok)
	_, ok = StringValue("x").Get("s")
	require.False(t, ok)
	_, ok = StringValue("x").Float()
	require.False(t, ok)
	require.Equal(t, "string", String.String())
	require.Equal(t, "kind(99)", Kind(99).String())
	require.Equal(t, `{"s": "x", "i": 12, "big": 123456789012345678901234, "f": 1.5, "b": true, "n": null, "a": [1], "o": {"k": "v"}}`, v.String())
}

// Python dicts keep a repeated key at its first place with its last value;
// past 16 keys the parser switches to a map index and must agree.
func TestParseDuplicateKeys(t *testing.T) {
	var sb strings.Builder
	sb.WriteString("{")
	for i := range 40 {
		sb.WriteString(`"k` + strconv.Itoa(i%20) + `": ` + strconv.Itoa(i) + `, `)
	}
	sb.WriteString(`"last": 0}`)
	v, err := parseJSON([]byte(sb.String()), CodeInvalidContent)
	require.Nil(t, err)
	require.Len(t, v.Fields(), 21)
	for i := range 20 {
		fl := v.Fields()[i]
		require.Equal(t, "k"+strconv.Itoa(i), fl.Key)
		n, _ := fl.Value.Int()
		require.Equal(t, int64(i+20), n)
	}
}

func TestEncodeErrors(t *testing.T) {
	_, err := AppendFrame(nil, Header{Extra: []Field{F("content-type", StringValue("x"))}}, nil)
	require.ErrorIs(t, err, ErrDuplicateKey)
	require.Contains(t, err.Error(), `"content-type"`)
	_, err = AppendFrame(nil, Header{Extra: []Field{F("a", NullValue()), F("a", NullValue())}}, nil)
	require.ErrorIs(t, err, ErrDuplicateKey)
	many := make([]Field, 30)
	for i := range many {
		many[i] = F(strconv.Itoa(i%29), NullValue())
	}
	_, err = ObjectValue(many...).AppendJSON(nil)
	require.ErrorIs(t, err, ErrDuplicateKey)
	_, err = AppendFrame(nil, Header{Extra: []Field{F("f", FloatValue(math.NaN()))}}, nil)
	require.ErrorIs(t, err, ErrUnsupportedValue)
	_, err = NewJSONMessage(ArrayValue(FloatValue(math.Inf(1))))
	require.ErrorIs(t, err, ErrUnsupportedValue)
	require.Contains(t, FloatValue(math.Inf(1)).String(), "invalid")

	deep := NullValue()
	for range maxDepth + 1 {
		deep = ArrayValue(deep)
	}
	_, err = deep.AppendJSON(nil)
	require.ErrorIs(t, err, ErrUnsupportedValue)

	dst := []byte("keep")
	out, err := AppendFrame(dst, Header{Extra: []Field{F("x", StringValue(strings.Repeat("x", MaxHeaderLength)))}}, nil)
	require.ErrorIs(t, err, ErrHeaderTooLarge)
	require.Equal(t, "keep", string(out), "dst unchanged on error")

	// The largest header that fits is fine.
	base, err := AppendFrame(nil, Header{Extra: []Field{F("x", StringValue(""))}}, nil)
	require.NoError(t, err)
	pad := MaxHeaderLength - (len(base) - 2)
	f, err := AppendFrame(nil, Header{Extra: []Field{F("x", StringValue(strings.Repeat("x", pad)))}}, nil)
	require.NoError(t, err)
	require.Equal(t, []byte{0xff, 0xff}, f[:2])
	m := decodeOne(t, f)
	require.Equal(t, NativeByteOrder, m.Header.ByteOrder)
}

func TestHeaderLookupAndObject(t *testing.T) {
	h := Header{ContentType: "t", ContentEncoding: "e", ContentLength: 3, Extra: []Field{F("x", IntValue(1))}}
	v, ok := h.Lookup("content-length")
	require.True(t, ok)
	require.Equal(t, "3", v.String())
	v, ok = h.Lookup("x")
	require.True(t, ok)
	require.Equal(t, "1", v.String())
	for _, k := range []string{"byteorder", "content-type", "content-encoding"} {
		_, ok = h.Lookup(k)
		require.True(t, ok)
	}
	_, ok = h.Lookup("y")
	require.False(t, ok)
	obj := h.Object()
	require.Equal(t, `{'byteorder': '`+NativeByteOrder+`', 'content-type': 't', 'content-encoding': 'e', 'content-length': 3, 'x': 1}`, obj.PyRepr())
	js, err := h.AppendJSON(nil)
	require.NoError(t, err)
	require.Equal(t, obj.String(), string(js))
}

func TestJSONContent(t *testing.T) {
	msg := func(enc, content string) Message {
		return Message{Header: Header{ContentType: ContentTypeJSON, ContentEncoding: enc, ContentLength: len(content)}, Content: []byte(content)}
	}
	for _, enc := range []string{"utf-8", "UTF-8", "utf8", "Utf_8", "ascii", "US-ASCII", "us_ascii"} {
		v, err := msg(enc, `{"a": 1}`).JSON()
		require.NoError(t, err, enc)
		require.Equal(t, `{"a": 1}`, v.String())
	}
	for _, tc := range []struct {
		enc, content string
		want         error
	}{
		{"latin-1", `{}`, ErrUnknownEncoding},
		{"binary", `{}`, ErrUnknownEncoding},
		{"", `{}`, ErrUnknownEncoding},
		{"utf-8", ``, ErrEmptyContent},
		{"utf-8", `{`, ErrInvalidContent},
		{"utf-8", "\"\xff\"", ErrInvalidContent},
		{"utf-8", "\ufeff{}", ErrInvalidContent},
		{"ascii", `"é"`, ErrInvalidContent},
		{"utf-8", `{} x`, ErrInvalidContent},
		{"utf-8", strings.Repeat("[", 1001) + strings.Repeat("]", 1001), ErrInvalidContent},
	} {
		_, err := msg(tc.enc, tc.content).JSON()
		require.ErrorIs(t, err, tc.want, "%q %q", tc.enc, tc.content)
	}
	v, err := msg("utf-8", strings.Repeat("[", 1000)+strings.Repeat("]", 1000)).JSON()
	require.NoError(t, err, "nesting up to the limit is fine")
	require.Equal(t, Array, v.Kind())

	var pe *ProtocolError
	_, err = msg("utf-8", `{"a" 1}`).JSON()
	require.True(t, errors.As(err, &pe))
	require.Equal(t, 5, pe.Offset)
	require.Equal(t, "message: invalid JSON content at offset 5: expecting ':' delimiter", err.Error())
}

func TestServerResponseEdges(t *testing.T) {
	answer := func(content string) string {
		m, err := NewJSONMessage(NullValue())
		require.NoError(t, err)
		m.Content = []byte(content)
		resp, err := ServerResponse(m)
		require.NoError(t, err)
		line, err := ClientResult(resp)
		require.NoError(t, err)
		return line
	}
	require.Equal(t, "Got result: Error: invalid action 'None'.", answer(`{}`))
	require.Equal(t, "Got result: Error: invalid action '5'.", answer(`{"action": 5}`))
	require.Equal(t, "Got result: Error: invalid action '['search']'.", answer(`{"action": ["search"]}`))
	require.Equal(t, "Got result: No match for 'None'.", answer(`{"action": "search"}`))
	require.Equal(t, "Got result: No match for '1.5'.", answer(`{"action": "search", "value": 1.5}`))
	require.Equal(t, "Got result: Follow the white rabbit. \U0001F430", answer(`{"value": "morpheus", "action": "search"}`))

	for _, content := range []string{`[]`, `"search"`, `null`} {
		m := Message{Header: Header{ContentType: ContentTypeJSON, ContentEncoding: "utf-8"}, Content: []byte(content)}
		_, err := ServerResponse(m)
		require.ErrorIs(t, err, ErrContentNotObject)
		_, err = ClientResult(m)
		require.ErrorIs(t, err, ErrContentNotObject)
	}
	_, err := ServerResponse(Message{Header: Header{ContentType: ContentTypeJSON, ContentEncoding: "utf-8"}})
	require.ErrorIs(t, err, ErrEmptyContent)
	_, err = ClientResult(Message{Header: Header{ContentType: ContentTypeJSON, ContentEncoding: "utf-16"}, Content: []byte("{}")})
	require.ErrorIs(t, err, ErrUnknownEncoding)

	// A binary request shorter than 10 bytes, and an empty one.
	resp, err := ServerResponse(NewBinaryMessage("anything/else", nil))
	require.NoError(t, err)
	require.Equal(t, "First 10 bytes of request: ", string(resp.Content))
	require.Equal(t, ContentTypeServerBinary, resp.Header.ContentType)
	require.Equal(t, EncodingBinary, resp.Header.ContentEncoding)
	require.Equal(t, "Got response: b'First 10 bytes of request: '", must(ClientResult(resp)))
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestProtocolErrorText(t *testing.T) {
	require.Equal(t, "Missing required header 'content-type'.", protoErr(CodeMissingHeader, "content-type", -1, "").Error())
	require.Equal(t, "message: missing required header", ErrMissingHeader.Error())
	require.Equal(t, "message: bad content-length 'content-length': negative", protoErr(CodeBadContentLength, "content-length", -1, "negative").Error())
	require.Equal(t, "code(200)", Code(200).String())
	require.False(t, errors.Is(ErrEmptyHeader, errors.New("x")))
}
