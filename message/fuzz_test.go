package message

import (
	"bytes"
	"errors"
	"testing"

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

// decodeStream feeds a Stream in chunks of 7 bytes.
func decodeStream(data []byte) decoded {
	var s Stream
	var out decoded
	for len(data) > 0 {
		k := min(7, len(data))
		s.Feed(data[:k])
		data = data[k:]
		for {
			m, ok, err := s.Next()
			if err != nil {
				out.err = err
				out.rest = s.Buffered() + len(data)
				return out
			}
			if !ok {
				break
			}
			m.Content = bytes.Clone(m.Content)
			out.msgs = append(out.msgs, m)
		}
	}
	out.rest = s.Buffered()
	return out
}

func FuzzDecoder(f *testing.F) {
	// More seeds live in testdata/fuzz/FuzzDecoder; these keep the golden
	// exchanges in the corpus as they are regenerated.
	for _, c := range loadGolden(f) {
		f.Add(c.request)
		f.Add(append(append([]byte{}, c.request...), c.resp...))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		whole := decodeWhole(data)
		for _, other := range []decoded{decodeBytewise(data), decodeStream(data)} {
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

			// The content helpers and the app logic never panic, and what
			// they answer can be sent.
			if v, err := m.JSON(); err == nil {
				_ = v.PyRepr()
				_ = v.String()
			}
			_ = m.Header.Object().PyRepr()
			if resp, err := ServerResponse(m); err == nil {
				_, err := resp.AppendFrame(nil)
				require.NoError(t, err)
				_, err = ClientResult(resp)
				require.NoError(t, err)
			}
			_, _ = ClientResult(m)
			_ = PyBytesRepr(m.Content)
		}
	})
}
