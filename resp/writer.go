package resp

import (
	"math"
	"strconv"
)

// AppendCommand appends a command to dst as a RESP array of bulk strings, the form every
// Redis command takes on the wire, and returns the extended buffer. It allocates nothing
// when dst has room.
func AppendCommand(dst []byte, args ...string) []byte {
	dst = AppendArray(dst, len(args))
	for _, a := range args {
		dst = AppendBulkString(dst, a)
	}
	return dst
}

// AppendArray appends the header of an array of n elements ("*n\r\n"); the caller
// appends the n elements after it.
func AppendArray(dst []byte, n int) []byte {
	return appendHeader(dst, TypeArray, int64(n))
}

// AppendBulkString appends s as a bulk string ("$len\r\ns\r\n").
func AppendBulkString(dst []byte, s string) []byte {
	dst = appendHeader(dst, TypeBulkString, int64(len(s)))
	dst = append(dst, s...)
	return append(dst, '\r', '\n')
}

// AppendBulk appends b as a bulk string ("$len\r\nb\r\n").
func AppendBulk(dst []byte, b []byte) []byte {
	dst = appendHeader(dst, TypeBulkString, int64(len(b)))
	dst = append(dst, b...)
	return append(dst, '\r', '\n')
}

// AppendBulkInt appends n in decimal as a bulk string, the form an integer argument
// takes in a command (the 60 of SET key value EX 60).
func AppendBulkInt(dst []byte, n int64) []byte {
	var digits [20]byte
	d := strconv.AppendInt(digits[:0], n, 10)
	return AppendBulk(dst, d)
}

// AppendValue appends v in RESP3 (types that RESP2 also has come out in their RESP2
// form, e.g. a null bulk string as "$-1\r\n"), preceded by its attributes if it has
// any. It is meant for test servers and round-trip tests. Simple strings and errors
// have CR and LF replaced by spaces, as Redis does, so the output stays well-formed; a
// double is written from Float, not Str; a verbatim string without a three-byte Format
// gets "txt"; a map or attribute with an odd number of Elems drops the last one; a
// TypeAttribute value is written as an attribute alone, annotating whatever is appended
// next; an unknown Type is written as a null.
func AppendValue(dst []byte, v Value) []byte {
	if len(v.Attrs) > 0 {
		dst = appendPairs(dst, TypeAttribute, v.Attrs)
	}
	switch v.Type {
	case TypeSimpleString, TypeError:
		dst = append(dst, byte(v.Type))
		dst = appendLineText(dst, v.Str)
		return append(dst, '\r', '\n')
	case TypeInteger:
		dst = append(dst, byte(TypeInteger))
		dst = strconv.AppendInt(dst, v.Int, 10)
		return append(dst, '\r', '\n')
	case TypeBulkString, TypeBulkError:
		if v.Null && v.Type == TypeBulkString {
			return append(dst, "$-1\r\n"...)
		}
		dst = appendHeader(dst, v.Type, int64(len(v.Str)))
		dst = append(dst, v.Str...)
		return append(dst, '\r', '\n')
	case TypeVerbatim:
		format := v.Format
		if len(format) != 3 {
			format = "txt"
		}
		dst = appendHeader(dst, TypeVerbatim, int64(4+len(v.Str)))
		dst = append(dst, format...)
		dst = append(dst, ':')
		dst = append(dst, v.Str...)
		return append(dst, '\r', '\n')
	case TypeBoolean:
		if v.Bool {
			return append(dst, "#t\r\n"...)
		}
		return append(dst, "#f\r\n"...)
	case TypeDouble:
		dst = append(dst, byte(TypeDouble))
		switch {
		case math.IsInf(v.Float, 1):
			dst = append(dst, "inf"...)
		case math.IsInf(v.Float, -1):
			dst = append(dst, "-inf"...)
		case math.IsNaN(v.Float):
			dst = append(dst, "nan"...)
		default:
			dst = strconv.AppendFloat(dst, v.Float, 'g', -1, 64)
		}
		return append(dst, '\r', '\n')
	case TypeBigNumber:
		dst = append(dst, byte(TypeBigNumber))
		dst = appendLineText(dst, v.Str)
		return append(dst, '\r', '\n')
	case TypeArray, TypeSet, TypePush:
		if v.Null && v.Type == TypeArray {
			return append(dst, "*-1\r\n"...)
		}
		dst = appendHeader(dst, v.Type, int64(len(v.Elems)))
		for _, e := range v.Elems {
			dst = AppendValue(dst, e)
		}
		return dst
	case TypeMap, TypeAttribute:
		return appendPairs(dst, v.Type, v.Elems)
	}
	return append(dst, "_\r\n"...)
}

// appendPairs appends a map or attribute of the key/value pairs in elems.
func appendPairs(dst []byte, t Type, elems []Value) []byte {
	n := len(elems) / 2
	dst = appendHeader(dst, t, int64(n))
	for _, e := range elems[:2*n] {
		dst = AppendValue(dst, e)
	}
	return dst
}

// appendHeader appends a prefix byte, a length and CRLF.
func appendHeader(dst []byte, t Type, n int64) []byte {
	dst = append(dst, byte(t))
	dst = strconv.AppendInt(dst, n, 10)
	return append(dst, '\r', '\n')
}

// appendLineText appends s with CR and LF replaced by spaces, so it fits on one line.
func appendLineText(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		dst = append(dst, c)
	}
	return dst
}
