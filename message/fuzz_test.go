package message

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// decoded is what one way of feeding a byte stream produced.
type decoded struct {
	msgs []Message
	err  error
	rest int // bytes left unconsumed at the end
}

// decodeWhole hands the decoder everything at once, as after one big read.
func decodeWhole(data []byte) decoded {
	var d Decoder
	var out decoded
	for {
		m, n, err := d.Decode(data)
		if err != nil {
			out.err = err
			break
		}
		if n == 0 {
			break
		}
		if n > len(data) || len(m.Content) != m.Header.ContentLength {
			panic("consumed more than given, or content length mismatch")
		}
		out.msgs = append(out.msgs, m)
		data = data[n:]
	}
	out.rest = len(data)
	return out
}

// decodeBytewise grows the buffer one byte per "read", the worst case for
// an event loop, keeping unconsumed bytes as a caller must.
func decodeBytewise(data []byte) decoded {
	var d Decoder
	var out decoded
	var buf []byte
	for _, c := range data {
		buf = append(buf, c)
		for {
			m, n, err := d.Decode(buf)
			if err != nil {
				out.err = err
				out.rest = len(buf)
				return out
			}
			if n == 0 {
				break
			}
			m.Content = bytes.Clone(m.Content)
			out.msgs = append(out.msgs, m)
			buf = buf[n:]
		}
	}
	out.rest = len(buf)
	return out
}

// decodeMachines feeds a keep-alive ServerConn and a ClientConn in chunks
// of 7 bytes, as a connection's buffer fills read by read: they must see
// the same frames as a bare Decoder.
func decodeMachines(data []byte) (server, client decoded) {
	s := ServerConn{Config: ServerConfig{KeepAlive: true, MessageTimeout: -1}}
	var c ClientConn
	now := time.Now()
	var sbuf, cbuf []byte
	for len(data) > 0 && (server.err == nil || client.err == nil) {
		k := min(7, len(data))
		sbuf, cbuf = append(sbuf, data[:k]...), append(cbuf, data[:k]...)
		data = data[k:]
		for server.err == nil {
			m, n, err := s.Next(sbuf, now)
			if err != nil {
				server.err = err
				server.rest = len(sbuf) + len(data)
				break
			}
			if n == 0 {
				break
			}
			m.Content = bytes.Clone(m.Content)
			server.msgs = append(server.msgs, m)
			sbuf = sbuf[n:]
			if _, err := s.Respond(nil, NewBinaryMessage("x", nil)); err != nil {
				panic(err)
			}
		}
		for client.err == nil {
			if _, err := c.Send(nil, NewBinaryMessage("x", nil)); err != nil {
				panic(err)
			}
			m, n, err := c.Next(cbuf)
			if err != nil {
				client.err = err
				client.rest = len(cbuf) + len(data)
				break
			}
			if n == 0 {
				break
			}
			m.Content = bytes.Clone(m.Content)
			client.msgs = append(client.msgs, m)
			cbuf = cbuf[n:]
		}
		s.Flushed()
	}
	if server.err == nil {
		server.rest = len(sbuf)
	}
	if client.err == nil {
		client.rest = len(cbuf)
	}
	return server, client
}

func FuzzDecoder(f *testing.F) {
	// More seeds live in testdata/fuzz/FuzzDecoder; these keep the golden
	// exchanges in the corpus as they are regenerated.
	for _, c := range loadGolden(f) {
		f.Add(c.Request)
		f.Add(append(append([]byte{}, c.Request...), c.Response...))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		whole := decodeWhole(data)
		server, client := decodeMachines(data)
		for _, other := range []decoded{decodeBytewise(data), server, client} {
			require.Equal(t, len(whole.msgs), len(other.msgs))
			for i := range whole.msgs {
				require.Equal(t, whole.msgs[i].Header, other.msgs[i].Header)
				require.Equal(t, string(whole.msgs[i].Content), string(other.msgs[i].Content))
			}
			require.Equal(t, whole.err, other.err)
			if whole.err == nil {
				require.Equal(t, whole.rest, other.rest)
			}
		}
		if whole.err != nil {
			var pe *ProtocolError
			require.True(t, errors.As(whole.err, &pe), "not a ProtocolError: %v", whole.err)
			require.NotEmpty(t, pe.Error())
		}

		for _, m := range whole.msgs {
			// A decoded header re-encodes (when JSON can spell it within
			// 64 KiB) and decodes back to itself.
			frame, err := m.AppendFrame(nil)
			if err == nil {
				again := decodeWhole(frame)
				require.NoError(t, again.err)
				require.Len(t, again.msgs, 1)
				require.Equal(t, m.Header, again.msgs[0].Header)
				require.Equal(t, string(m.Content), string(again.msgs[0].Content))
				require.Zero(t, again.rest)
			} else if !errors.Is(err, ErrHeaderTooLarge) && !errors.Is(err, ErrUnsupportedValue) {
				t.Fatalf("cannot re-encode a decoded header: %v", err)
			}

			checkPick(t, m)

			// JSON content that decodes can be sent back as it came, unless
			// it holds a number too large for a float (JSON has no inf).
			if v, err := m.JSON(); err == nil {
				again, err := NewJSONMessage(v)
				if err != nil {
					require.ErrorIs(t, err, ErrUnsupportedValue)
					continue
				}
				v2, err := again.JSON()
				require.NoError(t, err)
				require.Equal(t, v.String(), v2.String())
			}
		}
	})
}
