package emulator

import (
	"math/rand/v2"
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
	lo, hi := intBound(s, "minItems", 1), intBound(s, "maxItems", 3)
	if lo > hi {
		hi = lo
	}
	n := lo + g.rng.IntN(hi-lo+1)
	items, _ := s["items"].(map[string]any)
	out := make([]any, 0, n)
	for range n {
		out = append(out, g.value(items, name, depth+1))
	}
	if unique, _ := s["uniqueItems"].(bool); unique && len(out) > 1 {
		// Distinct values are not always possible from an enum; keep one where they collide.
		dedup := out[:1]
		for _, v := range out[1:] {
			if !slices.ContainsFunc(dedup, func(d any) bool { return sameJSON(d, v) }) {
				dedup = append(dedup, v)
			}
		}
		if len(dedup) >= lo {
			out = dedup
		}
	}
	return out
}

func sameJSON(a, b any) bool {
	as, aok := a.(string)
	bs, bok := b.(string)
	if aok && bok {
		return as == bs
	}
	return false
}

func (g *schemaValue) integer(s map[string]any) int {
	lo, hi := numBounds(s, 0, 100)
	l, h := int(ceil(lo)), int(hi)
	if h < l {
		return l
	}
	return l + g.rng.IntN(h-l+1)
}

func (g *schemaValue) number(s map[string]any) float64 {
	lo, hi := numBounds(s, 0, 100)
	if hi < lo {
		return lo
	}
	v := lo + g.rng.Float64()*(hi-lo)
	return float64(int(v*100)) / 100
}

func ceil(f float64) float64 {
	i := float64(int(f))
	if i < f {
		return i + 1
	}
	return i
}

// numBounds reads minimum/maximum (and their exclusive forms) with defaults that fit inside them.
func numBounds(s map[string]any, defLo, defHi float64) (float64, float64) {
	lo, hasLo := s["minimum"].(float64)
	hi, hasHi := s["maximum"].(float64)
	if v, ok := s["exclusiveMinimum"].(float64); ok {
		lo, hasLo = v+1, true
	}
	if v, ok := s["exclusiveMaximum"].(float64); ok {
		hi, hasHi = v-1, true
	}
	switch {
	case !hasLo && !hasHi:
		return defLo, defHi
	case !hasLo:
		return min(defLo, hi-100), hi
	case !hasHi:
		return lo, lo + 100
	}
	return lo, hi
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
}

func (g *schemaValue) str(s map[string]any, name string) string {
	if f, ok := s["format"].(string); ok {
		if v, ok := stringsByFormat[f]; ok {
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
