// Package msgloop is the message protocol on evsel's loop engine: a Server
// and a Client whose connections each run a state machine of package
// message (message.ServerConn, message.ClientConn). The callbacks here only
// move bytes and time between the engine and the machine — feed it what was
// read, write what it returns, arm a timer for its deadline — so the
// protocol's rules live in one place and a program on another transport gets
// the same behaviour from the same machines.
package msgloop
