package message

import (
	"math"
	"strconv"
)

// Kind says which JSON type a Value holds. Integers and floats are separate
// kinds because Python keeps them apart: 41 and 41.0 print differently and
// only an integer is a valid content-length.
type Kind uint8

// The JSON kinds. The zero Value is Null, like Python's None.
const (
	Null Kind = iota
	Bool
	Int
	Float
	String
	Array
	Object
)

var kindNames = [...]string{"null", "bool", "int", "float", "string", "array", "object"}

// String names the kind as JSON does ("object", "string", ...).
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Field is one key of a JSON object. Objects are slices of fields rather than
// maps because the order of keys is part of the wire spelling.
type Field struct {
	Key   string
	Value Value
}

// Value is a JSON value as Python's json module sees it: objects keep their
// key order, and integers keep all their digits (Python's ints are unbounded),
// so a decoded value re-encodes to what Python would write.
//
// Values are immutable once built; the slices returned by Items and Fields
// must not be modified.
type Value struct {
	kind   Kind
	b      bool
	f      float64
	s      string // String: the text; Int: the canonical decimal literal
	items  []Value
	fields []Field
}

// BoolValue returns true or false.
func BoolValue(b bool) Value { return Value{kind: Bool, b: b} }

// IntValue returns an integer.
func IntValue(i int64) Value { return Value{kind: Int, s: strconv.FormatInt(i, 10)} }

// FloatValue returns a float. NaN and the infinities can be held but not
// encoded: Python would write NaN/Infinity, which is not JSON, and our own
// decoder (strict JSON) would reject the frame.
func FloatValue(f float64) Value { return Value{kind: Float, f: f} }

// StringValue returns a string. Invalid UTF-8 is written as U+FFFD, because a
// Python peer can only ever have sent valid text.
func StringValue(s string) Value { return Value{kind: String, s: s} }

// ArrayValue returns a JSON array of items.
func ArrayValue(items ...Value) Value { return Value{kind: Array, items: items} }

// ObjectValue returns a JSON object with the fields in the given order.
// Duplicate keys are refused when encoding, as a Python dict cannot hold them.
func ObjectValue(fields ...Field) Value { return Value{kind: Object, fields: fields} }

// F is shorthand for a Field, for building objects inline.
func F(key string, v Value) Field { return Field{Key: key, Value: v} }

// Kind reports the JSON type of v.
func (v Value) Kind() Kind { return v.kind }

// Text returns the string held by v, and false if v is not a string.
func (v Value) Text() (string, bool) { return v.s, v.kind == String }

// Bool returns the boolean held by v, and false if v is not a boolean.
func (v Value) Bool() (b, ok bool) { return v.b, v.kind == Bool }

// Int returns the integer held by v; ok is false if v is not an integer or
// does not fit in an int64.
func (v Value) Int() (int64, bool) {
	if v.kind != Int {
		return 0, false
	}
	i, err := strconv.ParseInt(v.s, 10, 64)
	return i, err == nil
}

// Float returns v as a float64 for both integer and float kinds, as Python
// arithmetic would; ok is false for other kinds.
func (v Value) Float() (float64, bool) {
	switch v.kind {
	case Float:
		return v.f, true
	case Int:
		f, err := strconv.ParseFloat(v.s, 64)
		if err != nil && !math.IsInf(f, 0) {
			return 0, false
		}
		return f, true
	}
	return 0, false
}

// Items returns the elements of an array (nil for other kinds).
func (v Value) Items() []Value { return v.items }

// Fields returns the keys of an object in order (nil for other kinds).
func (v Value) Fields() []Field { return v.fields }

// Get returns the value of key in an object, like Python's dict.get: the
// zero (null) Value and false when v is not an object or lacks the key.
func (v Value) Get(key string) (Value, bool) {
	if v.kind != Object {
		return Value{}, false
	}
	for i := range v.fields {
		if v.fields[i].Key == key {
			return v.fields[i].Value, true
		}
	}
	return Value{}, false
}

// String returns v spelled as json.dumps(v, ensure_ascii=False) would, or a
// diagnostic if v cannot be encoded; NewJSONMessage reports the error. For
// an integer of any size it is all of its digits.
func (v Value) String() string {
	b, err := v.appendJSONTop(nil)
	if err != nil {
		return "<invalid JSON value: " + err.Error() + ">"
	}
	return string(b)
}
