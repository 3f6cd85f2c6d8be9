package message

import "math"

// What the header parser learned about content-length.
const (
	clAbsent = iota
	clOK
	clNegative
	clNotInteger
	clHuge // larger than an int can hold
)

// Indexes of the three string-valued required keys in presence bitmaps.
const (
	presByteOrder = 1 << iota
	presContentType
	presContentEncoding
)

// parseHeader reads a JSON header into h without allocating for the values
// real peers send: keys are compared in place and the usual string values are
// interned. Only extra keys allocate.
func parseHeader(data []byte, h *Header) *ProtocolError {
	*h = Header{}
	p := newParser(data, CodeInvalidHeader, ParseLimits{})
	if err := p.checkText(); err != nil {
		return err
	}
	p.ws()
	if p.pos >= len(data) || data[p.pos] != '{' {
		// Tell "not JSON" from "JSON but not an object".
		if _, err := p.value(0); err != nil {
			return err
		}
		if err := p.end(); err != nil {
			return err
		}
		return protoErr(CodeHeaderNotObject, "", -1, "")
	}
	p.pos++
	var (
		present, badType int // bitmaps of the string-valued keys
		clState          = clAbsent
		ob               = p.newObject()
	)
	p.ws()
	if p.pos < len(data) && data[p.pos] == '}' {
		p.pos++
	} else {
		for {
			raw, esc, err := p.key()
			if err != nil {
				return err
			}
			var kbuf [32]byte
			k := raw
			if esc {
				k = unescape(kbuf[:0], raw)
			}
			p.ws()
			var bit int
			var dst *string
			switch string(k) {
			case KeyByteOrder:
				bit, dst = presByteOrder, &h.ByteOrder
			case KeyContentType:
				bit, dst = presContentType, &h.ContentType
			case KeyContentEncoding:
				bit, dst = presContentEncoding, &h.ContentEncoding
			case KeyContentLength:
				if clState, err = p.contentLength(h); err != nil {
					return err
				}
			default:
				v, err := p.value(1)
				if err != nil {
					return err
				}
				ob.set(string(k), v)
			}
			if dst != nil {
				present |= bit
				badType &^= bit
				if p.pos < len(data) && data[p.pos] == '"' {
					raw, esc, err := p.scanString()
					if err != nil {
						return err
					}
					*dst = internText(raw, esc)
				} else {
					if _, err := p.value(1); err != nil {
						return err
					}
					badType |= bit
					*dst = ""
				}
			}
			more, err := p.objectEnd()
			if err != nil {
				return err
			}
			if !more {
				break
			}
		}
	}
	if err := p.end(); err != nil {
		return err
	}
	h.Extra = ob.done()

	// The reference checks presence in this order, so the first missing key
	// it names is the one we name.
	switch {
	case present&presByteOrder == 0:
		return protoErr(CodeMissingHeader, KeyByteOrder, -1, "")
	case clState == clAbsent:
		return protoErr(CodeMissingHeader, KeyContentLength, -1, "")
	case present&presContentType == 0:
		return protoErr(CodeMissingHeader, KeyContentType, -1, "")
	case present&presContentEncoding == 0:
		return protoErr(CodeMissingHeader, KeyContentEncoding, -1, "")
	}
	switch {
	case badType&presByteOrder != 0:
		return protoErr(CodeBadHeaderValue, KeyByteOrder, -1, "not a string")
	case clState == clNegative:
		return protoErr(CodeBadContentLength, KeyContentLength, -1, "negative")
	case clState == clNotInteger:
		return protoErr(CodeBadContentLength, KeyContentLength, -1, "not an integer")
	case clState == clHuge:
		return protoErr(CodeContentTooLarge, KeyContentLength, -1, "does not fit in an int")
	case badType&presContentType != 0:
		return protoErr(CodeBadHeaderValue, KeyContentType, -1, "not a string")
	case badType&presContentEncoding != 0:
		return protoErr(CodeBadHeaderValue, KeyContentEncoding, -1, "not a string")
	}
	return nil
}

// contentLength reads the value of content-length. A wrong value is not an
// error yet: a later duplicate key may replace it, as in Python.
func (p *parser) contentLength(h *Header) (int, *ProtocolError) {
	h.ContentLength = 0
	if p.pos >= len(p.data) || (p.data[p.pos] != '-' && (p.data[p.pos] < '0' || p.data[p.pos] > '9')) {
		if _, err := p.value(1); err != nil {
			return 0, err
		}
		return clNotInteger, nil
	}
	lit, isInt, err := p.scanNumber()
	if err != nil {
		return 0, err
	}
	if !isInt {
		return clNotInteger, nil
	}
	if lit[0] == '-' {
		if string(lit) == "-0" {
			return clOK, nil
		}
		return clNegative, nil
	}
	n := 0
	for _, c := range lit {
		d := int(c - '0')
		if n > (math.MaxInt-d)/10 {
			return clHuge, nil
		}
		n = n*10 + d
	}
	h.ContentLength = n
	return clOK, nil
}

// internText returns the usual header strings without allocating; the Go
// compiler turns a switch on string(bytes) into comparisons without a copy.
// The binary content-types are the reference application's, named by
// shared/protocol.md, so that its frames decode without garbage too.
func internText(raw []byte, escaped bool) string {
	if escaped {
		var buf [64]byte
		raw = unescape(buf[:0], raw)
	}
	switch string(raw) {
	case "little":
		return "little"
	case "big":
		return "big"
	case ContentTypeJSON:
		return ContentTypeJSON
	case "binary/custom-client-binary-type":
		return "binary/custom-client-binary-type"
	case "binary/custom-server-binary-type":
		return "binary/custom-server-binary-type"
	case EncodingUTF8:
		return EncodingUTF8
	case EncodingBinary:
		return EncodingBinary
	case "":
		return ""
	}
	return string(raw)
}
