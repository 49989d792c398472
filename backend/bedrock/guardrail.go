package bedrock

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/strata-gateway/strata/backend"
)

// guardrailTrace is the part of a Converse trace (trace.guardrail) that says why a guardrail
// intervened: per guardrail, its policies' findings on the input and on each output.
type guardrailTrace struct {
	Guardrail *struct {
		InputAssessment   map[string]guardrailAssessment   `json:"inputAssessment"`
		OutputAssessments map[string][]guardrailAssessment `json:"outputAssessments"`
	} `json:"guardrail"`
}

type guardrailAssessment struct {
	TopicPolicy *struct {
		Topics []guardrailFinding `json:"topics"`
	} `json:"topicPolicy"`
	ContentPolicy *struct {
		Filters []guardrailFinding `json:"filters"`
	} `json:"contentPolicy"`
	WordPolicy *struct {
		CustomWords      []guardrailFinding `json:"customWords"`
		ManagedWordLists []guardrailFinding `json:"managedWordLists"`
	} `json:"wordPolicy"`
	SensitiveInformationPolicy *struct {
		PiiEntities []guardrailFinding `json:"piiEntities"`
		Regexes     []guardrailFinding `json:"regexes"`
	} `json:"sensitiveInformationPolicy"`
	ContextualGroundingPolicy *struct {
		Filters []guardrailFinding `json:"filters"`
	} `json:"contextualGroundingPolicy"`
}

// guardrailFinding is one policy's finding; which of its names is set depends on the policy.
type guardrailFinding struct {
	Name   string `json:"name"`
	Type   string `json:"type"`
	Match  string `json:"match"`
	Action string `json:"action"`
}

// guardrailSummary says in one line why a guardrail intervened, from the reply's trace: which
// guardrail, on the input or the output, and the findings that acted ("input blocked by
// guardrail gr-1: custom word; content filter "VIOLENCE""), naming policies, never the text they
// matched. Without a trace it says so.
func guardrailSummary(stop backend.StopReason, trace json.RawMessage) string {
	if stop != backend.StopGuardrailIntervened {
		return ""
	}
	var t guardrailTrace
	if len(trace) == 0 || json.Unmarshal(trace, &t) != nil || t.Guardrail == nil {
		return "a guardrail intervened; set guardrail trace to learn which policy"
	}
	var parts []string
	for _, id := range sortedKeys(t.Guardrail.InputAssessment) {
		if found := findings(t.Guardrail.InputAssessment[id]); len(found) > 0 {
			parts = append(parts, fmt.Sprintf("input blocked by guardrail %s: %s", id, strings.Join(found, "; ")))
		}
	}
	for _, id := range sortedKeys(t.Guardrail.OutputAssessments) {
		var found []string
		for _, a := range t.Guardrail.OutputAssessments[id] {
			found = append(found, findings(a)...)
		}
		if len(found) > 0 {
			parts = append(parts, fmt.Sprintf("output blocked by guardrail %s: %s", id, strings.Join(found, "; ")))
		}
	}
	if len(parts) == 0 {
		return "a guardrail intervened; its trace names no finding"
	}
	return strings.Join(parts, ". ")
}

// findings lists an assessment's findings that acted (any action but NONE).
func findings(a guardrailAssessment) []string {
	var out []string
	add := func(kind string, fs []guardrailFinding) {
		for _, f := range fs {
			if f.Action == "NONE" {
				continue
			}
			// The policy's own names (a topic, a filter type, a pattern's name), never the text it
			// matched: that is the content the guardrail blocked or masked, which must not come
			// back in the summary.
			what := cmp.Or(f.Name, f.Type)
			if what == "" {
				out = append(out, kind)
				continue
			}
			out = append(out, fmt.Sprintf("%s %q", kind, what))
		}
	}
	if p := a.TopicPolicy; p != nil {
		add("topic", p.Topics)
	}
	if p := a.ContentPolicy; p != nil {
		add("content filter", p.Filters)
	}
	if p := a.WordPolicy; p != nil {
		add("custom word", p.CustomWords)
		add("managed word", p.ManagedWordLists)
	}
	if p := a.SensitiveInformationPolicy; p != nil {
		add("sensitive information", p.PiiEntities)
		add("pattern", p.Regexes)
	}
	if p := a.ContextualGroundingPolicy; p != nil {
		add("grounding check", p.Filters)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
