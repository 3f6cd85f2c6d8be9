package msgloop

// WaitingCap is the capacity of cc's queue of waiting requests, read on
// the connection's loop.
func (cc *ClientConn) WaitingCap() int {
	ch := make(chan int, 1)
	if err := cc.c.Loop().Do(func() { ch <- cap(cc.waiting) }); err != nil {
		return -1
	}
	return <-ch
}

// ResponseTimerArmed reports whether cc's response timeout is scheduled,
// read on the connection's loop.
func (cc *ClientConn) ResponseTimerArmed() bool {
	ch := make(chan bool, 1)
	if err := cc.c.Loop().Do(func() { ch <- cc.timer != nil && cc.timer.Active() }); err != nil {
		return false
	}
	return <-ch
}
