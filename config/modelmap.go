package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
)

// Route is one CHAT_MODEL_MAP entry: the model and parameters for requests whose tag contains
// Key. Its fields mirror service.RouteConfig's, name for name and type for type, so the command
// converts one to the other with a plain type conversion; keep them in step.
type Route struct {
	// Key is the map key, matched as a substring of the request's tag.
	Key string
	// Model is the model as written (not resolved here; the service resolves it); never empty.
	Model string
	// Temperature, when set, overrides CHAT_TEMPERATURE for this route; between 0 and 1.
	Temperature *float64
	// MaxTokens, when set, overrides CHAT_MAX_TOKENS for this route; at least 1.
	MaxTokens *int
	// ReasoningEffort is "low", "medium", "high", or "" for off. Unlike the other fields it is
	// never "unset": as in RD-Agent, a matching entry without reasoning_effort keeps the global
	// REASONING_EFFORT, which the loader copies in; an entry with any other value turns it off.
	ReasoningEffort string
	// ReasoningBudget, when positive, is this route's Claude thinking budget in tokens, instead of
	// the REASONING_BUDGET_* that ReasoningEffort implies (a Strata extension); at least 1024.
	// It only applies when reasoning is on.
	ReasoningBudget int
	// TopP, when set, is the route's top_p; between 0 and 1.
	TopP *float64
	// TopK, when set, is the route's top_k, for the model families that take it; at least 1.
	TopK *int
	// Stop are the route's stop sequences.
	Stop []string
	// ServiceTier is Bedrock's processing tier: "priority", "default", "flex", or "" for Bedrock's.
	ServiceTier string
	// LatencyOptimized asks for latency-optimized inference ("performance": "optimized").
	LatencyOptimized bool
	// GuardrailID and GuardrailVersion name a Bedrock guardrail to apply; GuardrailTrace asks
	// for its trace.
	GuardrailID, GuardrailVersion string
	GuardrailTrace                bool
	// RequestMetadata is sent with the route's calls as Bedrock request metadata, under what the
	// request sets.
	RequestMetadata map[string]string
	// AdditionalFields are sent as additionalModelRequestFields, under what the request sets.
	AdditionalFields map[string]any
	// JSONMode asks for a JSON object reply (RD-Agent's json_mode, or "response_format":
	// "json_object") when the request asks for no format.
	JSONMode bool
	// AutoCache places prompt-cache points after the tools and the system prompt when they are
	// long enough to cache ("cache": "auto").
	AutoCache bool
	// Fallbacks are models tried in order when the route's model fails with a retryable error
	// after its retries (throttled, unavailable, timed out): other models or inference profiles.
	Fallbacks []string
	// The entry's limits ("limits": {"concurrency", "requests_per_minute", "tokens_per_minute"}):
	// calls at once, requests and tokens per minute through this entry; zero is unlimited.
	LimitConcurrency, LimitRequestsPerMinute, LimitTokensPerMinute int
}

// ModelMap is CHAT_MODEL_MAP: routes by tag, in the order written. The variable holds a JSON
// object, as in RD-Agent:
//
//	{"coding":  {"model": "us.anthropic.claude-sonnet-4-20250514-v1:0", "temperature": "0.7",
//	             "max_tokens": "8192", "reasoning_effort": "high"},
//	 "running": {"model": "bedrock/us.amazon.nova-pro-v1:0"}}
//
// Each entry needs a model; temperature, max_tokens, reasoning_effort and reasoning_budget are
// optional. Numbers may be JSON numbers or numeric strings (RD-Agent types its map as strings); a
// null counts as absent. Unknown fields are ignored with a warning. A key written twice keeps its
// first position and its last value, as a Python dict does.
type ModelMap []Route

// Match returns the route for a request's tag: the first route, in the order written, whose key is
// a substring of tag (RD-Agent's rule). So an empty key matches every tag, and a key named
// "default" is not special: it matches tags that contain "default". ok is false when no key
// matches; then the global defaults apply.
func (m ModelMap) Match(tag string) (r Route, ok bool) {
	for _, r := range m {
		if strings.Contains(tag, r.Key) {
			return r, true
		}
	}
	return Route{}, false
}

// ParseModelMap parses a CHAT_MODEL_MAP value. The error lists every problem, one per line.
// Entries without reasoning_effort get "" (off), since there is no global default to inherit here.
func ParseModelMap(s string) (ModelMap, error) {
	m, problems, _ := parseModelMap(s, "")
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "\n"))
	}
	return m, nil
}

// LogValue implements [slog.LogValuer]: a group per route, in order, with the fields that are set.
func (m ModelMap) LogValue() slog.Value {
	attrs := make([]slog.Attr, 0, len(m))
	for _, r := range m {
		fields := []slog.Attr{slog.String("model", r.Model)}
		if r.Temperature != nil {
			fields = append(fields, slog.Float64("temperature", *r.Temperature))
		}
		if r.MaxTokens != nil {
			fields = append(fields, slog.Int("max_tokens", *r.MaxTokens))
		}
		if r.ReasoningEffort != "" {
			fields = append(fields, slog.String("reasoning_effort", r.ReasoningEffort))
		}
		if r.ReasoningBudget > 0 {
			fields = append(fields, slog.Int("reasoning_budget", r.ReasoningBudget))
		}
		fields = appendOptionAttrs(fields, r)
		key := r.Key
		if key == "" {
			key = `""` // an empty group key would be inlined by slog's handlers
		}
		attrs = append(attrs, slog.Attr{Key: key, Value: slog.GroupValue(fields...)})
	}
	return slog.GroupValue(attrs...)
}

// entryFields are the fields an entry may have.
var entryFields = []string{"model", "temperature", "max_tokens", "reasoning_effort", "reasoning_budget",
	"top_p", "top_k", "stop", "service_tier", "performance", "guardrail", "request_metadata",
	"additional_model_request_fields", "json_mode", "response_format", "cache", "fallbacks", "limits"}

// parseModelMap decodes the map keeping the keys' order, which a Go map would lose, and returns
// every problem and warning, each naming the entry.
//
// An entry without reasoning_effort gets defaultEffort, the global REASONING_EFFORT, which is what
// RD-Agent uses for it; Route.ReasoningEffort is therefore the effort in force for the route.
func parseModelMap(s, defaultEffort string) (ModelMap, []string, []string) {
	var problems, warnings []string
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	syntax := func(err error) (ModelMap, []string, []string) {
		var serr *json.SyntaxError
		switch {
		case errors.As(err, &serr):
			line, col := position(s, serr.Offset)
			err = fmt.Errorf("%w at line %d, column %d", serr, line, col)
		case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
			err = errors.New("the JSON ends early (a missing } or \"?)")
		}
		return nil, []string{"is not a JSON object of entries: " + err.Error()}, warnings
	}

	if tok, err := dec.Token(); err != nil {
		return syntax(err)
	} else if tok != json.Delim('{') {
		return nil, []string{`is not a JSON object such as {"coding": {"model": "..."}}`}, nil
	}
	var m ModelMap
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return syntax(err)
		}
		key := tok.(string) // inside an object, json.Decoder only returns string keys
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return syntax(err)
		}
		r, ps, ws := parseRoute(key, raw, defaultEffort)
		problems = append(problems, ps...)
		warnings = append(warnings, ws...)
		if i := slices.IndexFunc(m, func(r Route) bool { return r.Key == key }); i >= 0 {
			warnings = append(warnings, fmt.Sprintf("entry %q is written twice: the last one is used, in the first one's place", key))
			m[i] = r
			continue
		}
		m = append(m, r)
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return syntax(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		problems = append(problems, "has text after the JSON object")
	}
	return m, problems, warnings
}

// parseRoute parses one entry.
func parseRoute(key string, raw json.RawMessage, defaultEffort string) (Route, []string, []string) {
	r := Route{Key: key, ReasoningEffort: defaultEffort}
	var problems, warnings []string
	bad := func(format string, args ...any) {
		problems = append(problems, fmt.Sprintf("entry %q: ", key)+fmt.Sprintf(format, args...))
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		bad(`is not an object such as {"model": "..."}`)
		return r, problems, nil
	}
	present := func(name string) (json.RawMessage, bool) {
		v, ok := fields[name]
		return v, ok && string(v) != "null"
	}

	if v, ok := present("model"); !ok {
		bad("has no model")
	} else if err := json.Unmarshal(v, &r.Model); err != nil {
		bad("model %s is not a string", v)
	} else if r.Model = strings.TrimSpace(r.Model); r.Model == "" {
		bad("model is empty")
	}
	if v, ok := present("temperature"); ok {
		t, err := parseFloat(numberText(v))
		if err != nil || t < 0 || t > 1 {
			bad("temperature %s is not a number between 0 and 1", v)
		} else {
			r.Temperature = &t
		}
	}
	if v, ok := present("max_tokens"); ok {
		n, err := strconv.Atoi(numberText(v))
		if err != nil || n < 1 {
			bad("max_tokens %s is not a whole number of at least 1", v)
		} else {
			r.MaxTokens = &n
		}
	}
	if v, ok := fields["reasoning_effort"]; ok {
		var s string
		isString := json.Unmarshal(v, &s) == nil // a non-string is not an effort: off, as in RD-Agent
		effort, known := normalizeEffort(s)
		r.ReasoningEffort = effort
		if string(v) != "null" && (!isString || !known) {
			warnings = append(warnings, fmt.Sprintf("entry %q: reasoning_effort %s is not low, medium or high, so reasoning is off", key, v))
		}
	}
	if v, ok := present("reasoning_budget"); ok {
		n, err := strconv.Atoi(numberText(v))
		if err != nil || n < 1024 {
			bad("reasoning_budget %s is not a whole number of at least 1024", v)
		} else {
			r.ReasoningBudget = n
			if r.ReasoningEffort == "" {
				warnings = append(warnings, fmt.Sprintf("entry %q: reasoning_budget has no effect while reasoning is off", key))
			}
		}
	}
	parseBedrockOptions(&r, present, bad)
	var unknown []string
	for name := range fields {
		if !slices.Contains(entryFields, name) {
			unknown = append(unknown, name)
		}
	}
	slices.Sort(unknown)
	for _, name := range unknown {
		warnings = append(warnings, fmt.Sprintf("entry %q: unknown field %q is ignored", key, name))
	}
	return r, problems, warnings
}

// numberText returns a JSON number's text, or a JSON string's content trimmed; anything else
// yields text no number parser accepts.
func numberText(v json.RawMessage) string {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return strings.TrimSpace(s)
	}
	if v = bytes.TrimSpace(v); len(v) > 0 && (v[0] == '-' || (v[0] >= '0' && v[0] <= '9')) {
		return string(v)
	}
	return "not a number"
}

// position turns a byte offset into a 1-based line and column.
func position(s string, offset int64) (line, col int) {
	offset = min(offset, int64(len(s)))
	before := s[:offset]
	line = 1 + strings.Count(before, "\n")
	col = int(offset) - strings.LastIndex(before, "\n")
	return line, col
}
