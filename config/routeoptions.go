package config

import (
	"encoding/json"
	"log/slog"
	"slices"
	"strconv"
	"strings"
)

// parseBedrockOptions reads an entry's Bedrock options (issue 6): sampling (top_p, top_k, stop),
// the service tier, latency-optimized inference, a guardrail, request metadata, raw
// additionalModelRequestFields, a JSON reply, and automatic prompt caching. Numbers and booleans may be strings, as
// RD-Agent writes its map.
func parseBedrockOptions(r *Route, present func(string) (json.RawMessage, bool), bad func(string, ...any)) {
	if v, ok := present("top_p"); ok {
		p, err := parseFloat(numberText(v))
		if err != nil || p < 0 || p > 1 {
			bad("top_p %s is not a number between 0 and 1", v)
		} else {
			r.TopP = &p
		}
	}
	if v, ok := present("top_k"); ok {
		n, err := strconv.Atoi(numberText(v))
		if err != nil || n < 1 {
			bad("top_k %s is not a whole number of at least 1", v)
		} else {
			r.TopK = &n
		}
	}
	if v, ok := present("stop"); ok {
		var one string
		if json.Unmarshal(v, &one) == nil {
			r.Stop = []string{one}
		} else if err := json.Unmarshal(v, &r.Stop); err != nil || slices.Contains(r.Stop, "") {
			bad("stop %s is not a string or a list of non-empty strings", v)
			r.Stop = nil
		}
	}
	if v, ok := present("service_tier"); ok {
		var tier string
		_ = json.Unmarshal(v, &tier)
		switch tier = strings.ToLower(strings.TrimSpace(tier)); tier {
		case "priority", "default", "flex":
			r.ServiceTier = tier
		default:
			bad("service_tier %s is not priority, default or flex", v)
		}
	}
	if v, ok := present("performance"); ok {
		var p string
		_ = json.Unmarshal(v, &p)
		switch strings.ToLower(strings.TrimSpace(p)) {
		case "optimized", "latency-optimized", "latency_optimized":
			r.LatencyOptimized = true
		case "standard":
		default:
			bad("performance %s is not optimized or standard", v)
		}
	}
	if v, ok := present("guardrail"); ok {
		var g struct {
			ID      string          `json:"id"`
			Version json.RawMessage `json:"version"`
			Trace   json.RawMessage `json:"trace"`
		}
		version := ""
		if err := json.Unmarshal(v, &g); err == nil {
			version = numberText(g.Version) // "DRAFT" or a number, quoted or not
			if version == "not a number" {
				version = ""
			}
		}
		trace, traceOK := parseJSONBool(g.Trace)
		switch {
		case strings.TrimSpace(g.ID) == "" || version == "":
			bad(`guardrail %s is not an object such as {"id": "gr-abc123", "version": "1"}`, v)
		case !traceOK:
			bad("guardrail trace %s is not true or false", g.Trace)
		default:
			r.GuardrailID, r.GuardrailVersion, r.GuardrailTrace = strings.TrimSpace(g.ID), version, trace
		}
	}
	if v, ok := present("request_metadata"); ok {
		if err := json.Unmarshal(v, &r.RequestMetadata); err != nil {
			bad("request_metadata %s is not an object of strings", v)
		}
	}
	if v, ok := present("additional_model_request_fields"); ok {
		if err := json.Unmarshal(v, &r.AdditionalFields); err != nil || r.AdditionalFields == nil {
			bad("additional_model_request_fields %s is not a JSON object", v)
		}
	}
	if v, ok := present("json_mode"); ok {
		b, valid := parseJSONBool(v)
		if !valid {
			bad("json_mode %s is not true or false", v)
		}
		r.JSONMode = b
	}
	if v, ok := present("cache"); ok {
		var c string
		_ = json.Unmarshal(v, &c)
		switch strings.ToLower(strings.TrimSpace(c)) {
		case "auto":
			r.AutoCache = true
		case "none", "off":
		default:
			bad("cache %s is not auto or none", v)
		}
	}
	if v, ok := present("fallbacks"); ok {
		var one string
		if json.Unmarshal(v, &one) == nil {
			r.Fallbacks = []string{one}
		} else if err := json.Unmarshal(v, &r.Fallbacks); err != nil {
			bad("fallbacks %s is not a model or a list of models", v)
		}
		for i, f := range r.Fallbacks {
			r.Fallbacks[i] = strings.TrimSpace(f)
			if r.Fallbacks[i] == "" {
				bad("fallbacks %s holds an empty model", v)
				r.Fallbacks = nil
				break
			}
		}
	}
	if v, ok := present("limits"); ok {
		l, err := parseLimit(v)
		if err != nil {
			bad("limits %s: %v", v, err)
		}
		r.LimitConcurrency, r.LimitRequestsPerMinute, r.LimitTokensPerMinute = l.Concurrency, l.RequestsPerMinute, l.TokensPerMinute
	}
	if v, ok := present("response_format"); ok {
		var f string
		_ = json.Unmarshal(v, &f)
		switch strings.ToLower(strings.TrimSpace(f)) {
		case "json_object", "json":
			r.JSONMode = true
		case "text":
			r.JSONMode = false
		default:
			bad("response_format %s is not json_object or text", v)
		}
	}
}

// parseBool reads a JSON boolean or a string holding one ("true", "False", "1"); absent is false.
func parseJSONBool(v json.RawMessage) (value, ok bool) {
	if len(v) == 0 || string(v) == "null" {
		return false, true
	}
	var b bool
	if json.Unmarshal(v, &b) == nil {
		return b, true
	}
	b, err := strconv.ParseBool(numberText(v))
	return b, err == nil
}

// appendOptionAttrs adds a route's Bedrock options that are set to its log group.
func appendOptionAttrs(fields []slog.Attr, r Route) []slog.Attr {
	if r.TopP != nil {
		fields = append(fields, slog.Float64("top_p", *r.TopP))
	}
	if r.TopK != nil {
		fields = append(fields, slog.Int("top_k", *r.TopK))
	}
	if len(r.Stop) > 0 {
		fields = append(fields, slog.Any("stop", r.Stop))
	}
	if r.ServiceTier != "" {
		fields = append(fields, slog.String("service_tier", r.ServiceTier))
	}
	if r.LatencyOptimized {
		fields = append(fields, slog.String("performance", "optimized"))
	}
	if r.GuardrailID != "" {
		fields = append(fields, slog.String("guardrail", r.GuardrailID+":"+r.GuardrailVersion))
	}
	if len(r.RequestMetadata) > 0 {
		fields = append(fields, slog.Int("request_metadata_keys", len(r.RequestMetadata)))
	}
	if len(r.AdditionalFields) > 0 {
		fields = append(fields, slog.Int("additional_model_request_fields", len(r.AdditionalFields)))
	}
	if r.JSONMode {
		fields = append(fields, slog.Bool("json_mode", true))
	}
	if r.AutoCache {
		fields = append(fields, slog.String("cache", "auto"))
	}
	if len(r.Fallbacks) > 0 {
		fields = append(fields, slog.Any("fallbacks", r.Fallbacks))
	}
	return fields
}
