package loop

// On Linux, SO_REUSEPORT spreads a UDP port's datagrams over the sockets
// bound to it by their source, so ListenPacket gives each loop a socket;
// and recvmmsg takes several datagrams a call, so a loop keeps receive
// buffers for a batch.
const (
	reusePortSpreadsDatagrams = true
	batchedReceive            = true
)
