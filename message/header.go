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

// Object returns the header as one JSON object, required keys first, for
// printing it as the reference would (e.g. with PyRepr).
func (h *Header) Object() Value {
	fields := make([]Field, 0, 4+len(h.Extra))
	bo := h.ByteOrder
	if bo == "" {
		bo = NativeByteOrder
	}
	fields = append(fields,
		F(KeyByteOrder, StringValue(bo)),
		F(KeyContentType, StringValue(h.ContentType)),
		F(KeyContentEncoding, StringValue(h.ContentEncoding)),
		F(KeyContentLength, IntValue(int64(h.ContentLength))))
	return ObjectValue(append(fields, h.Extra...)...)
}

// Message is one decoded or to-be-encoded frame.
//
// A Message from Decoder.Decode borrows its Content from the caller's input
// buffer (see Decoder); copy it to keep it past the next read.
type Message struct {
	Header  Header
	Content []byte
}
