package message

// stack holds the elements of the arrays (or objects) a parser has open, so
// that each one ends in a slice of exactly its length. Appending to a slice
// per array instead allocates about five times the final size on the way
// (Go grows large slices by a quarter), which for [0,0,0,...] made the
// garbage dominate the cost. The stack grows in chunks, never copying, and
// is shared by all arrays of a parse, so the garbage is at most one copy of
// the largest array, in chunks. It lives as long as one parse, so what it
// still references after a pop needs no clearing.
type stack[T any] struct {
	chunks [][]T
	base   []int // the stack index of each chunk's first element
	top    int   // the chunk being filled
	n      int   // elements held
}

// The first chunk is small so a small document stays cheap; chunks double
// up to a size past which doubling saves nothing.
const (
	firstChunk = 8
	maxChunk   = 1024
)

func (s *stack[T]) push(v T) {
	if len(s.chunks) == 0 {
		s.chunks = append(s.chunks, make([]T, 0, firstChunk))
		s.base = append(s.base, 0)
	}
	c := &s.chunks[s.top]
	if len(*c) == cap(*c) {
		s.top++
		if s.top == len(s.chunks) {
			s.chunks = append(s.chunks, make([]T, 0, min(2*cap(*c), maxChunk)))
			s.base = append(s.base, s.n)
		}
		c = &s.chunks[s.top]
		*c = (*c)[:0]
	}
	*c = append(*c, v)
	s.n++
}

// pop removes the elements from index mark on and returns them in a new
// slice of their exact length.
func (s *stack[T]) pop(mark int) []T {
	out := make([]T, s.n-mark)
	i := s.top
	for i > 0 && s.base[i] > mark {
		i--
	}
	first := i
	for at := 0; i <= s.top; i++ {
		c := s.chunks[i]
		if i == first {
			c = c[mark-s.base[i]:]
		}
		at += copy(out[at:], c)
	}
	if len(s.chunks) > 0 {
		s.top = first
		s.chunks[first] = s.chunks[first][:mark-s.base[first]]
	}
	s.n = mark
	return out
}

// at returns the element at stack index i, which must be held; it looks
// from the top, where an open object's fields are.
func (s *stack[T]) at(i int) *T {
	c := s.top
	for s.base[c] > i {
		c--
	}
	return &s.chunks[c][i-s.base[c]]
}
