//go:build unix && !(darwin || linux || openbsd)

package evsel

import "golang.org/x/sys/unix"

// sysWritev writes buffer by buffer where x/sys has no writev; it stops at
// the first short write, as writev would.
func sysWritev(fd int, bufs [][]byte) (int, error) {
	total := 0
	for _, b := range bufs {
		n, err := unix.Write(fd, b)
		if n > 0 {
			total += n
		}
		if err != nil {
			if total > 0 {
				return total, nil
			}
			return 0, err
		}
		if n < len(b) {
			break
		}
	}
	return total, nil
}
