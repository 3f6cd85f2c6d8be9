package evsel

// backends is filled by the init functions of the platform's poller files,
// the default backend first.
var backends []Backend
