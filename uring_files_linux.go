package evsel

import "unsafe"

// Registered files. Without them, every receive and send the kernel runs
// looks its descriptor up in the process's table and takes a reference to
// the file (fget), then drops it: a cache miss on the table and an atomic
// on the file per operation, which at thousands of connections costs more
// than the receive's own bookkeeping. A file installed in the ring's own
// table is referenced once, when it is installed (IOSQE_FIXED_FILE).
//
// The binding keeps it invisible to callers: slot i of the table holds
// descriptor i, so an SQE's fd field means the same with and without the
// flag, and the builders of receives and sends set the flag themselves
// for a descriptor that is installed. The caller may install a descriptor
// at any time (the requests queued after it use the table) and must remove
// it before closing it: the table's reference keeps the socket open after
// close(2) otherwise.
// Requests in flight hold their own reference, so removing a file does
// not disturb them, and cancelling by descriptor (PrepCancelFd) matches
// them either way: both tables point to the same file.

const (
	uringRegisterFiles2      = 13 // IORING_REGISTER_FILES2
	uringRegisterFilesUpdate = 6  // IORING_REGISTER_FILES_UPDATE
	uringRsrcRegisterSparse  = 1 << 0
	uringSQEFixedFile        = 1 << 0
	// uringMaxFileTable bounds the table: the kernel keeps a pointer and a
	// bit per slot, so 16 Ki slots cost 130 KiB of kernel memory per ring
	// however few are used. Descriptors past the table are served unfixed.
	uringMaxFileTable = 16 << 10
)

// uringRsrcRegister is struct io_uring_rsrc_register.
type uringRsrcRegister struct {
	nr    uint32
	flags uint32
	_     uint64
	data  uint64
	tags  uint64
}

// uringFilesUpdate is struct io_uring_files_update.
type uringFilesUpdate struct {
	offset uint32
	_      uint32
	fds    uint64 // *int32
}

// RegisterFiles gives the ring an empty table of registered files with a
// slot for every descriptor below n (at most the open-file limit, which the
// kernel enforces, and 16 Ki). It fails on kernels before 5.19, which have
// no sparse tables; the ring then works as before, unfixed.
func (r *Uring) RegisterFiles(n int) error {
	n = min(n, uringMaxFileTable)
	reg := uringRsrcRegister{nr: uint32(n), flags: uringRsrcRegisterSparse}
	if err := r.register(uringRegisterFiles2, unsafe.Pointer(&reg), unsafe.Sizeof(reg)); err != nil {
		return wrapErr("io_uring_register files", err)
	}
	r.files = make([]uint64, (n+63)/64)
	r.fileSlots = n
	return nil
}

// InstallFile puts descriptor fd in the registered file table, so that the
// receives and sends queued on it from now on skip the process's table. It
// reports whether it did: false without a table, for a descriptor past it,
// or when the kernel refused (the descriptor is then served as before).
func (r *Uring) InstallFile(fd int) bool {
	if fd < 0 || fd >= r.fileSlots {
		return false
	}
	if r.Installed(fd) {
		return true
	}
	if r.updateFile(fd, int32(fd)) != nil {
		return false
	}
	r.files[fd/64] |= 1 << (fd % 64)
	return true
}

// RemoveFile takes descriptor fd out of the registered file table, if it is
// there; call it before closing fd. Requests in flight on fd keep their own
// reference and complete as they would have.
func (r *Uring) RemoveFile(fd int) error {
	if !r.Installed(fd) {
		return nil
	}
	// The bit goes only once the kernel let go: a failed removal is still
	// installed, and a later call tries again.
	if err := r.updateFile(fd, -1); err != nil {
		return err
	}
	r.files[fd/64] &^= 1 << (fd % 64)
	return nil
}

// Installed reports whether fd is in the registered file table.
func (r *Uring) Installed(fd int) bool {
	return fd >= 0 && fd < r.fileSlots && r.files[fd/64]&(1<<(fd%64)) != 0
}

func (r *Uring) updateFile(slot int, fd int32) error {
	// The kernel reads both during the call. They are the Uring's fields,
	// not locals: the update holds the descriptor's address as an integer,
	// which a goroutine stack's move would not follow.
	r.fileFd = fd
	r.fileUpdate = uringFilesUpdate{offset: uint32(slot), fds: uint64(uintptr(unsafe.Pointer(&r.fileFd)))}
	if err := r.register(uringRegisterFilesUpdate, unsafe.Pointer(&r.fileUpdate), 1); err != nil {
		return wrapErr("io_uring_register files update", err)
	}
	return nil
}

// fixFile marks sqe, a request on fd, as using the registered file.
func (r *Uring) fixFile(sqe *uringSQE, fd int) {
	if r.Installed(fd) {
		sqe.flags |= uringSQEFixedFile
	}
}
