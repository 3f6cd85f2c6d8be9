package loop

import "iter"

// fdTable finds a loop's connections by descriptor, for the poller's
// reports. It holds *Conn itself, so a ready descriptor costs one index and
// no type switch, and a connection nothing beyond its slot.
type fdTable struct {
	direct []*Conn       // fd -> connection for fd < fdDirect
	far    map[int]*Conn // the rest: rare on unix, usual for Windows handles
}

// fdDirect bounds the descriptors kept in the slice.
const fdDirect = 1 << 16

func (t *fdTable) get(fd int) *Conn {
	if uint(fd) < uint(len(t.direct)) {
		return t.direct[fd]
	}
	if fd < fdDirect {
		return nil
	}
	return t.far[fd]
}

// set maps fd to c, or forgets fd if c is nil.
func (t *fdTable) set(fd int, c *Conn) {
	if fd >= fdDirect || fd < 0 {
		switch {
		case c != nil && t.far == nil:
			t.far = map[int]*Conn{fd: c}
		case c != nil:
			t.far[fd] = c
		default:
			delete(t.far, fd)
		}
		return
	}
	if fd >= len(t.direct) {
		if c == nil {
			return
		}
		grown := make([]*Conn, max(fd+1, 2*len(t.direct), 64))
		copy(grown, t.direct)
		t.direct = grown
	}
	t.direct[fd] = c
}

// all iterates over the connections; closing them meanwhile is allowed.
func (t *fdTable) all() iter.Seq[*Conn] {
	return func(yield func(*Conn) bool) {
		for _, c := range t.direct {
			if c != nil && !yield(c) {
				return
			}
		}
		for _, c := range t.far {
			if !yield(c) {
				return
			}
		}
	}
}
