package config

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func ptr[T any](v T) *T { return &v }

func TestParseModelMap(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		src           string
		defaultEffort string
		want          ModelMap
		wantProblems  []string
		wantWarnings  []string
	}{
		{
			name: "keys keep the order written, not Go's map order",
			src:  `{"zeta": {"model": "z"}, "alpha": {"model": "a"}, "mid": {"model": "m"}, "beta": {"model": "b"}}`,
			want: ModelMap{{Key: "zeta", Model: "z"}, {Key: "alpha", Model: "a"}, {Key: "mid", Model: "m"}, {Key: "beta", Model: "b"}},
		},
		{
			name: "numbers as RD-Agent writes them: strings",
			src:  `{"coding": {"model": "m", "temperature": "0.7", "max_tokens": "2048", "reasoning_effort": "high", "reasoning_budget": "8000"}}`,
			want: ModelMap{{Key: "coding", Model: "m", Temperature: ptr(0.7), MaxTokens: ptr(2048), ReasoningEffort: "high", ReasoningBudget: 8000}},
		},
		{
			name: "numbers as JSON numbers, padded strings, and nulls as absent",
			src:  `{"a": {"model": " m ", "temperature": 0, "max_tokens": 1, "reasoning_budget": 1024, "reasoning_effort": "Medium"}, "b": {"model": "n", "temperature": " 1 ", "max_tokens": null, "reasoning_effort": null}}`,
			want: ModelMap{
				{Key: "a", Model: "m", Temperature: ptr(0.0), MaxTokens: ptr(1), ReasoningEffort: "medium", ReasoningBudget: 1024},
				{Key: "b", Model: "n", Temperature: ptr(1.0)},
			},
		},
		{
			name:          "an entry without reasoning_effort inherits the global one; with one, it overrides",
			src:           `{"a": {"model": "m"}, "b": {"model": "n", "reasoning_effort": "none"}, "c": {"model": "o", "reasoning_effort": "low"}}`,
			defaultEffort: "high",
			want:          ModelMap{{Key: "a", Model: "m", ReasoningEffort: "high"}, {Key: "b", Model: "n"}, {Key: "c", Model: "o", ReasoningEffort: "low"}},
		},
		{
			name:         "an unknown reasoning effort means off, with a warning",
			src:          `{"a": {"model": "m", "reasoning_effort": "extreme"}, "b": {"model": "n", "reasoning_effort": true}, "c": {"model": "o", "reasoning_effort": ""}}`,
			want:         ModelMap{{Key: "a", Model: "m"}, {Key: "b", Model: "n"}, {Key: "c", Model: "o"}},
			wantWarnings: []string{`entry "a": reasoning_effort "extreme" is not low, medium or high, so reasoning is off`, `entry "b": reasoning_effort true is not low, medium or high, so reasoning is off`},
		},
		{
			name: "empty object and empty key",
			src:  `{"": {"model": "everything"}}`,
			want: ModelMap{{Key: "", Model: "everything"}},
		},
		{
			name: "empty map",
			src:  ` {} `,
			want: nil,
		},
		{
			name:         "a key written twice keeps its first place and its last value",
			src:          `{"a": {"model": "first"}, "b": {"model": "b"}, "a": {"model": "last"}}`,
			want:         ModelMap{{Key: "a", Model: "last"}, {Key: "b", Model: "b"}},
			wantWarnings: []string{`entry "a" is written twice: the last one is used, in the first one's place`},
		},
		{
			name:         "unknown fields are ignored with a warning, in name order",
			src:          `{"a": {"model": "m", "presence_penalty": "0.9", "api_base": "x"}}`,
			want:         ModelMap{{Key: "a", Model: "m"}},
			wantWarnings: []string{`entry "a": unknown field "api_base" is ignored`, `entry "a": unknown field "presence_penalty" is ignored`},
		},
		{
			name:         "a budget while reasoning is off",
			src:          `{"a": {"model": "m", "reasoning_budget": 2048}}`,
			want:         ModelMap{{Key: "a", Model: "m", ReasoningBudget: 2048}},
			wantWarnings: []string{`entry "a": reasoning_budget has no effect while reasoning is off`},
		},
		{
			name: "every entry problem is reported",
			src: `{
				"no-model": {"temperature": "0.5"},
				"empty-model": {"model": "  "},
				"number-model": {"model": 7},
				"hot": {"model": "m", "temperature": "hot"},
				"too-hot": {"model": "m", "temperature": 1.5},
				"cold": {"model": "m", "temperature": -0.1},
				"tokens": {"model": "m", "max_tokens": "2048.0"},
				"zero-tokens": {"model": "m", "max_tokens": 0},
				"bool-tokens": {"model": "m", "max_tokens": true},
				"budget": {"model": "m", "reasoning_effort": "low", "reasoning_budget": "512"},
				"string": "us.amazon.nova-micro-v1:0",
				"null": null
			}`,
			wantProblems: []string{
				`entry "no-model": has no model`,
				`entry "empty-model": model is empty`,
				`entry "number-model": model 7 is not a string`,
				`entry "hot": temperature "hot" is not a number between 0 and 1`,
				`entry "too-hot": temperature 1.5 is not a number between 0 and 1`,
				`entry "cold": temperature -0.1 is not a number between 0 and 1`,
				`entry "tokens": max_tokens "2048.0" is not a whole number of at least 1`,
				`entry "zero-tokens": max_tokens 0 is not a whole number of at least 1`,
				`entry "bool-tokens": max_tokens true is not a whole number of at least 1`,
				`entry "budget": reasoning_budget "512" is not a whole number of at least 1024`,
				`entry "string": is not an object such as {"model": "..."}`,
				`entry "null": is not an object such as {"model": "..."}`,
			},
		},
		{
			name:         "not an object",
			src:          `["coding"]`,
			wantProblems: []string{`is not a JSON object such as {"coding": {"model": "..."}}`},
		},
		{
			name:         "a trailing comma, located",
			src:          "{\n  \"a\": {\"model\": \"m\"},\n}",
			wantProblems: []string{`is not a JSON object of entries: invalid character '}' looking for beginning of object key string at line 3, column 1`},
		},
		{
			name: "bedrock options, as RD-Agent would write them (strings)",
			src: `{"research": {"model": "m", "top_p": "0.9", "top_k": "40", "stop": ["END", "STOP"], "service_tier": "Flex",
				"performance": "latency-optimized", "guardrail": {"id": "gr-1", "version": 2, "trace": "true"},
				"request_metadata": {"team": "rd"}, "additional_model_request_fields": {"anthropic_beta": ["x"]}, "json_mode": "True",
				"fallbacks": ["global.m", "o"]},
				"summary": {"model": "n", "stop": "###", "response_format": "json_object", "performance": "standard", "cache": "auto", "fallbacks": " us.n "}}`,
			want: ModelMap{
				{Key: "research", Model: "m", TopP: ptr(0.9), TopK: ptr(40), Stop: []string{"END", "STOP"}, ServiceTier: "flex",
					LatencyOptimized: true, GuardrailID: "gr-1", GuardrailVersion: "2", GuardrailTrace: true,
					RequestMetadata: map[string]string{"team": "rd"}, AdditionalFields: map[string]any{"anthropic_beta": []any{"x"}}, JSONMode: true,
					Fallbacks: []string{"global.m", "o"}},
				{Key: "summary", Model: "n", Stop: []string{"###"}, JSONMode: true, AutoCache: true, Fallbacks: []string{"us.n"}},
			},
		},
		{
			name: "bedrock options that are wrong",
			src: `{"a": {"model": "m", "top_p": 2, "top_k": 0, "stop": [""], "service_tier": "gold", "performance": "fast",
				"guardrail": {"id": "gr-1"}, "request_metadata": {"n": 1}, "additional_model_request_fields": [1], "json_mode": "maybe",
				"response_format": "xml", "cache": "always", "fallbacks": 3}}`,
			wantProblems: []string{
				`entry "a": top_p 2 is not a number between 0 and 1`,
				`entry "a": top_k 0 is not a whole number of at least 1`,
				`entry "a": stop [""] is not a string or a list of non-empty strings`,
				`entry "a": service_tier "gold" is not priority, default or flex`,
				`entry "a": performance "fast" is not optimized or standard`,
				`entry "a": guardrail {"id": "gr-1"} is not an object such as {"id": "gr-abc123", "version": "1"}`,
				`entry "a": request_metadata {"n": 1} is not an object of strings`,
				`entry "a": additional_model_request_fields [1] is not a JSON object`,
				`entry "a": json_mode "maybe" is not true or false`,
				`entry "a": cache "always" is not auto or none`,
				`entry "a": fallbacks 3 is not a model or a list of models`,
				`entry "a": response_format "xml" is not json_object or text`,
			},
		},
		{
			name:         "cut short",
			src:          `{"a": {"model": "m"}`,
			wantProblems: []string{`is not a JSON object of entries: the JSON ends early (a missing } or "?)`},
		},
		{
			name:         "text after the object",
			src:          `{"a": {"model": "m"}} {}`,
			want:         ModelMap{{Key: "a", Model: "m"}},
			wantProblems: []string{"has text after the JSON object"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, problems, warnings := parseModelMap(tt.src, tt.defaultEffort)
			if !slices.Equal(problems, tt.wantProblems) {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(problems, "\n"), strings.Join(tt.wantProblems, "\n"))
			}
			if !slices.Equal(warnings, tt.wantWarnings) {
				t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(warnings, "\n"), strings.Join(tt.wantWarnings, "\n"))
			}
			if len(tt.wantProblems) == 0 && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("map = %s, want %s", format(got), format(tt.want))
			}
		})
	}
}

// format prints routes with their pointers followed.
func format(m ModelMap) string {
	var b strings.Builder
	for _, r := range m {
		fmt.Fprintf(&b, "{%q %q", r.Key, r.Model)
		if r.Temperature != nil {
			fmt.Fprintf(&b, " temperature=%g", *r.Temperature)
		}
		if r.MaxTokens != nil {
			fmt.Fprintf(&b, " max_tokens=%d", *r.MaxTokens)
		}
		fmt.Fprintf(&b, " effort=%q budget=%d} ", r.ReasoningEffort, r.ReasoningBudget)
	}
	return b.String()
}

func TestParseModelMapExported(t *testing.T) {
	t.Parallel()
	m, err := ParseModelMap(`{"a": {"model": "m", "temperature": "2"}, "b": {}}`)
	if err == nil || m != nil {
		t.Fatalf("ParseModelMap = %v, %v; want an error", m, err)
	}
	want := "entry \"a\": temperature \"2\" is not a number between 0 and 1\nentry \"b\": has no model"
	if err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
	m, err = ParseModelMap(`{"a": {"model": "m"}}`)
	if err != nil || len(m) != 1 || m[0].ReasoningEffort != "" {
		t.Errorf("ParseModelMap = %+v, %v", m, err)
	}
}

func TestModelMapMatch(t *testing.T) {
	t.Parallel()
	m, err := ParseModelMap(`{
		"coding": {"model": "coder"},
		"code": {"model": "never: coding is written first"},
		"feedback": {"model": "critic"},
		"default": {"model": "not special"},
		"": {"model": "catch-all"}
	}`)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		tag       string
		wantKey   string
		wantModel string
	}{
		{tag: "coding", wantKey: "coding", wantModel: "coder"},
		{tag: "data_science.coding.evolving", wantKey: "coding", wantModel: "coder"},
		{tag: "code_review", wantKey: "code", wantModel: "never: coding is written first"},
		{tag: "feedback.coding", wantKey: "coding", wantModel: "coder"}, // first key in map order, not in the tag
		{tag: "exp_feedback", wantKey: "feedback", wantModel: "critic"},
		{tag: "default", wantKey: "default", wantModel: "not special"},
		{tag: "Coding", wantKey: "", wantModel: "catch-all"}, // case-sensitive, as in RD-Agent
		{tag: "", wantKey: "", wantModel: "catch-all"},
	}
	for _, tt := range tests {
		r, ok := m.Match(tt.tag)
		if !ok || r.Key != tt.wantKey || r.Model != tt.wantModel {
			t.Errorf("Match(%q) = %q %q %v, want %q %q", tt.tag, r.Key, r.Model, ok, tt.wantKey, tt.wantModel)
		}
	}

	noCatchAll := m[:4]
	if r, ok := noCatchAll.Match("running"); ok {
		t.Errorf("Match(running) = %+v, want no match", r)
	}
	if r, ok := ModelMap(nil).Match("coding"); ok {
		t.Errorf("nil map Match = %+v, want no match", r)
	}
}
