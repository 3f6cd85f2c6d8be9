package evsel

import (
	"errors"
	"os"
)

// Taking over a SOCKET needs WSADuplicateSocket and a check that no other
// completion port owns it; evsel does not do that yet, so adoption is
// refused on Windows.

func socketFromFD(uintptr) (*Socket, error) { return nil, errors.ErrUnsupported }

func dupSocket(uintptr) (*Socket, error) { return nil, errors.ErrUnsupported }

// Listening reports whether the socket accepts connections. On Windows it
// always reports false: see SocketFromFD.
func (s *Socket) Listening() bool { return false }

// File is not supported on Windows (errors.ErrUnsupported): see
// SocketFromFD.
func (s *Socket) File() (*os.File, error) { return nil, errors.ErrUnsupported }
