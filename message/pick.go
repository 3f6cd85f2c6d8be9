package message

// JSONPick returns the given keys of m's JSON content, an object, without
// building the rest of it: see ParseLimits.Pick, with the default limits.
// A server that reads a few fields of a request should use it rather than
// JSON, so the cost of a request is what it asks for, not what it sends.
func (m Message) JSONPick(keys ...string) (Value, error) {
	return ParseLimits{}.Pick(m, keys...)
}

// Pick checks m's content as Message.JSON does — the same encodings, the
// same errors for text that json.loads would refuse — but builds only the
// values of keys in the top-level object, within l. It returns an object
// holding those of keys present, in the order they came (a repeated key
// keeps its first place and last value, as a Python dict does), so Get on
// the result answers as Get on the whole Value would.
//
// Everything else is only scanned: time linear in the content, memory for
// the picked values alone, no allocation per skipped value. Content that is
// valid JSON but not an object fails with ErrContentNotObject.
func (l ParseLimits) Pick(m Message, keys ...string) (Value, error) {
	if err := m.checkJSONText(); err != nil {
		return Value{}, err
	}
	p := newParser(m.Content, CodeInvalidContent, l)
	if err := p.checkText(); err != nil {
		return Value{}, err
	}
	p.ws()
	if p.pos >= len(p.data) || p.data[p.pos] != '{' {
		kind, err := p.skip(0)
		if err != nil {
			return Value{}, err
		}
		if err := p.end(); err != nil {
			return Value{}, err
		}
		return Value{}, protoErr(CodeContentNotObject, "", -1, "content is a JSON "+kind.String())
	}
	v, err := p.pick(keys)
	if err != nil {
		return Value{}, err
	}
	if err := p.end(); err != nil {
		return Value{}, err
	}
	return v, nil
}

// pick reads the object at p.pos, building the values of keys only.
func (p *parser) pick(keys []string) (Value, *ProtocolError) {
	p.pos++ // '{'
	p.ws()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		return Value{kind: Object, fields: []Field{}}, nil
	}
	ob := p.newObject()
	var kbuf [64]byte
	for {
		raw, esc, err := p.key()
		if err != nil {
			return Value{}, err
		}
		// An escape spells at least one byte in at most six, so a key
		// whose text is six times longer than every wanted key cannot be
		// one of them, and is not unescaped.
		k, want := raw, -1
		if esc && len(raw) <= 6*maxLen(keys) {
			k = unescape(kbuf[:0], raw)
		}
		for i, key := range keys {
			if string(k) == key && (!esc || len(raw) <= 6*maxLen(keys)) {
				want = i
				break
			}
		}
		if want < 0 {
			if _, err := p.skip(1); err != nil {
				return Value{}, err
			}
		} else {
			if err := p.spend(1, len(raw)); err != nil {
				return Value{}, err
			}
			v, err := p.value(1)
			if err != nil {
				return Value{}, err
			}
			ob.set(keys[want], v)
		}
		more, err := p.objectEnd()
		if err != nil {
			return Value{}, err
		}
		if !more {
			fields := ob.done()
			if fields == nil {
				fields = []Field{}
			}
			return Value{kind: Object, fields: fields}, nil
		}
	}
}

func maxLen(keys []string) int {
	n := 0
	for _, k := range keys {
		n = max(n, len(k))
	}
	return n
}

// skip checks the value at p.pos as value would parse it, and reports its
// kind, but builds nothing: it is how the parts of a document nobody asked
// for cost no memory.
func (p *parser) skip(depth int) (Kind, *ProtocolError) {
	p.ws()
	if p.pos >= len(p.data) {
		return Null, p.fail("expecting value")
	}
	switch c := p.data[p.pos]; {
	case c == '"':
		_, _, err := p.scanString()
		return String, err
	case c == '-' || (c >= '0' && c <= '9'):
		_, isInt, err := p.scanNumber()
		if isInt {
			return Int, err
		}
		return Float, err
	case c == '[' || c == '{':
		if depth >= p.depth {
			return Null, p.fail("nesting too deep")
		}
		if c == '[' {
			return Array, p.skipArray(depth + 1)
		}
		return Object, p.skipObject(depth + 1)
	case p.literal("true"), p.literal("false"):
		return Bool, nil
	case p.literal("null"):
		return Null, nil
	}
	return Null, p.fail("expecting value")
}

func (p *parser) skipArray(depth int) *ProtocolError {
	p.pos++ // '['
	p.ws()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		return nil
	}
	for {
		if _, err := p.skip(depth); err != nil {
			return err
		}
		p.ws()
		if p.pos >= len(p.data) {
			return p.fail("expecting ',' or ']'")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			return nil
		default:
			return p.fail("expecting ',' or ']'")
		}
	}
}

func (p *parser) skipObject(depth int) *ProtocolError {
	p.pos++ // '{'
	p.ws()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		return nil
	}
	for {
		if _, _, err := p.key(); err != nil {
			return err
		}
		if _, err := p.skip(depth); err != nil {
			return err
		}
		more, err := p.objectEnd()
		if err != nil {
			return err
		}
		if !more {
			return nil
		}
	}
}
