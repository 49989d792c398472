package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Limit is one set of limits; zero fields are unlimited.
type Limit struct {
	Concurrency       int
	RequestsPerMinute int
	TokensPerMinute   int
}

// ModelLimits is MODEL_LIMITS: limits per model, a JSON object keyed by model id as called (a
// profile id such as us.…) or by foundation id (which covers every profile of the model):
//
//	{"anthropic.claude-sonnet-4-5-20250929-v1:0": {"concurrency": 16, "requests_per_minute": 200,
//	  "tokens_per_minute": 400000}}
//
// Numbers may be strings, as in CHAT_MODEL_MAP.
type ModelLimits map[string]Limit

// UnmarshalText implements [encoding.TextUnmarshaler] for the environment loader.
func (m *ModelLimits) UnmarshalText(text []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(text, &raw); err != nil {
		return fmt.Errorf(`is not a JSON object such as {"model-id": {"requests_per_minute": 100}}: %w`, err)
	}
	out := ModelLimits{}
	var problems []string
	for _, id := range sortedKeys(raw) {
		l, err := parseLimit(raw[id])
		if err != nil {
			problems = append(problems, fmt.Sprintf("%q: %v", id, err))
			continue
		}
		out[strings.TrimSpace(id)] = l
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	*m = out
	return nil
}

// parseLimit reads {"concurrency", "requests_per_minute", "tokens_per_minute"}, each a whole
// number of at least 0.
func parseLimit(v json.RawMessage) (Limit, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(v, &fields); err != nil || fields == nil {
		return Limit{}, errors.New(`is not an object such as {"concurrency": 8, "requests_per_minute": 100, "tokens_per_minute": 200000}`)
	}
	var l Limit
	for _, name := range sortedKeys(fields) {
		var dst *int
		switch name {
		case "concurrency":
			dst = &l.Concurrency
		case "requests_per_minute":
			dst = &l.RequestsPerMinute
		case "tokens_per_minute":
			dst = &l.TokensPerMinute
		default:
			return Limit{}, fmt.Errorf("unknown limit %q (concurrency, requests_per_minute, tokens_per_minute)", name)
		}
		n, err := strconv.Atoi(numberText(fields[name]))
		if err != nil || n < 0 {
			return Limit{}, fmt.Errorf("%s %s is not a whole number of at least 0", name, fields[name])
		}
		*dst = n
	}
	return l, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
