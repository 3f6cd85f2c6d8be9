package message

import (
	"encoding/binary"
	"math"
	"strconv"
	"unicode/utf8"
)

// maxHeaderLength is the largest JSON header a frame can carry: its length
// travels in two bytes.
const maxHeaderLength = math.MaxUint16

// nativeByteOrder is what Python's sys.byteorder says on this machine, the
// byteorder the reference puts in every header it sends.
var nativeByteOrder = func() string {
	if binary.NativeEndian.Uint16([]byte{1, 0}) == 1 {
		return "little"
	}
	return "big"
}()

// The four required keys, in the order the reference writes them.
const (
	KeyByteOrder       = "byteorder"
	KeyContentType     = "content-type"
	KeyContentEncoding = "content-encoding"
	KeyContentLength   = "content-length"
)

// AppendFrame appends m as one frame (length prefix, JSON header, content)
// to dst and returns the extended slice, spelled byte for byte as the Python
// reference would send it.
//
// The header's content-length is always len(m.Content): a frame whose
// header disagreed with its content would desynchronise the stream, so the
// field is not trusted. An empty ByteOrder means this machine's, as in
// Python. Extra keys follow the four required ones in their given order. On
// error dst is returned unchanged: ErrHeaderTooLarge, ErrDuplicateKey or
// ErrUnsupportedValue.
func (m Message) AppendFrame(dst []byte) ([]byte, error) {
	h, content := m.Header, m.Content
	start := len(dst)
	dst = append(dst, 0, 0)
	h.ContentLength = len(content)
	dst, err := h.appendJSON(dst)
	if err != nil {
		return dst[:start], err
	}
	n := len(dst) - start - 2
	if n > maxHeaderLength {
		return dst[:start], ErrHeaderTooLarge
	}
	binary.BigEndian.PutUint16(dst[start:], uint16(n))
	return append(dst, content...), nil
}

func (h *Header) appendJSON(dst []byte) ([]byte, error) {
	if err := checkExtraKeys(h.Extra); err != nil {
		return dst, err
	}
	bo := h.ByteOrder
	if bo == "" {
		bo = nativeByteOrder
	}
	dst = append(dst, `{"byteorder": `...)
	dst = appendPyString(dst, bo)
	dst = append(dst, `, "content-type": `...)
	dst = appendPyString(dst, h.ContentType)
	dst = append(dst, `, "content-encoding": `...)
	dst = appendPyString(dst, h.ContentEncoding)
	dst = append(dst, `, "content-length": `...)
	dst = strconv.AppendInt(dst, int64(h.ContentLength), 10)
	var err error
	for i := range h.Extra {
		dst = append(dst, ", "...)
		dst = appendPyString(dst, h.Extra[i].Key)
		dst = append(dst, ": "...)
		if dst, err = h.Extra[i].Value.appendJSON(dst, 0); err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

func isRequiredKey(k string) bool {
	switch k {
	case KeyByteOrder, KeyContentType, KeyContentEncoding, KeyContentLength:
		return true
	}
	return false
}

func checkExtraKeys(extra []Field) error {
	for i := range extra {
		if isRequiredKey(extra[i].Key) {
			return dupKeyError(extra[i].Key)
		}
	}
	return checkDupKeys(extra)
}

func dupKeyError(k string) error {
	return &keyError{err: ErrDuplicateKey, key: k}
}

type keyError struct {
	err error
	key string
}

func (e *keyError) Error() string { return e.err.Error() + " " + strconv.Quote(e.key) }
func (e *keyError) Unwrap() error { return e.err }

// checkDupKeys is quadratic for the handful of keys real objects have and
// switches to a map past that, so a huge object cannot make encoding slow.
func checkDupKeys(fields []Field) error {
	if len(fields) <= 16 {
		for i := 1; i < len(fields); i++ {
			for j := 0; j < i; j++ {
				if fields[i].Key == fields[j].Key {
					return dupKeyError(fields[i].Key)
				}
			}
		}
		return nil
	}
	seen := make(map[string]struct{}, len(fields))
	for i := range fields {
		if _, ok := seen[fields[i].Key]; ok {
			return dupKeyError(fields[i].Key)
		}
		seen[fields[i].Key] = struct{}{}
	}
	return nil
}

// appendJSONTop appends v spelled as json.dumps(v, ensure_ascii=False)
// would, leaving dst as it was on error.
func (v Value) appendJSONTop(dst []byte) ([]byte, error) {
	start := len(dst)
	dst, err := v.appendJSON(dst, 0)
	if err != nil {
		return dst[:start], err
	}
	return dst, nil
}

// maxDepth bounds nesting both ways: Python's json gives up near its
// recursion limit of 1000, and a bound keeps a hostile document from growing
// our stack without limit.
const maxDepth = 1000

var errTooDeep = &keyError{err: ErrUnsupportedValue, key: "nesting deeper than 1000"}

func (v *Value) appendJSON(dst []byte, depth int) ([]byte, error) {
	switch v.kind {
	case Null:
		return append(dst, "null"...), nil
	case Bool:
		if v.b {
			return append(dst, "true"...), nil
		}
		return append(dst, "false"...), nil
	case Int:
		return append(dst, v.s...), nil
	case Float:
		if math.IsNaN(v.f) || math.IsInf(v.f, 0) {
			return dst, ErrUnsupportedValue
		}
		return appendPyFloat(dst, v.f), nil
	case String:
		return appendPyString(dst, v.s), nil
	case Array:
		if depth >= maxDepth {
			return dst, errTooDeep
		}
		dst = append(dst, '[')
		var err error
		for i := range v.items {
			if i > 0 {
				dst = append(dst, ", "...)
			}
			if dst, err = v.items[i].appendJSON(dst, depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case Object:
		if depth >= maxDepth {
			return dst, errTooDeep
		}
		if err := checkDupKeys(v.fields); err != nil {
			return dst, err
		}
		dst = append(dst, '{')
		var err error
		for i := range v.fields {
			if i > 0 {
				dst = append(dst, ", "...)
			}
			dst = appendPyString(dst, v.fields[i].Key)
			dst = append(dst, ": "...)
			if dst, err = v.fields[i].Value.appendJSON(dst, depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	}
	return dst, ErrUnsupportedValue
}

const hexDigits = "0123456789abcdef"

// appendPyString quotes s as Python's json encoder does with
// ensure_ascii=False: only '"', '\\' and control characters are escaped, the
// five with short forms by name and the rest as lower-case \u00XX. Nothing
// else (not '<', '&', U+2028 or DEL) is touched.
func appendPyString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	run := 0 // start of the pending unescaped run
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, s[run:i]...)
				dst = append(dst, "\uFFFD"...)
				i++
				run = i
				continue
			}
			i += size
			continue
		}
		dst = append(dst, s[run:i]...)
		switch c {
		case '"':
			dst = append(dst, '\\', '"')
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		run = i
	}
	dst = append(dst, s[run:]...)
	return append(dst, '"')
}

// appendPyFloat writes a finite f as Python's float repr: the shortest digits
// that round-trip, in positional form when the decimal point falls within
// 16 places (always with a fractional part, "1.0"), else as d.ddde±XX.
func appendPyFloat(dst []byte, f float64) []byte {
	var buf [32]byte
	e := strconv.AppendFloat(buf[:0], f, 'e', -1, 64)
	exp := 0
	for i := len(e) - 1; i >= 0; i-- {
		if e[i] == 'e' {
			for _, d := range e[i+2:] {
				exp = exp*10 + int(d-'0')
			}
			if e[i+1] == '-' {
				exp = -exp
			}
			break
		}
	}
	if decpt := exp + 1; decpt <= -4 || decpt > 16 {
		return append(dst, e...)
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, 'f', -1, 64)
	for _, c := range dst[start:] {
		if c == '.' {
			return dst
		}
	}
	return append(dst, '.', '0')
}
