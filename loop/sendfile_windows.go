package loop

import (
	"os"

	"golang.org/x/sys/windows"
)

// dupFile is a handle of f's open file of the loop's own, and its value.
func dupFile(f *os.File) (*os.File, uintptr, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, 0, err
	}
	var h windows.Handle
	var dupErr error
	if err := rc.Control(func(s uintptr) {
		p := windows.CurrentProcess()
		dupErr = windows.DuplicateHandle(p, windows.Handle(s), p, &h, 0, false, windows.DUPLICATE_SAME_ACCESS)
	}); err != nil {
		return nil, 0, err
	}
	if dupErr != nil {
		return nil, 0, os.NewSyscallError("DuplicateHandle", dupErr)
	}
	return os.NewFile(uintptr(h), f.Name()), uintptr(h), nil
}
