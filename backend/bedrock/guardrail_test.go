package bedrock

import (
	"testing"

	"github.com/strata-gateway/strata/backend"
)

func TestGuardrailSummary(t *testing.T) {
	tests := []struct {
		name  string
		stop  backend.StopReason
		trace string
		want  string
	}{
		{"not intervened", backend.StopEndTurn, `{"guardrail":{}}`, ""},
		{"no trace asked", backend.StopGuardrailIntervened, ``, "a guardrail intervened; set guardrail trace to learn which policy"},
		{"input: content filter and topic, NONE left out", backend.StopGuardrailIntervened,
			`{"guardrail":{"inputAssessment":{"gr-1":{"contentPolicy":{"filters":[{"type":"VIOLENCE","confidence":"HIGH","action":"BLOCKED"},{"type":"HATE","action":"NONE"}]},"topicPolicy":{"topics":[{"name":"Investments","type":"DENY","action":"BLOCKED"}]}}}}}`,
			`input blocked by guardrail gr-1: topic "Investments"; content filter "VIOLENCE"`},
		{"output: sensitive information", backend.StopGuardrailIntervened,
			`{"guardrail":{"outputAssessments":{"gr-2":[{"sensitiveInformationPolicy":{"piiEntities":[{"type":"EMAIL","match":"a@b.c","action":"ANONYMIZED"}],"regexes":[{"name":"account","match":"123","action":"BLOCKED"}]}}]}}}`,
			`output blocked by guardrail gr-2: sensitive information "EMAIL"; pattern "account"`},
		{"a trace without findings", backend.StopGuardrailIntervened, `{"guardrail":{"inputAssessment":{"gr-1":{}}}}`, "a guardrail intervened; its trace names no finding"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := guardrailSummary(tt.stop, []byte(tt.trace)); got != tt.want {
				t.Errorf("summary %q, want %q", got, tt.want)
			}
		})
	}
}
