package bedrock

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
	"unsafe"
)

// Embedding replies are mostly numbers: Titan v2 sends its 1,024 floats twice (embedding and
// embeddingsByType.float), some 20 KB of JSON. encoding/json spent 500 µs of CPU on each, 80% of
// an Embed call's cost in a profile (BENCHMARKS.md): it validates the whole body byte by byte,
// then decodes each number through reflection. These helpers walk an object's top-level fields,
// skip the ones not wanted without decoding them, and parse number arrays straight into float32s.

var errNotJSONObject = errors.New("not a JSON object")

// eachField calls visit with the key and raw value of each field of the JSON object raw, in
// order. Values it does not visit deeper are skipped, not validated: the body comes from Bedrock,
// and what Strata reads from it is parsed strictly. The key shares raw's bytes and is valid only
// during the call: a visitor that keeps it must copy it.
func eachField(raw []byte, visit func(key string, value []byte) error) error {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return errNotJSONObject
	}
	i = skipSpace(raw, i+1)
	if i < len(raw) && raw[i] == '}' {
		return nil
	}
	for i < len(raw) {
		if raw[i] != '"' {
			return fmt.Errorf("a field name expected at byte %d", i)
		}
		end, err := skipValue(raw, i)
		if err != nil {
			return err
		}
		key, err := fieldName(raw[i:end])
		if err != nil {
			return fmt.Errorf("field name at byte %d: %w", i, err)
		}
		i = skipSpace(raw, end)
		if i >= len(raw) || raw[i] != ':' {
			return fmt.Errorf("':' expected at byte %d", i)
		}
		start := skipSpace(raw, i+1)
		end, err = skipValue(raw, start)
		if err != nil {
			return err
		}
		if err := visit(key, raw[start:end]); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		i = skipSpace(raw, end)
		if i < len(raw) && raw[i] == '}' {
			return nil
		}
		if i >= len(raw) || raw[i] != ',' {
			return fmt.Errorf("',' or '}' expected at byte %d", i)
		}
		i = skipSpace(raw, i+1)
	}
	return errors.New("the object is not closed")
}

// fieldName is a quoted field name's text, without a copy when it has no escapes (see eachField).
func fieldName(quoted []byte) (string, error) {
	inner := quoted[1 : len(quoted)-1]
	if !bytes.ContainsRune(inner, '\\') {
		if len(inner) == 0 {
			return "", nil
		}
		return unsafe.String(&inner[0], len(inner)), nil
	}
	var key string
	err := json.Unmarshal(quoted, &key)
	return key, err
}

// jsonString decodes a JSON string value, copying it out of raw.
func jsonString(raw []byte) (string, error) {
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' {
		inner := raw[1 : len(raw)-1]
		if !bytes.ContainsAny(inner, "\\\"") && utf8.Valid(inner) {
			return string(inner), nil
		}
	}
	var s string
	err := json.Unmarshal(raw, &s)
	return s, err
}

// eachElement calls visit with each raw element of the JSON array raw.
func eachElement(raw []byte, visit func(value []byte) error) error {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '[' {
		return errors.New("not a JSON array")
	}
	i = skipSpace(raw, i+1)
	if i < len(raw) && raw[i] == ']' {
		return nil
	}
	for i < len(raw) {
		end, err := skipValue(raw, i)
		if err != nil {
			return err
		}
		if err := visit(raw[i:end]); err != nil {
			return err
		}
		i = skipSpace(raw, end)
		if i < len(raw) && raw[i] == ']' {
			return nil
		}
		if i >= len(raw) || raw[i] != ',' {
			return fmt.Errorf("',' or ']' expected at byte %d", i)
		}
		i = skipSpace(raw, i+1)
	}
	return errors.New("the array is not closed")
}

// parseVector parses a JSON array of numbers into float32s, in one pass.
func parseVector(raw []byte) ([]float32, error) {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '[' {
		return nil, errors.New("not a JSON array")
	}
	out := make([]float32, 0, len(raw)/10) // ~10 bytes a number, as Bedrock writes them
	i = skipSpace(raw, i+1)
	if i < len(raw) && raw[i] == ']' {
		return out, nil
	}
	for i < len(raw) {
		j := i
		for j < len(raw) && (raw[j] >= '0' && raw[j] <= '9' || raw[j] == '-' || raw[j] == '+' || raw[j] == '.' || raw[j] == 'e' || raw[j] == 'E') {
			j++
		}
		if j == i || raw[i] == '+' {
			// Not a JSON number, nor one ParseFloat would take as Inf or NaN.
			return nil, fmt.Errorf("a number expected at byte %d", i)
		}
		// The string shares raw's bytes only for the call: ParseFloat keeps it only in its
		// error, which does not leave this function.
		f, err := strconv.ParseFloat(unsafe.String(&raw[i], j-i), 32)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", string(raw[i:j]))
		}
		out = append(out, float32(f))
		i = skipSpace(raw, j)
		if i < len(raw) && raw[i] == ']' {
			return out, nil
		}
		if i >= len(raw) || raw[i] != ',' {
			return nil, fmt.Errorf("',' or ']' expected at byte %d", i)
		}
		i = skipSpace(raw, i+1)
	}
	return nil, errors.New("the array is not closed")
}

// parseVectors parses a JSON array of number arrays.
func parseVectors(raw []byte) ([][]float32, error) {
	var out [][]float32
	err := eachElement(raw, func(v []byte) error {
		vec, err := parseVector(v)
		out = append(out, vec)
		return err
	})
	return out, err
}

func skipSpace(raw []byte, i int) int {
	for i < len(raw) && (raw[i] == ' ' || raw[i] == '\n' || raw[i] == '\r' || raw[i] == '\t') {
		i++
	}
	return i
}

// skipValue returns the end of the JSON value that starts at raw[i]: a string (escapes
// honoured), an object or array (nesting counted, strings inside skipped whole), or a literal.
func skipValue(raw []byte, i int) (int, error) {
	if i >= len(raw) {
		return 0, errors.New("a value expected at the end")
	}
	switch raw[i] {
	case '"':
		for j := i + 1; j < len(raw); j++ {
			switch raw[j] {
			case '\\':
				j++
			case '"':
				return j + 1, nil
			}
		}
		return 0, errors.New("a string is not closed")
	case '{', '[':
		depth := 0
		for j := i; j < len(raw); j++ {
			switch raw[j] {
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			case '"':
				end, err := skipValue(raw, j)
				if err != nil {
					return 0, err
				}
				j = end - 1
			}
		}
		return 0, errors.New("an object or array is not closed")
	}
	j := i
	for j < len(raw) && raw[j] != ',' && raw[j] != '}' && raw[j] != ']' && raw[j] != ' ' && raw[j] != '\n' && raw[j] != '\r' && raw[j] != '\t' {
		j++
	}
	if j == i {
		return 0, fmt.Errorf("a value expected at byte %d", i)
	}
	return j, nil
}
