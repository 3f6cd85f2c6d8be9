// Package pyfmt spells Go values the way Python's repr does, so evsel's
// programs print the same lines as the Python socket-tutorial programs they
// replace: bytes as b'...', strings as '...', JSON values as the dicts and
// lists json.loads makes, and socket addresses as the tuples Python's socket
// module returns, e.g. ('127.0.0.1', 65432). The rules are CPython's
// bytes_repr, unicode_repr and float_repr; this is the one copy of them.
package pyfmt

import (
	"math"
	"net"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/evsel/evsel/message"
)

const hexDigits = "0123456789abcdef"

// quoteFor returns the quote Python picks for a repr: a single quote, unless
// the text holds a single quote and no double quote.
func quoteFor(hasSingle, hasDouble bool) byte {
	if hasSingle && !hasDouble {
		return '"'
	}
	return '\''
}

// Bytes returns Python's repr of b as a bytes object, like repr(b"...").
func Bytes(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b) + 3)
	AppendBytes(&sb, b)
	return sb.String()
}

// AppendBytes writes Python's repr of b as a bytes object to sb.
func AppendBytes(sb *strings.Builder, b []byte) {
	hasSingle, hasDouble := false, false
	for _, c := range b {
		switch c {
		case '\'':
			hasSingle = true
		case '"':
			hasDouble = true
		}
	}
	q := quoteFor(hasSingle, hasDouble)
	sb.WriteByte('b')
	sb.WriteByte(q)
	for _, c := range b {
		switch {
		case c == q || c == '\\':
			sb.WriteByte('\\')
			sb.WriteByte(c)
		case c == '\t':
			sb.WriteString(`\t`)
		case c == '\n':
			sb.WriteString(`\n`)
		case c == '\r':
			sb.WriteString(`\r`)
		case c < ' ' || c >= 0x7f:
			sb.WriteString(`\x`)
			sb.WriteByte(hexDigits[c>>4])
			sb.WriteByte(hexDigits[c&0xf])
		default:
			sb.WriteByte(c)
		}
	}
	sb.WriteByte(q)
}

// Str returns Python's repr of s as a str, like repr("..."). Printable
// non-ASCII characters are kept; others are escaped as \xhh, \uhhhh or
// \Uhhhhhhhh. Bytes that are not valid UTF-8 come out as \udcXX, the
// surrogate Python's surrogateescape error handler would have made of them.
func Str(s string) string {
	q := quoteFor(strings.IndexByte(s, '\'') >= 0, strings.IndexByte(s, '"') >= 0)
	var sb strings.Builder
	sb.Grow(len(s) + 2)
	sb.WriteByte(q)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			sb.WriteString(`\udc`)
			sb.WriteByte(hexDigits[s[i]>>4])
			sb.WriteByte(hexDigits[s[i]&0xf])
			i++
			continue
		}
		i += size
		switch {
		case r == rune(q) || r == '\\':
			sb.WriteByte('\\')
			sb.WriteRune(r)
		case r == '\t':
			sb.WriteString(`\t`)
		case r == '\n':
			sb.WriteString(`\n`)
		case r == '\r':
			sb.WriteString(`\r`)
		case r < ' ' || r == 0x7f:
			writeHex(&sb, `\x`, r, 2)
		case r < 0x7f:
			sb.WriteByte(byte(r))
		case unicode.IsPrint(r):
			sb.WriteRune(r)
		case r <= 0xff:
			writeHex(&sb, `\x`, r, 2)
		case r <= 0xffff:
			writeHex(&sb, `\u`, r, 4)
		default:
			writeHex(&sb, `\U`, r, 8)
		}
	}
	sb.WriteByte(q)
	return sb.String()
}

func writeHex(sb *strings.Builder, prefix string, r rune, digits int) {
	sb.WriteString(prefix)
	for shift := 4 * (digits - 1); shift >= 0; shift -= 4 {
		sb.WriteByte(hexDigits[(r>>shift)&0xf])
	}
}

// HostPort returns the repr of the tuple (host, port), as Python prints the
// address a program was asked to listen on or connect to:
// HostPort("127.0.0.1", 65432) is ('127.0.0.1', 65432).
func HostPort(host string, port int) string {
	return "(" + Str(host) + ", " + strconv.Itoa(port) + ")"
}

// Addr returns the repr of the address Python's socket module would return
// for a: (host, port) for IPv4, (host, port, flowinfo, scope_id) for IPv6,
// the path for a Unix socket, and None for nil.
func Addr(a net.Addr) string {
	switch a := a.(type) {
	case *net.TCPAddr:
		if a == nil {
			return "None"
		}
		if ip4 := a.IP.To4(); ip4 != nil || len(a.IP) == 0 {
			host := "0.0.0.0"
			if ip4 != nil {
				host = ip4.String()
			}
			return HostPort(host, a.Port)
		}
		return "(" + Str(a.IP.String()) + ", " + strconv.Itoa(a.Port) + ", 0, " +
			strconv.Itoa(scopeID(a.Zone)) + ")"
	case *net.UDPAddr:
		if a == nil {
			return "None"
		}
		return Addr(&net.TCPAddr{IP: a.IP, Port: a.Port, Zone: a.Zone})
	case *net.UnixAddr:
		if a == nil {
			return "None"
		}
		return Str(a.Name)
	case nil:
		return "None"
	}
	return Str(a.String())
}

// scopeID turns an IPv6 zone into the interface index Python reports.
func scopeID(zone string) int {
	if zone == "" {
		return 0
	}
	if n, err := strconv.Atoi(zone); err == nil {
		return n
	}
	if ifi, err := net.InterfaceByName(zone); err == nil {
		return ifi.Index
	}
	return 0
}

// Value returns the repr of the Python object json.loads would make of v:
// None, True, 41, 1.5, 'text', [...], {'key': ...}. The reference prints
// received JSON this way ("Received response {'result': ...} from ...").
func Value(v message.Value) string {
	var sb strings.Builder
	appendValue(&sb, v)
	return sb.String()
}

// ValueStr returns str() of the Python object for v: a string's own text,
// otherwise its repr. The reference formats values into its answers this
// way ("No match for 'VALUE'.", "Got result: ...").
func ValueStr(v message.Value) string {
	if s, ok := v.Text(); ok {
		return s
	}
	return Value(v)
}

func appendValue(sb *strings.Builder, v message.Value) {
	switch v.Kind() {
	case message.Null:
		sb.WriteString("None")
	case message.Bool:
		if b, _ := v.Bool(); b {
			sb.WriteString("True")
		} else {
			sb.WriteString("False")
		}
	case message.Float:
		// Python's float repr and json.dumps agree on every finite float;
		// only the values JSON cannot spell differ.
		f, _ := v.Float()
		switch {
		case math.IsNaN(f):
			sb.WriteString("nan")
		case math.IsInf(f, 1):
			sb.WriteString("inf")
		case math.IsInf(f, -1):
			sb.WriteString("-inf")
		default:
			sb.WriteString(v.String())
		}
	case message.String:
		s, _ := v.Text()
		sb.WriteString(Str(s))
	case message.Array:
		sb.WriteByte('[')
		for i, it := range v.Items() {
			if i > 0 {
				sb.WriteString(", ")
			}
			appendValue(sb, it)
		}
		sb.WriteByte(']')
	case message.Object:
		sb.WriteByte('{')
		for i, f := range v.Fields() {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString(Str(f.Key))
			sb.WriteString(": ")
			appendValue(sb, f.Value)
		}
		sb.WriteByte('}')
	default: // Int: JSON and Python spell integers alike, all digits kept
		sb.WriteString(v.String())
	}
}
