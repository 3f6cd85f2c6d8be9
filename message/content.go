package message

import "strings"

// Header values of the protocol: the content-type that means JSON content
// (see Message.JSON), and the encodings the reference sends.
const (
	ContentTypeJSON = "text/json"
	EncodingUTF8    = "utf-8"
	EncodingBinary  = "binary"
)

// textEncoding classifies a content-encoding for JSON content. The reference
// hands the name to Python's codec machinery, which knows dozens; we accept
// the names a peer plausibly sends for the encodings JSON is written in:
// UTF-8 (utf-8, utf8, utf_8) and its subset ASCII (ascii, us-ascii,
// us_ascii), case-insensitively. Anything else is ErrUnknownEncoding.
func textEncoding(name string) (ascii, ok bool) {
	switch {
	case strings.EqualFold(name, "utf-8"), strings.EqualFold(name, "utf8"), strings.EqualFold(name, "utf_8"):
		return false, true
	case strings.EqualFold(name, "ascii"), strings.EqualFold(name, "us-ascii"), strings.EqualFold(name, "us_ascii"):
		return true, true
	}
	return false, false
}

// JSON decodes the content as a JSON document in the header's
// content-encoding, as the reference does for text/json messages. It does
// not look at content-type, so a caller can decide what JSON content is.
// Errors are *ProtocolError: ErrUnknownEncoding, ErrEmptyContent (the
// reference would fail on an empty body too), ErrInvalidContent, or
// ErrTooComplex past the default ParseLimits, which bound the memory the
// Value takes to a small multiple of the content's length.
func (m Message) JSON() (Value, error) {
	return ParseLimits{}.JSON(m)
}

// NewJSONMessage returns a text/json, utf-8 message whose content is v
// spelled as the reference's json.dumps(v, ensure_ascii=False).
func NewJSONMessage(v Value) (Message, error) {
	content, err := v.appendJSONTop(nil)
	if err != nil {
		return Message{}, err
	}
	return Message{
		Header: Header{
			ByteOrder:       nativeByteOrder,
			ContentType:     ContentTypeJSON,
			ContentEncoding: EncodingUTF8,
			ContentLength:   len(content),
		},
		Content: content,
	}, nil
}

// NewBinaryMessage returns a message of the given content-type with encoding
// "binary" carrying content as is (not copied).
func NewBinaryMessage(contentType string, content []byte) Message {
	return Message{
		Header: Header{
			ByteOrder:       nativeByteOrder,
			ContentType:     contentType,
			ContentEncoding: EncodingBinary,
			ContentLength:   len(content),
		},
		Content: content,
	}
}
