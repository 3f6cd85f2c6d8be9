package message

// Header is a frame's JSON header. The four keys every frame must have are
// fields, so reading them costs no lookup; any other keys ride along in Extra
// in the order they came, because the protocol says they must reach the
// application intact.
type Header struct {
	ByteOrder       string
	ContentType     string
	ContentEncoding string
	ContentLength   int
	// Extra holds keys other than the four above, in order, each once.
	Extra []Field
}

// Lookup returns the value of any header key, required or extra, as a JSON
// value, for code that treats the header as the dict Python sees.
func (h *Header) Lookup(key string) (Value, bool) {
	switch key {
	case KeyByteOrder:
		return StringValue(h.ByteOrder), true
	case KeyContentType:
		return StringValue(h.ContentType), true
	case KeyContentEncoding:
		return StringValue(h.ContentEncoding), true
	case KeyContentLength:
		return IntValue(int64(h.ContentLength)), true
	}
	for i := range h.Extra {
		if h.Extra[i].Key == key {
			return h.Extra[i].Value, true
		}
	}
	return Value{}, false
}

// Message is one decoded or to-be-encoded frame.
//
// A decoded Message (from Decoder.Decode, ServerConn.Next or ClientConn.Next)
// borrows its Content from the caller's input buffer; copy it to keep it
// past the next read.
type Message struct {
	Header  Header
	Content []byte
}
