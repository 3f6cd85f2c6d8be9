package message

import (
	"math"
	"unicode"
	"unicode/utf8"
)

// The reference programs print Python reprs (b'...', {'result': '...'},
// ('127.0.0.1', 65432)), and our programs must print the same lines, so the
// rules of CPython's bytes_repr and unicode_repr are reproduced here.

// PyBytesRepr returns repr(b) as Python prints a bytes object: b'...' in
// single quotes unless the bytes hold a single quote and no double quote;
// backslash and the chosen quote escaped; \t, \n, \r by name; other bytes
// outside printable ASCII as \xhh.
func PyBytesRepr(b []byte) string {
	return string(AppendPyBytesRepr(nil, b))
}

// AppendPyBytesRepr appends PyBytesRepr(b) to dst.
func AppendPyBytesRepr(dst, b []byte) []byte {
	quote := byte('\'')
	if containsByte(b, '\'') && !containsByte(b, '"') {
		quote = '"'
	}
	dst = append(dst, 'b', quote)
	for _, c := range b {
		switch {
		case c == quote || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c < ' ' || c >= 0x7f:
			dst = append(dst, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, quote)
}

func containsByte(b []byte, c byte) bool {
	for _, x := range b {
		if x == c {
			return true
		}
	}
	return false
}

// PyStrRepr returns repr(s) as Python prints a str. Non-ASCII characters
// stay as they are when printable; others are escaped as \xhh, \uhhhh or
// \Uhhhhhhhh. Go's unicode.IsPrint and Python's str.isprintable draw the
// same line (letters, marks, numbers, punctuation, symbols, and the ASCII
// space), up to differences between their Unicode versions. Invalid UTF-8,
// which a Python str cannot hold, is shown as U+FFFD.
func PyStrRepr(s string) string {
	return string(appendPyStrRepr(nil, s))
}

func appendPyStrRepr(dst []byte, s string) []byte {
	quote := byte('\'')
	if containsStr(s, '\'') && !containsStr(s, '"') {
		quote = '"'
	}
	dst = append(dst, quote)
	for _, r := range s {
		switch {
		case r == rune(quote) || r == '\\':
			dst = append(dst, '\\', byte(r))
		case r == '\t':
			dst = append(dst, '\\', 't')
		case r == '\n':
			dst = append(dst, '\\', 'n')
		case r == '\r':
			dst = append(dst, '\\', 'r')
		case r < ' ' || r == 0x7f:
			dst = append(dst, '\\', 'x', hexDigits[r>>4], hexDigits[r&0xf])
		case r < 0x7f || unicode.IsPrint(r):
			dst = utf8.AppendRune(dst, r)
		case r <= 0xff:
			dst = append(dst, '\\', 'x', hexDigits[r>>4], hexDigits[r&0xf])
		case r <= 0xffff:
			dst = append(dst, '\\', 'u')
			dst = appendHex(dst, uint32(r), 4)
		default:
			dst = append(dst, '\\', 'U')
			dst = appendHex(dst, uint32(r), 8)
		}
	}
	return append(dst, quote)
}

func containsStr(s string, c byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return true
		}
	}
	return false
}

func appendHex(dst []byte, v uint32, digits int) []byte {
	for i := digits - 1; i >= 0; i-- {
		dst = append(dst, hexDigits[(v>>(4*uint(i)))&0xf])
	}
	return dst
}

// PyRepr returns repr() of the Python object json.loads would have made of
// v: None, True, 41, 1.5, 'text', [...], {'key': ...}. The reference prints
// received JSON this way ("Received response {'result': ...} from ...").
func (v Value) PyRepr() string {
	return string(v.appendPyRepr(nil))
}

// PyStr returns str() of the Python object for v: a string's own text,
// otherwise its repr. The reference formats values into messages this way
// ("No match for 'VALUE'.", "Got result: ...").
func (v Value) PyStr() string {
	if v.kind == String {
		return v.s
	}
	return v.PyRepr()
}

func (v *Value) appendPyRepr(dst []byte) []byte {
	switch v.kind {
	case Null:
		return append(dst, "None"...)
	case Bool:
		if v.b {
			return append(dst, "True"...)
		}
		return append(dst, "False"...)
	case Int:
		return append(dst, v.s...)
	case Float:
		switch {
		case math.IsNaN(v.f):
			return append(dst, "nan"...)
		case math.IsInf(v.f, 1):
			return append(dst, "inf"...)
		case math.IsInf(v.f, -1):
			return append(dst, "-inf"...)
		}
		return appendPyFloat(dst, v.f)
	case String:
		return appendPyStrRepr(dst, v.s)
	case Array:
		dst = append(dst, '[')
		for i := range v.items {
			if i > 0 {
				dst = append(dst, ", "...)
			}
			dst = v.items[i].appendPyRepr(dst)
		}
		return append(dst, ']')
	case Object:
		dst = append(dst, '{')
		for i := range v.fields {
			if i > 0 {
				dst = append(dst, ", "...)
			}
			dst = appendPyStrRepr(dst, v.fields[i].Key)
			dst = append(dst, ": "...)
			dst = v.fields[i].Value.appendPyRepr(dst)
		}
		return append(dst, '}')
	}
	return dst
}
