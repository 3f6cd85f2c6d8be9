package message

import (
	"errors"
	"os"
	"strconv"
)

// Code classifies a malformed input, so a server can log or count the reason
// a connection was dropped without parsing error text.
type Code uint8

// The ways a peer's bytes can break the protocol.
const (
	_ Code = iota
	// CodeEmptyHeader: the 2-byte header length is 0; no JSON object fits.
	CodeEmptyHeader
	// CodeInvalidHeader: the header is not valid UTF-8 JSON.
	CodeInvalidHeader
	// CodeHeaderNotObject: the header is valid JSON but not an object.
	CodeHeaderNotObject
	// CodeMissingHeader: one of the four required keys is absent.
	CodeMissingHeader
	// CodeBadHeaderValue: byteorder, content-type or content-encoding is not
	// a string (the reference would crash using it).
	CodeBadHeaderValue
	// CodeBadContentLength: content-length is negative or not an integer.
	CodeBadContentLength
	// CodeContentTooLarge: content-length exceeds the decoder's maximum.
	CodeContentTooLarge
	// CodeUnknownEncoding: JSON content declares an encoding we cannot decode.
	CodeUnknownEncoding
	// CodeEmptyContent: text/json content of length 0 (not a JSON document).
	CodeEmptyContent
	// CodeInvalidContent: JSON content that does not decode or parse.
	CodeInvalidContent
	// CodeContentNotObject: JSON content that is not the object the
	// application expects (a request or a response).
	CodeContentNotObject
	// CodeTooComplex: JSON that holds more values or text than the
	// ParseLimits allow for its length, e.g. a long [0,0,0,...].
	CodeTooComplex
)

var codeNames = [...]string{
	"",
	"empty header",
	"invalid JSON header",
	"header is not a JSON object",
	"missing required header",
	"bad header value",
	"bad content-length",
	"content too large",
	"unknown content-encoding",
	"empty JSON content",
	"invalid JSON content",
	"JSON content is not an object",
	"JSON too complex",
}

// String names the fault as the Error text of its ProtocolError does.
func (c Code) String() string {
	if c > 0 && int(c) < len(codeNames) {
		return codeNames[c]
	}
	return "code(" + strconv.Itoa(int(c)) + ")"
}

// ProtocolError is the one error type for malformed input, whichever layer
// finds it. errors.Is(err, ErrMissingHeader) and the like match on Code alone.
type ProtocolError struct {
	Code Code
	// Key names the header key at fault, when there is one.
	Key string
	// Offset is the byte offset of a syntax error within the JSON text
	// (header or content), or -1 when not applicable.
	Offset int
	// Detail says what was wrong, for humans.
	Detail string
}

// Error keeps the reference's wording for a missing key, since that is the
// text a Python server logs and operators grep for.
func (e *ProtocolError) Error() string {
	if e.Code == CodeMissingHeader && e.Key != "" {
		return "Missing required header '" + e.Key + "'."
	}
	s := "message: " + e.Code.String()
	if e.Key != "" {
		s += " '" + e.Key + "'"
	}
	if e.Offset >= 0 && e.Detail != "" {
		s += " at offset " + strconv.Itoa(e.Offset)
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Is makes every ProtocolError match the sentinel of its Code.
func (e *ProtocolError) Is(target error) bool {
	t, ok := target.(*ProtocolError)
	return ok && t.Code == e.Code
}

func protoErr(c Code, key string, off int, detail string) *ProtocolError {
	return &ProtocolError{Code: c, Key: key, Offset: off, Detail: detail}
}

// Sentinels for errors.Is, one per Code.
var (
	ErrEmptyHeader      = &ProtocolError{Code: CodeEmptyHeader, Offset: -1}
	ErrInvalidHeader    = &ProtocolError{Code: CodeInvalidHeader, Offset: -1}
	ErrHeaderNotObject  = &ProtocolError{Code: CodeHeaderNotObject, Offset: -1}
	ErrMissingHeader    = &ProtocolError{Code: CodeMissingHeader, Offset: -1}
	ErrBadHeaderValue   = &ProtocolError{Code: CodeBadHeaderValue, Offset: -1}
	ErrBadContentLength = &ProtocolError{Code: CodeBadContentLength, Offset: -1}
	ErrContentTooLarge  = &ProtocolError{Code: CodeContentTooLarge, Offset: -1}
	ErrUnknownEncoding  = &ProtocolError{Code: CodeUnknownEncoding, Offset: -1}
	ErrEmptyContent     = &ProtocolError{Code: CodeEmptyContent, Offset: -1}
	ErrInvalidContent   = &ProtocolError{Code: CodeInvalidContent, Offset: -1}
	ErrContentNotObject = &ProtocolError{Code: CodeContentNotObject, Offset: -1}
	ErrTooComplex       = &ProtocolError{Code: CodeTooComplex, Offset: -1}
)

// Errors from building frames: these are the caller's mistakes, not a peer's,
// so they are plain errors rather than ProtocolErrors.
var (
	// ErrHeaderTooLarge: the encoded header does not fit the 2-byte length.
	ErrHeaderTooLarge = errors.New("message: encoded header exceeds 65535 bytes")
	// ErrDuplicateKey: an object or header repeats a key; a Python dict
	// cannot, so no reference peer could send or expect it.
	ErrDuplicateKey = errors.New("message: duplicate key")
	// ErrUnsupportedValue: NaN or an infinity, which JSON cannot spell.
	ErrUnsupportedValue = errors.New("message: value has no JSON spelling")
)

// Errors the connection state machines (ServerConn, ClientConn) close a
// connection with, beside *ProtocolError: limits and sequencing rather than
// malformed bytes.
var (
	// ErrMessageTimeout: a request started arriving and did not complete in
	// ServerConfig.MessageTimeout (a slowloris peer, or one that died). It
	// matches os.ErrDeadlineExceeded with errors.Is and reports Timeout,
	// for os.IsTimeout and net.Error.
	ErrMessageTimeout error = newTimeoutError("message: incomplete message timed out")
	// ErrTooManyInFlight: the peer pipelined more requests than
	// ServerConfig.MaxInFlight without reading the answers.
	ErrTooManyInFlight = errors.New("message: too many requests in flight")
	// ErrTruncated: the peer closed the connection in the middle of a message.
	ErrTruncated = errors.New("message: connection closed in the middle of a message")
	// ErrUnsolicited: a response without a request (a client received one
	// it had not asked for, or a server was asked to answer nothing).
	ErrUnsolicited = errors.New("message: response without a request")
)

// timeoutError is ErrMessageTimeout's type: like the error of a passed
// deadline on a net.Conn, it matches os.ErrDeadlineExceeded with errors.Is
// and reports Timeout, so a server written for net (a net.Error check,
// os.IsTimeout) knows it for one.
type timeoutError struct{ msg string }

func newTimeoutError(what string) *timeoutError {
	return &timeoutError{msg: what + ": " + os.ErrDeadlineExceeded.Error()}
}

func (e *timeoutError) Error() string   { return e.msg }
func (e *timeoutError) Timeout() bool   { return true }
func (e *timeoutError) Temporary() bool { return true } // as net's own deadline error says
func (e *timeoutError) Unwrap() error   { return os.ErrDeadlineExceeded }
