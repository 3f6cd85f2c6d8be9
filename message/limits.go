package message

import "strconv"

// Parse budget defaults, applied where a ParseLimits field is zero. A Value
// costs about 80 bytes, and up to twice that while the slice holding it
// grows, so a budget in values is a budget in memory; the text of strings
// and integers is bounded by the content anyway.
const (
	// DefaultMaxDepth is the nesting the parser accepts by default, near
	// where Python's json gives up (its recursion limit of 1000).
	DefaultMaxDepth = maxDepth
	// DefaultValuesBase and DefaultBytesPerValue set the default value
	// budget: DefaultValuesBase values plus one per DefaultBytesPerValue
	// bytes of the document. Every request and response of the reference
	// is a handful of values, and typical JSON spends 8 bytes or more per
	// value; a long document denser than that, such as [0,0,0,...], is
	// refused instead of costing 80 times its size.
	DefaultValuesBase    = 1024
	DefaultBytesPerValue = 8
)

// ParseLimits bound the work and memory of parsing one JSON document into a
// Value, so that a hostile peer cannot make a small message cost a large
// tree. The zero value is the default, scaled to the document's length n:
// nesting to DefaultMaxDepth, DefaultValuesBase + n/DefaultBytesPerValue
// values and keys, and no bound on text beyond n itself. With the default,
// parsing allocates at most 24·n + 256 KiB bytes whatever the document
// holds (TestParseLimitsMemory checks it: about 20·n for the densest
// document accepted, 10·n for [0,0,0,...], refused), in time linear in n;
// a document past a limit fails with ErrTooComplex (too deep nesting with
// ErrInvalidContent, as before).
//
// Each field left zero or negative takes its default. A larger MaxValues
// buys compatibility with dense documents at about 200 bytes per value;
// MaxDepth cannot go past DefaultMaxDepth, as the encoder stops there.
type ParseLimits struct {
	// MaxDepth bounds how deep arrays and objects nest.
	MaxDepth int
	// MaxValues bounds how many values (scalars, arrays, objects) and
	// object keys the document may hold.
	MaxValues int
	// MaxTextBytes bounds the bytes of JSON text (before unescaping) of
	// the strings, keys and integers built, which the Value holds copies of.
	MaxTextBytes int
}

// resolve returns the budget of a document of n bytes.
func (l ParseLimits) resolve(n int) (depth, values, text int) {
	depth, values, text = DefaultMaxDepth, DefaultValuesBase+n/DefaultBytesPerValue, n
	if l.MaxDepth > 0 && l.MaxDepth < depth {
		depth = l.MaxDepth
	}
	if l.MaxValues > 0 {
		values = l.MaxValues
	}
	if l.MaxTextBytes > 0 && l.MaxTextBytes < text {
		text = l.MaxTextBytes // the text cannot be longer than n anyway
	}
	return depth, values, text
}

// spend takes values and text bytes from the budget, failing once it is
// exhausted.
func (p *parser) spend(values, text int) *ProtocolError {
	p.values -= values
	p.text -= text
	switch {
	case p.values < 0:
		return protoErr(CodeTooComplex, "", p.pos, "more values than the limit allows")
	case p.text < 0:
		return protoErr(CodeTooComplex, "", p.pos, "more text than the limit allows")
	}
	return nil
}

// JSON decodes m's content as Message.JSON does, within l.
func (l ParseLimits) JSON(m Message) (Value, error) {
	if err := m.checkJSONText(); err != nil {
		return Value{}, err
	}
	v, err := parseJSON(m.Content, CodeInvalidContent, l)
	if err != nil {
		return Value{}, err
	}
	return v, nil
}

// checkJSONText checks what Message.JSON checks before parsing: a known
// text encoding, some content, and ASCII when the encoding says so.
func (m Message) checkJSONText() error {
	ascii, ok := textEncoding(m.Header.ContentEncoding)
	if !ok {
		return protoErr(CodeUnknownEncoding, KeyContentEncoding, -1, m.Header.ContentEncoding)
	}
	if len(m.Content) == 0 {
		return protoErr(CodeEmptyContent, "", -1, "text/json content of length 0")
	}
	if ascii {
		for i, c := range m.Content {
			if c >= 0x80 {
				return protoErr(CodeInvalidContent, "", i, "byte is not ASCII")
			}
		}
	}
	return nil
}

// jsonLimitDetail says which bound a text/json content-length broke.
func jsonLimitDetail(n, limit int) string {
	return "text/json content of " + strconv.Itoa(n) + " bytes > " + strconv.Itoa(limit)
}
