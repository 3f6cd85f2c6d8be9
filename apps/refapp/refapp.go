// Package refapp is the reference application of Real Python's
// app-client.py and app-server.py on the message protocol: the requests the
// client builds from its command line, the server's search table and answers,
// and the lines the programs print. They are pure functions over
// message.Message, so app-server and app-client, the benchmark's servers and
// load generator, and the tests all send and expect the same bytes.
package refapp

import (
	"strconv"

	"github.com/evsel/evsel/apps/internal/pyfmt"
	"github.com/evsel/evsel/message"
)

// ActionSearch is the one action the reference server understands.
const ActionSearch = "search"

// The content-types of the reference's binary messages.
const (
	ContentTypeClientBinary = "binary/custom-client-binary-type"
	ContentTypeServerBinary = "binary/custom-server-binary-type"
)

// searchAnswers is the reference server's lookup table.
var searchAnswers = map[string]string{
	"morpheus":   "Follow the white rabbit. \U0001F430",
	"ring":       "In the caves beneath the Misty Mountains. \U0001F48D",
	"\U0001F436": "\U0001F43E Playing ball! \U0001F3D0",
}

// binaryPrefix starts every binary answer; the first 10 bytes of the
// request follow it.
const binaryPrefix = "First 10 bytes of request: "

// SearchAnswer returns the reference server's answer to a search for query.
func SearchAnswer(query string) string {
	if a, ok := searchAnswers[query]; ok {
		return a
	}
	return "No match for '" + query + "'."
}

// ClientRequest returns the request app-client sends for its command line
// arguments: a JSON object {"action": ..., "value": ...} for "search", and
// for any other action a binary message holding the UTF-8 of action+value.
func ClientRequest(action, value string) message.Message {
	if action == ActionSearch {
		m, err := message.NewJSONMessage(message.ObjectValue(
			message.F("action", message.StringValue(action)),
			message.F("value", message.StringValue(value))))
		if err != nil {
			panic("refapp: two strings have no JSON spelling: " + err.Error())
		}
		return m
	}
	return message.NewBinaryMessage(ContentTypeClientBinary, []byte(action+value))
}

// ServerResponse returns app-server's answer to req.
//
// For text/json requests: a search gets {"result": ANSWER} (SearchAnswer);
// any other action gets {"result": "Error: invalid action 'ACTION'."}, ACTION
// formatted as Python's str() would (a missing action is 'None'). Any other
// content-type gets binary/custom-server-binary-type content "First 10 bytes
// of request: " plus those bytes.
//
// The reference crashes on JSON that is not an object, or whose value is not
// a string; we return a *message.ProtocolError for the former and answer
// the latter with "No match for 'STR(VALUE)'.".
//
// Only action and value are built (message.Message.JSONPick); the rest of
// the request is checked and skipped, so what a request costs the server
// does not grow with what else it carries.
func ServerResponse(req message.Message) (message.Message, error) {
	if req.Header.ContentType != message.ContentTypeJSON {
		head := req.Content[:min(10, len(req.Content))]
		content := make([]byte, 0, len(binaryPrefix)+len(head))
		content = append(append(content, binaryPrefix...), head...)
		return message.NewBinaryMessage(ContentTypeServerBinary, content), nil
	}
	v, err := req.JSONPick("action", "value")
	if err != nil {
		return message.Message{}, err
	}
	action, _ := v.Get("action")
	var answer string
	if s, ok := action.Text(); ok && s == ActionSearch {
		query, _ := v.Get("value")
		if q, ok := query.Text(); ok {
			answer = SearchAnswer(q)
		} else {
			answer = "No match for '" + pyfmt.ValueStr(query) + "'."
		}
	} else {
		answer = "Error: invalid action '" + pyfmt.ValueStr(action) + "'."
	}
	return message.NewJSONMessage(message.ObjectValue(message.F("result", message.StringValue(answer))))
}

// ClientResult returns the line app-client prints for a response:
// "Got result: RESULT" for text/json (RESULT as Python's str() of the
// "result" key, None if absent) and "Got response: b'...'" for anything else.
func ClientResult(resp message.Message) (string, error) {
	if resp.Header.ContentType != message.ContentTypeJSON {
		return "Got response: " + pyfmt.Bytes(resp.Content), nil
	}
	v, err := resp.JSONPick("result")
	if err != nil {
		return "", err
	}
	result, _ := v.Get("result")
	return "Got result: " + pyfmt.ValueStr(result), nil
}

// ReceivedShown is the largest JSON content Received shows. Python prints
// any size, but a line that long helps nobody, and building it would cost
// a program that prints more than answering does.
const ReceivedShown = 64 << 10

// Received returns how the reference programs show a message they received,
// what as "request" or "response": "Received request {...}" with the JSON
// content as Python prints the dict, or "Received CONTENT-TYPE request" for
// content that is not JSON (or does not decode within the default
// message.ParseLimits). JSON content longer than ReceivedShown is not
// parsed: "Received request <text/json content of N bytes, not shown>".
func Received(what string, m message.Message) string {
	if m.Header.ContentType == message.ContentTypeJSON && len(m.Content) > ReceivedShown {
		return "Received " + what + " <" + message.ContentTypeJSON + " content of " +
			strconv.Itoa(len(m.Content)) + " bytes, not shown>"
	}
	if m.Header.ContentType == message.ContentTypeJSON {
		if v, err := m.JSON(); err == nil {
			return "Received " + what + " " + pyfmt.Value(v)
		}
	}
	return "Received " + m.Header.ContentType + " " + what
}
