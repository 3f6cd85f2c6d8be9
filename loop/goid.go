package loop

import "runtime"

// goid returns the calling goroutine's id, read from the header of its
// stack trace ("goroutine 18 [running]:"). It takes a microsecond or so, so
// it is called where a loop starts and in the calls that must refuse to run
// on a loop (Stop, Listen), never per event. The id is only compared, so a
// header it cannot parse yields 0, which matches no loop: the call then
// behaves as it did before the check existed.
func goid() uint64 {
	var buf [32]byte
	n := runtime.Stack(buf[:], false)
	const prefix = "goroutine "
	if n <= len(prefix) || string(buf[:len(prefix)]) != prefix {
		return 0
	}
	var id uint64
	for _, b := range buf[len(prefix):n] {
		if b < '0' || b > '9' {
			break
		}
		id = id*10 + uint64(b-'0')
	}
	return id
}

// onEngineGoroutine reports whether the caller is one of the engine's loop
// goroutines, or the goroutine that runs Options.OnShutdown: the goroutines
// a call waiting for the loops would wait for itself.
func (e *Engine) onEngineGoroutine() bool {
	id := goid()
	if id == 0 {
		return false
	}
	if e.shutdownGID.Load() == id {
		return true
	}
	for _, l := range e.loops {
		if l.gid.Load() == id {
			return true
		}
	}
	return false
}
