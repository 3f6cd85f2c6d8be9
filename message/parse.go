package message

import (
	"math"
	"strconv"
	"unicode/utf8"
)

// parser is a strict RFC 8259 JSON reader over a byte slice, written by hand
// so the frame header can be read without reflection or per-key allocation.
// It accepts what Python's json.loads accepts on valid JSON, with the same
// results (duplicate keys: the last value wins at the first key's place),
// and rejects Python's extensions NaN, Infinity and -Infinity, which are not
// JSON. Errors carry code, so the same reader serves headers and content.
type parser struct {
	data []byte
	pos  int
	code Code

	// The budget left of a ParseLimits (see limits.go): values and keys
	// that may still be built, and bytes of text and digits they may hold.
	depth  int
	values int
	text   int

	items  stack[Value] // the elements of the arrays open
	fields stack[Field] // the fields of the objects open
}

// newParser returns a parser of data whose budget is lim scaled to data.
func newParser(data []byte, code Code, lim ParseLimits) parser {
	p := parser{data: data, code: code}
	p.depth, p.values, p.text = lim.resolve(len(data))
	return p
}

func (p *parser) fail(detail string) *ProtocolError {
	return protoErr(p.code, "", p.pos, detail)
}

func (p *parser) ws() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// checkText rejects what Python's UTF-8 decoder would, before any parsing,
// since the reference decodes the bytes to text first. A leading BOM is valid
// UTF-8 but Python's json refuses it; the parser then fails on it as an
// unexpected character.
func (p *parser) checkText() *ProtocolError {
	if utf8.Valid(p.data) {
		return nil
	}
	for i := 0; i < len(p.data); {
		r, n := utf8.DecodeRune(p.data[i:])
		if r == utf8.RuneError && n == 1 {
			return protoErr(p.code, "", i, "invalid UTF-8")
		}
		i += n
	}
	return nil
}

// scanString reads a string token at p.pos (which must be '"') and returns
// its raw body and whether it holds escapes, validating both.
func (p *parser) scanString() (raw []byte, escaped bool, err *ProtocolError) {
	p.pos++ // opening quote
	start := p.pos
	d := p.data
	for p.pos < len(d) {
		c := d[p.pos]
		switch {
		case c == '"':
			raw = d[start:p.pos]
			p.pos++
			return raw, escaped, nil
		case c == '\\':
			escaped = true
			if p.pos+1 >= len(d) {
				p.pos = len(d)
				return nil, false, p.fail("unterminated string")
			}
			switch d[p.pos+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				p.pos += 2
			case 'u':
				if p.pos+6 > len(d) {
					return nil, false, p.fail("invalid \\u escape")
				}
				for _, h := range d[p.pos+2 : p.pos+6] {
					if unhex(h) < 0 {
						return nil, false, p.fail("invalid \\u escape")
					}
				}
				p.pos += 6
			default:
				return nil, false, p.fail("invalid escape")
			}
		case c < 0x20:
			return nil, false, p.fail("control character in string")
		default:
			p.pos++
		}
	}
	return nil, false, p.fail("unterminated string")
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

func hex4(b []byte) rune {
	return rune(unhex(b[0])<<12 | unhex(b[1])<<8 | unhex(b[2])<<4 | unhex(b[3]))
}

// unescape appends the text of a raw string body already checked by
// scanString. A surrogate pair of \u escapes becomes one character as in
// Python; a lone surrogate, which Python keeps but a Go string cannot hold as
// text, becomes U+FFFD.
func unescape(dst, raw []byte) []byte {
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			j := i + 1
			for j < len(raw) && raw[j] != '\\' {
				j++
			}
			dst = append(dst, raw[i:j]...)
			i = j
			continue
		}
		switch raw[i+1] {
		case 'u':
			r := hex4(raw[i+2:])
			i += 6
			if r >= 0xD800 && r < 0xDC00 && i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
				if lo := hex4(raw[i+2:]); lo >= 0xDC00 && lo < 0xE000 {
					r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
					i += 6
				}
			}
			dst = utf8.AppendRune(dst, r) // surrogates come out as U+FFFD
			continue
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		default: // '"', '\\', '/'
			dst = append(dst, raw[i+1])
		}
		i += 2
	}
	return dst
}

// scanNumber reads a number token and reports whether it is an integer
// (no fraction, no exponent), the only kind Python turns into an int.
func (p *parser) scanNumber() (lit []byte, isInt bool, err *ProtocolError) {
	d := p.data
	start := p.pos
	if p.pos < len(d) && d[p.pos] == '-' {
		p.pos++
	}
	switch {
	case p.pos < len(d) && d[p.pos] == '0':
		p.pos++
	case p.pos < len(d) && d[p.pos] >= '1' && d[p.pos] <= '9':
		for p.pos < len(d) && d[p.pos] >= '0' && d[p.pos] <= '9' {
			p.pos++
		}
	default:
		return nil, false, p.fail("invalid number")
	}
	isInt = true
	if p.pos < len(d) && d[p.pos] == '.' {
		isInt = false
		p.pos++
		if !p.digits() {
			return nil, false, p.fail("invalid number")
		}
	}
	if p.pos < len(d) && (d[p.pos] == 'e' || d[p.pos] == 'E') {
		isInt = false
		p.pos++
		if p.pos < len(d) && (d[p.pos] == '+' || d[p.pos] == '-') {
			p.pos++
		}
		if !p.digits() {
			return nil, false, p.fail("invalid number")
		}
	}
	return d[start:p.pos], isInt, nil
}

func (p *parser) digits() bool {
	start := p.pos
	for p.pos < len(p.data) && p.data[p.pos] >= '0' && p.data[p.pos] <= '9' {
		p.pos++
	}
	return p.pos > start
}

func (p *parser) literal(word string) bool {
	if len(p.data)-p.pos >= len(word) && string(p.data[p.pos:p.pos+len(word)]) == word {
		p.pos += len(word)
		return true
	}
	return false
}

// value parses any JSON value into a Value; it allocates, which is fine for
// content and for the rare extra header keys.
func (p *parser) value(depth int) (Value, *ProtocolError) {
	p.ws()
	if p.pos >= len(p.data) {
		return Value{}, p.fail("expecting value")
	}
	if err := p.spend(1, 0); err != nil {
		return Value{}, err
	}
	switch c := p.data[p.pos]; {
	case c == '"':
		raw, esc, err := p.scanString()
		if err != nil {
			return Value{}, err
		}
		if err := p.spend(0, len(raw)); err != nil {
			return Value{}, err
		}
		return StringValue(textOf(raw, esc)), nil
	case c == '-' || (c >= '0' && c <= '9'):
		lit, isInt, err := p.scanNumber()
		if err != nil {
			return Value{}, err
		}
		if isInt {
			if err := p.spend(0, len(lit)); err != nil {
				return Value{}, err
			}
		}
		return numberValue(lit, isInt), nil
	case c == '{':
		if depth >= p.depth {
			return Value{}, p.fail("nesting too deep")
		}
		return p.object(depth + 1)
	case c == '[':
		if depth >= p.depth {
			return Value{}, p.fail("nesting too deep")
		}
		return p.array(depth + 1)
	case p.literal("true"):
		return BoolValue(true), nil
	case p.literal("false"):
		return BoolValue(false), nil
	case p.literal("null"):
		return Value{}, nil
	}
	return Value{}, p.fail("expecting value")
}

func textOf(raw []byte, escaped bool) string {
	if !escaped {
		return string(raw)
	}
	return string(unescape(make([]byte, 0, len(raw)), raw))
}

// numberValue keeps integers as canonical digits (Python ints are unbounded;
// "-0" is 0) and floats as float64 (out-of-range ones become ±Inf or 0, as
// Python's float() does).
func numberValue(lit []byte, isInt bool) Value {
	if isInt {
		if string(lit) == "-0" {
			return Value{kind: Int, s: "0"}
		}
		return Value{kind: Int, s: string(lit)}
	}
	f, err := strconv.ParseFloat(string(lit), 64)
	if err != nil && !math.IsInf(f, 0) {
		f = 0 // underflow; cannot be a syntax error after scanNumber
	}
	return Value{kind: Float, f: f}
}

func (p *parser) array(depth int) (Value, *ProtocolError) {
	p.pos++ // '['
	p.ws()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		return Value{kind: Array, items: []Value{}}, nil
	}
	mark := p.items.n
	for {
		v, err := p.value(depth)
		if err != nil {
			return Value{}, err
		}
		p.items.push(v)
		p.ws()
		if p.pos >= len(p.data) {
			return Value{}, p.fail("expecting ',' or ']'")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			return Value{kind: Array, items: p.items.pop(mark)}, nil
		default:
			return Value{}, p.fail("expecting ',' or ']'")
		}
	}
}

// key reads an object key and the ':' after it.
func (p *parser) key() (raw []byte, escaped bool, err *ProtocolError) {
	p.ws()
	if p.pos >= len(p.data) || p.data[p.pos] != '"' {
		return nil, false, p.fail("expecting property name in double quotes")
	}
	if raw, escaped, err = p.scanString(); err != nil {
		return nil, false, err
	}
	p.ws()
	if p.pos >= len(p.data) || p.data[p.pos] != ':' {
		return nil, false, p.fail("expecting ':' delimiter")
	}
	p.pos++
	return raw, escaped, nil
}

// objectEnd consumes ',' (more keys follow: true) or '}' (false).
func (p *parser) objectEnd() (more bool, err *ProtocolError) {
	p.ws()
	if p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ',':
			p.pos++
			return true, nil
		case '}':
			p.pos++
			return false, nil
		}
	}
	return false, p.fail("expecting ',' or '}'")
}

func (p *parser) object(depth int) (Value, *ProtocolError) {
	p.pos++ // '{'
	p.ws()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		return Value{kind: Object, fields: []Field{}}, nil
	}
	ob := p.newObject()
	for {
		raw, esc, err := p.key()
		if err != nil {
			return Value{}, err
		}
		if err := p.spend(1, len(raw)); err != nil {
			return Value{}, err
		}
		v, err := p.value(depth)
		if err != nil {
			return Value{}, err
		}
		ob.set(textOf(raw, esc), v)
		more, err := p.objectEnd()
		if err != nil {
			return Value{}, err
		}
		if !more {
			return Value{kind: Object, fields: ob.done()}, nil
		}
	}
}

// objectBuilder gives Python dict semantics to repeated keys: the key keeps
// its first position and takes its last value. Lookups go through a map once
// an object is big enough that a linear scan per key would be quadratic.
// The fields wait on the parser's stack until the object ends.
type objectBuilder struct {
	st    *stack[Field]
	mark  int // where this object's fields start on st
	index map[string]int
}

func (p *parser) newObject() objectBuilder {
	return objectBuilder{st: &p.fields, mark: p.fields.n}
}

func (ob *objectBuilder) set(k string, v Value) {
	n := ob.st.n - ob.mark
	if ob.index != nil {
		if i, ok := ob.index[k]; ok {
			ob.st.at(ob.mark + i).Value = v
			return
		}
		ob.index[k] = n
	} else {
		for i := range n {
			if f := ob.st.at(ob.mark + i); f.Key == k {
				f.Value = v
				return
			}
		}
		if n == 16 {
			ob.index = make(map[string]int, 32)
			for i := range n {
				ob.index[ob.st.at(ob.mark+i).Key] = i
			}
			ob.index[k] = n
		}
	}
	ob.st.push(Field{Key: k, Value: v})
}

// done returns the object's fields, nil if it has none.
func (ob *objectBuilder) done() []Field {
	if ob.st.n == ob.mark {
		return nil
	}
	return ob.st.pop(ob.mark)
}

// end checks that only whitespace follows the document, as json.loads does.
func (p *parser) end() *ProtocolError {
	p.ws()
	if p.pos != len(p.data) {
		return p.fail("extra data")
	}
	return nil
}

// parseJSON parses a whole document (used for content).
func parseJSON(data []byte, code Code, lim ParseLimits) (Value, *ProtocolError) {
	p := newParser(data, code, lim)
	if err := p.checkText(); err != nil {
		return Value{}, err
	}
	v, err := p.value(0)
	if err != nil {
		return Value{}, err
	}
	if err := p.end(); err != nil {
		return Value{}, err
	}
	return v, nil
}
