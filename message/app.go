package message

// The reference application, as pure functions over Messages, so that the
// blocking app-client/app-server programs and the event-loop server answer
// with the same bytes and print the same lines.

// ActionSearch is the one action the reference server understands.
const ActionSearch = "search"

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
func ClientRequest(action, value string) Message {
	if action == ActionSearch {
		content := make([]byte, 0, 32+len(value))
		content = append(content, `{"action": `...)
		content = appendPyString(content, action)
		content = append(content, `, "value": `...)
		content = appendPyString(content, value)
		content = append(content, '}')
		m := NewBinaryMessage(ContentTypeJSON, content)
		m.Header.ContentEncoding = EncodingUTF8
		return m
	}
	return NewBinaryMessage(ContentTypeClientBinary, []byte(action+value))
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
// a string; we return a *ProtocolError for the former and answer the latter
// with "No match for 'STR(VALUE)'.".
func ServerResponse(req Message) (Message, error) {
	if req.Header.ContentType != ContentTypeJSON {
		head := req.Content[:min(10, len(req.Content))]
		content := make([]byte, 0, len(binaryPrefix)+len(head))
		content = append(append(content, binaryPrefix...), head...)
		return NewBinaryMessage(ContentTypeServerBinary, content), nil
	}
	v, err := req.JSON()
	if err != nil {
		return Message{}, err
	}
	if v.Kind() != Object {
		return Message{}, protoErr(CodeContentNotObject, "", -1, "request is a JSON "+v.Kind().String())
	}
	action, _ := v.Get("action")
	var answer string
	if s, ok := action.Text(); ok && s == ActionSearch {
		query, _ := v.Get("value")
		if q, ok := query.Text(); ok {
			answer = SearchAnswer(q)
		} else {
			answer = "No match for '" + query.PyStr() + "'."
		}
	} else {
		answer = "Error: invalid action '" + action.PyStr() + "'."
	}
	return NewJSONMessage(ObjectValue(F("result", StringValue(answer))))
}

// ClientResult returns the line app-client prints for a response:
// "Got result: RESULT" for text/json (RESULT as Python's str() of the
// "result" key, None if absent) and "Got response: b'...'" for anything else.
func ClientResult(resp Message) (string, error) {
	if resp.Header.ContentType != ContentTypeJSON {
		return string(AppendPyBytesRepr([]byte("Got response: "), resp.Content)), nil
	}
	v, err := resp.JSON()
	if err != nil {
		return "", err
	}
	if v.Kind() != Object {
		return "", protoErr(CodeContentNotObject, "", -1, "response is a JSON "+v.Kind().String())
	}
	result, _ := v.Get("result")
	return "Got result: " + result.PyStr(), nil
}
