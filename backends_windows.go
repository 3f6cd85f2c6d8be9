package evsel

// Windows has no poll(2) on sockets that scales or reports errors reliably
// (WSAPoll), so IOCP with AFD polling is the only backend.
var backends = [...]backend{
	{"iocp", newIOCPPoller},
}
