package emulator

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"regexp/syntax"
	"slices"
	"strings"
)

// schemaValue generates a value that satisfies a JSON Schema (the subset tools and structured
// output use: type, properties, required, items, enum, const, anyOf/oneOf/allOf, $ref into
// $defs/definitions, string lengths and formats, numeric bounds, array sizes).
type schemaValue struct {
	rng  *rand.Rand
	root map[string]any
}

const maxSchemaDepth = 8

func generateFromSchema(rng *rand.Rand, schema map[string]any) any {
	g := &schemaValue{rng: rng, root: schema}
	return g.value(schema, "", 0)
}

func (g *schemaValue) value(s map[string]any, name string, depth int) any {
	if s == nil || depth > maxSchemaDepth {
		return nil
	}
	if ref, ok := s["$ref"].(string); ok {
		return g.value(g.resolve(ref), name, depth+1)
	}
	if c, ok := s["const"]; ok {
		return c
	}
	if enum, ok := s["enum"].([]any); ok && len(enum) > 0 {
		return enum[g.rng.IntN(len(enum))]
	}
	for _, key := range []string{"anyOf", "oneOf"} {
		if opts, ok := s[key].([]any); ok && len(opts) > 0 {
			// Prefer a non-null branch: a null is valid but says nothing.
			for _, o := range opts {
				if om, ok := o.(map[string]any); ok && om["type"] != "null" {
					return g.value(om, name, depth+1)
				}
			}
			om, _ := opts[0].(map[string]any)
			return g.value(om, name, depth+1)
		}
	}
	if all, ok := s["allOf"].([]any); ok && len(all) > 0 {
		merged := map[string]any{}
		for _, part := range all {
			if pm, ok := part.(map[string]any); ok {
				mergeSchema(merged, pm)
			}
		}
		return g.value(merged, name, depth+1)
	}
	switch schemaType(s) {
	case "object":
		return g.object(s, depth)
	case "array":
		return g.array(s, name, depth)
	case "integer":
		return g.integer(s)
	case "number":
		return g.number(s)
	case "boolean":
		return g.rng.IntN(2) == 1
	case "null":
		return nil
	default:
		return g.str(s, name)
	}
}

// schemaType returns the schema's type, the first non-null one when it lists several.
func schemaType(s map[string]any) string {
	switch t := s["type"].(type) {
	case string:
		return t
	case []any:
		for _, v := range t {
			if ts, ok := v.(string); ok && ts != "null" {
				return ts
			}
		}
		return "null"
	}
	if _, ok := s["properties"]; ok {
		return "object"
	}
	if _, ok := s["items"]; ok {
		return "array"
	}
	return "string"
}

func mergeSchema(dst, src map[string]any) {
	for k, v := range src {
		switch k {
		case "properties":
			props, _ := dst[k].(map[string]any)
			if props == nil {
				props = map[string]any{}
			}
			if sp, ok := v.(map[string]any); ok {
				for pk, pv := range sp {
					props[pk] = pv
				}
			}
			dst[k] = props
		case "required":
			req, _ := dst[k].([]any)
			if sr, ok := v.([]any); ok {
				req = append(req, sr...)
			}
			dst[k] = req
		default:
			dst[k] = v
		}
	}
}

func (g *schemaValue) resolve(ref string) map[string]any {
	for _, prefix := range []string{"#/$defs/", "#/definitions/"} {
		if name, ok := strings.CutPrefix(ref, prefix); ok {
			defs, _ := g.root[strings.TrimSuffix(strings.TrimPrefix(prefix, "#/"), "/")].(map[string]any)
			d, _ := defs[name].(map[string]any)
			return d
		}
	}
	if ref == "#" {
		return g.root
	}
	return nil
}

func (g *schemaValue) object(s map[string]any, depth int) map[string]any {
	out := map[string]any{}
	props, _ := s["properties"].(map[string]any)
	required := map[string]bool{}
	if req, ok := s["required"].([]any); ok {
		for _, r := range req {
			if rs, ok := r.(string); ok {
				required[rs] = true
			}
		}
	}
	names := make([]string, 0, len(props))
	for k := range props {
		names = append(names, k)
	}
	slices.Sort(names) // map order is random; the reply must not be
	for _, k := range names {
		// Every required property, and most optional ones, as a model fills them.
		if !required[k] && g.rng.IntN(4) == 0 {
			continue
		}
		ps, _ := props[k].(map[string]any)
		out[k] = g.value(ps, k, depth+1)
	}
	return out
}

func (g *schemaValue) array(s map[string]any, name string, depth int) []any {
	// minItems defaults to 1 only where maxItems allows it: "maxItems": 0 means an empty array.
	hi := intBound(s, "maxItems", 3)
	lo := intBound(s, "minItems", min(1, hi))
	if lo > hi {
		hi = lo
	}
	n := lo + g.rng.IntN(hi-lo+1)
	items, _ := s["items"].(map[string]any)
	unique, _ := s["uniqueItems"].(bool)
	out := make([]any, 0, n)
	// Under uniqueItems a value equal to one already drawn is drawn again, a bounded number of
	// times: an enum or a narrow integer range may hold fewer distinct values than n.
	for tries := 0; len(out) < n && tries < 4*n+8; tries++ {
		v := g.value(items, name, depth+1)
		if unique && slices.ContainsFunc(out, func(d any) bool { return sameJSON(d, v) }) {
			continue
		}
		out = append(out, v)
	}
	return out
}

// sameJSON reports whether two generated values are the same JSON value (uniqueItems' equality:
// 1 and 1.0 are equal, object keys are unordered).
func sameJSON(a, b any) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}

func (g *schemaValue) integer(s map[string]any) int {
	b := readBounds(s)
	l, h := 0, 100
	switch {
	case b.hasLo && b.hasHi:
		l, h = intAbove(b.lo, b.loExcl), intBelow(b.hi, b.hiExcl)
	case b.hasLo:
		l = intAbove(b.lo, b.loExcl)
		h = l + 100
	case b.hasHi:
		h = intBelow(b.hi, b.hiExcl)
		l = min(0, h-100)
	}
	if h < l {
		return l
	}
	return l + g.rng.IntN(h-l+1)
}

// intAbove is the least integer allowed by a lower bound; intBelow the greatest below an upper one.
func intAbove(lo float64, exclusive bool) int {
	if exclusive {
		return int(math.Floor(lo)) + 1
	}
	return int(math.Ceil(lo))
}

func intBelow(hi float64, exclusive bool) int {
	if exclusive {
		return int(math.Ceil(hi)) - 1
	}
	return int(math.Floor(hi))
}

func (g *schemaValue) number(s map[string]any) float64 {
	b := readBounds(s)
	lo, hi := 0.0, 100.0
	switch {
	case b.hasLo && b.hasHi:
		lo, hi = b.lo, b.hi
	case b.hasLo:
		lo, hi = b.lo, b.lo+100
	case b.hasHi:
		lo, hi = min(0, b.hi-100), b.hi
	}
	if hi <= lo {
		return lo
	}
	// Strictly inside the range, so exclusive bounds hold too; two decimals, as a model writes
	// numbers, unless rounding would leave a narrow range.
	v := lo + (0.05+0.9*g.rng.Float64())*(hi-lo)
	if r := math.Round(v*100) / 100; r > lo && r < hi {
		return r
	}
	return v
}

// bounds are a numeric schema's minimum and maximum, inclusive or exclusive.
type bounds struct {
	lo, hi         float64
	hasLo, hasHi   bool
	loExcl, hiExcl bool
}

func readBounds(s map[string]any) bounds {
	var b bounds
	b.lo, b.hasLo = s["minimum"].(float64)
	b.hi, b.hasHi = s["maximum"].(float64)
	if v, ok := s["exclusiveMinimum"].(float64); ok && (!b.hasLo || v >= b.lo) {
		b.lo, b.hasLo, b.loExcl = v, true, true
	}
	if v, ok := s["exclusiveMaximum"].(float64); ok && (!b.hasHi || v <= b.hi) {
		b.hi, b.hasHi, b.hiExcl = v, true, true
	}
	return b
}

func intBound(s map[string]any, key string, def int) int {
	if v, ok := s[key].(float64); ok && v >= 0 {
		return int(v)
	}
	return def
}

// stringsByFormat are values that satisfy the common string formats.
var stringsByFormat = map[string]string{
	"date-time": "2026-01-15T09:30:00Z",
	"date":      "2026-01-15",
	"time":      "09:30:00Z",
	"email":     "user@example.com",
	"uri":       "https://example.com/resource",
	"url":       "https://example.com/resource",
	"uuid":      "3f2b8c1e-7d4a-4e6b-9a51-2c8d0e4f6a7b",
	"hostname":  "example.com",
	"ipv4":      "192.0.2.1",
	"ipv6":      "2001:db8::1",
	"duration":  "PT1H30M",
	// The rest of JSON Schema's formats, so none falls back to a random word.
	"uri-reference":         "/resource",
	"iri":                   "https://example.com/resource",
	"iri-reference":         "/resource",
	"idn-email":             "user@example.com",
	"idn-hostname":          "example.com",
	"uri-template":          "https://example.com/{id}",
	"json-pointer":          "/a/b",
	"relative-json-pointer": "0/a",
	"regex":                 "^[a-z]+$",
}

func (g *schemaValue) str(s map[string]any, name string) string {
	if f, ok := s["format"].(string); ok {
		if v, ok := stringsByFormat[f]; ok {
			return v
		}
	}
	if p, ok := s["pattern"].(string); ok {
		if v, ok := g.fromPattern(p); ok {
			return v
		}
	}
	minLen, maxLen := intBound(s, "minLength", 0), intBound(s, "maxLength", 64)
	v := words[g.rng.IntN(len(words))]
	if name != "" && g.rng.IntN(2) == 0 {
		v = name + " " + v
	}
	for len(v) < minLen {
		v += " " + words[g.rng.IntN(len(words))]
	}
	if len(v) > maxLen {
		v = v[:maxLen]
	}
	return v
}

// fromPattern generates a string that the regular expression matches, as a model asked for a
// currency code or a zip code writes one. It reports false for a pattern Go cannot parse.
func (g *schemaValue) fromPattern(pattern string) (string, bool) {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return "", false
	}
	var b strings.Builder
	g.regexp(&b, re.Simplify(), 0)
	return b.String(), true
}

func (g *schemaValue) regexp(b *strings.Builder, re *syntax.Regexp, depth int) {
	if depth > 32 {
		return
	}
	repeat := func(lo, hi int) {
		if hi < 0 || hi > lo+3 {
			hi = lo + 3
		}
		for range lo + g.rng.IntN(hi-lo+1) {
			g.regexp(b, re.Sub[0], depth+1)
		}
	}
	switch re.Op {
	case syntax.OpLiteral:
		b.WriteString(string(re.Rune))
	case syntax.OpCharClass:
		b.WriteRune(g.classRune(re.Rune))
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		b.WriteByte('x')
	case syntax.OpCapture:
		g.regexp(b, re.Sub[0], depth+1)
	case syntax.OpStar:
		repeat(0, 2)
	case syntax.OpPlus:
		repeat(1, 3)
	case syntax.OpQuest:
		repeat(0, 1)
	case syntax.OpRepeat:
		repeat(re.Min, re.Max)
	case syntax.OpConcat:
		for _, sub := range re.Sub {
			g.regexp(b, sub, depth+1)
		}
	case syntax.OpAlternate:
		g.regexp(b, re.Sub[g.rng.IntN(len(re.Sub))], depth+1)
	}
	// Anchors, word boundaries and empty matches write nothing.
}

// classRune picks a rune from a character class's ranges, printable ASCII where the class has any.
func (g *schemaValue) classRune(ranges []rune) rune {
	var printable [][2]rune
	for i := 0; i+1 < len(ranges); i += 2 {
		lo, hi := max(ranges[i], ' '+1), min(ranges[i+1], '~')
		if lo <= hi {
			printable = append(printable, [2]rune{lo, hi})
		}
	}
	if len(printable) == 0 {
		if len(ranges) == 0 {
			return 'a'
		}
		return ranges[0]
	}
	r := printable[g.rng.IntN(len(printable))]
	return r[0] + rune(g.rng.IntN(int(r[1]-r[0]+1)))
}
