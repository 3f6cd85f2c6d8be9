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
		require.Equal(t, tc.want, FloatValue(tc.f).String())
	}
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

func TestValueAccessors(t *testing.T) {
	v, err := parseJSON([]byte(`{"s": "x", "i": 12, "big": 123456789012345678901234, "f": 1.5, "b": true, "n": null, "a": [1], "o": {"k": "v"}}`), CodeInvalidContent, ParseLimits{})
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
	require.Equal(t, Int, get("big").Kind())
	require.Equal(t, "123456789012345678901234", get("big").String(), "all digits kept")
	f, ok := get("big").Float()
	require.True(t, ok)
	require.Equal(t, 1.2345678901234568e23, f)
	f, ok = get("f").Float()
	require.True(t, ok)
	require.Equal(t, 1.5, f)
	b, ok := get("b").Bool()
	require.True(t, ok && b)
	require.Equal(t, Null, get("n").Kind())
	require.Equal(t, Null, Value{}.Kind(), "the zero Value is null")
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
	v, err := parseJSON([]byte(sb.String()), CodeInvalidContent, ParseLimits{})
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
	frame := func(dst []byte, extra ...Field) ([]byte, error) {
		return Message{Header: Header{Extra: extra}}.AppendFrame(dst)
	}
	_, err := frame(nil, F("content-type", StringValue("x")))
	require.ErrorIs(t, err, ErrDuplicateKey)
	require.Contains(t, err.Error(), `"content-type"`)
	_, err = frame(nil, F("a", Value{}), F("a", Value{}))
	require.ErrorIs(t, err, ErrDuplicateKey)
	many := make([]Field, 30)
	for i := range many {
		many[i] = F(strconv.Itoa(i%29), Value{})
	}
	_, err = NewJSONMessage(ObjectValue(many...))
	require.ErrorIs(t, err, ErrDuplicateKey)
	_, err = frame(nil, F("f", FloatValue(math.NaN())))
	require.ErrorIs(t, err, ErrUnsupportedValue)
	_, err = NewJSONMessage(ArrayValue(FloatValue(math.Inf(1))))
	require.ErrorIs(t, err, ErrUnsupportedValue)
	require.Contains(t, FloatValue(math.Inf(1)).String(), "invalid")

	deep := Value{}
	for range maxDepth + 1 {
		deep = ArrayValue(deep)
	}
	_, err = NewJSONMessage(deep)
	require.ErrorIs(t, err, ErrUnsupportedValue)

	dst := []byte("keep")
	out, err := frame(dst, F("x", StringValue(strings.Repeat("x", maxHeaderLength))))
	require.ErrorIs(t, err, ErrHeaderTooLarge)
	require.Equal(t, "keep", string(out), "dst unchanged on error")

	// The largest header that fits is fine.
	base, err := frame(nil, F("x", StringValue("")))
	require.NoError(t, err)
	pad := maxHeaderLength - (len(base) - 2)
	f, err := frame(nil, F("x", StringValue(strings.Repeat("x", pad))))
	require.NoError(t, err)
	require.Equal(t, []byte{0xff, 0xff}, f[:2])
	m := decodeOne(t, f)
	require.Equal(t, nativeByteOrder, m.Header.ByteOrder)
}

func TestHeaderLookup(t *testing.T) {
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
	js, err := h.appendJSON(nil)
	require.NoError(t, err)
	require.Equal(t, `{"byteorder": "`+nativeByteOrder+`", "content-type": "t", "content-encoding": "e", "content-length": 3, "x": 1}`, string(js))
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

func TestProtocolErrorText(t *testing.T) {
	require.Equal(t, "Missing required header 'content-type'.", protoErr(CodeMissingHeader, "content-type", -1, "").Error())
	require.Equal(t, "message: missing required header", ErrMissingHeader.Error())
	require.Equal(t, "message: bad content-length 'content-length': negative", protoErr(CodeBadContentLength, "content-length", -1, "negative").Error())
	require.Equal(t, "code(200)", Code(200).String())
	require.False(t, errors.Is(ErrEmptyHeader, errors.New("x")))
}
