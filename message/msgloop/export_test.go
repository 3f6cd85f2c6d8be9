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
