package resp

// Type is a RESP reply type, named by the prefix byte that introduces it on the wire.
type Type byte

// The reply types of RESP2 and RESP3, each with its wire format.
const (
	TypeSimpleString Type = '+' // +OK\r\n
	TypeError        Type = '-' // -ERR message\r\n
	TypeInteger      Type = ':' // :42\r\n
	TypeBulkString   Type = '$' // $5\r\nhello\r\n, or $-1\r\n for null (RESP2)
	TypeArray        Type = '*' // *2\r\n<value><value>, or *-1\r\n for null (RESP2)
	TypeNull         Type = '_' // _\r\n
	TypeBoolean      Type = '#' // #t\r\n or #f\r\n
	TypeDouble       Type = ',' // ,3.14\r\n, ,inf\r\n, ,-inf\r\n, ,nan\r\n
	TypeBigNumber    Type = '(' // (3492890328409238509324850943850943825024385\r\n
	TypeBulkError    Type = '!' // !21\r\nSYNTAX invalid syntax\r\n
	TypeVerbatim     Type = '=' // =15\r\ntxt:Some string\r\n
	TypeMap          Type = '%' // %2\r\n<key><value><key><value>
	TypeSet          Type = '~' // ~2\r\n<value><value>
	TypeAttribute    Type = '|' // |1\r\n<key><value> then the value it annotates
	TypePush         Type = '>' // >2\r\n<value><value>, out of band
)

// String returns the name of the type, such as "bulk string", or its prefix byte when
// the type is unknown.
func (t Type) String() string {
	switch t {
	case TypeSimpleString:
		return "simple string"
	case TypeError:
		return "error"
	case TypeInteger:
		return "integer"
	case TypeBulkString:
		return "bulk string"
	case TypeArray:
		return "array"
	case TypeNull:
		return "null"
	case TypeBoolean:
		return "boolean"
	case TypeDouble:
		return "double"
	case TypeBigNumber:
		return "big number"
	case TypeBulkError:
		return "bulk error"
	case TypeVerbatim:
		return "verbatim string"
	case TypeMap:
		return "map"
	case TypeSet:
		return "set"
	case TypeAttribute:
		return "attribute"
	case TypePush:
		return "push"
	}
	return "type " + quote([]byte{byte(t)})
}

// Value is one decoded reply. Which fields are set depends on Type; the others stay zero.
type Value struct {
	// Type is the reply type as it came on the wire.
	Type Type
	// Null is true for $-1 and *-1 (Type stays TypeBulkString or TypeArray) and for _
	// (TypeNull).
	Null bool
	// Str holds the text of a simple string, bulk string, error, bulk error, big number
	// (its digits, with any sign), double (as the server wrote it) or verbatim string
	// (without the "txt:" part).
	Str string
	// Format is the three-byte format of a verbatim string, e.g. "txt" or "mkd".
	Format string
	// Int is the value of an integer.
	Int int64
	// Float is the value of a double, including ±Inf and NaN.
	Float float64
	// Bool is the value of a boolean.
	Bool bool
	// Elems holds the elements of an array, set or push, and the keys and values of a
	// map or attribute interleaved: k1, v1, k2, v2, ...
	Elems []Value
	// Attrs holds the key/value pairs (k1, v1, ...) of the attributes that came on the
	// wire immediately before this value, if any.
	Attrs []Value
}
