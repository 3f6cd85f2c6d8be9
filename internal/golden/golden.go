// Package golden loads the golden exchanges of the message protocol, the
// frames and printed lines that message/testdata/gen_golden.py writes from
// Python's own json.dumps and repr, for the tests of every package that
// must agree with them: the codec (message), its engine bindings
// (message/msgloop) and the reference application (apps/refapp).
package golden

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Case is one exchange of testdata/golden/cases.json.
type Case struct {
	Name string `json:"name"`
	// ClientArgs are app-client's action and value for the request, or nil
	// when the reference client cannot send it.
	ClientArgs []string `json:"client_args"`
	// SendingRepr is repr() of the request frame, as app-client prints it.
	SendingRepr string `json:"sending_repr"`
	// ResponseRepr is repr() of the response frame, as app-server prints it.
	ResponseRepr string `json:"response_repr"`
	// ReceivedLine starts app-client's "Received ..." line.
	ReceivedLine string `json:"received_line"`
	// ResultLine is app-client's last line but one.
	ResultLine string `json:"result_line"`
	// Request and Response are the frames, byte for byte.
	Request, Response []byte `json:"-"`
}

// Load reads the cases from dir (message/testdata/golden, relative to the
// calling test's package), failing t if anything is missing or if a
// frame's .hex file, the one a reviewer reads, disagrees with its .bin.
func Load(t testing.TB, dir string) []Case {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []Case
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatal("golden: no cases in", dir)
	}
	for i := range cases {
		cases[i].Request = Frame(t, dir, cases[i].Name+".req")
		cases[i].Response = Frame(t, dir, cases[i].Name+".resp")
	}
	return cases
}

// Frame reads dir/NAME.bin and checks that dir/NAME.hex says the same.
func Frame(t testing.TB, dir, name string) []byte {
	t.Helper()
	bin, err := os.ReadFile(filepath.Join(dir, name+".bin"))
	if err != nil {
		t.Fatal(err)
	}
	hx, err := os.ReadFile(filepath.Join(dir, name+".hex"))
	if err != nil {
		t.Fatal(err)
	}
	fromHex, err := hex.DecodeString(strings.ReplaceAll(string(hx), "\n", ""))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bin, fromHex) {
		t.Fatalf("golden: %s.hex and %s.bin differ", name, name)
	}
	return bin
}
