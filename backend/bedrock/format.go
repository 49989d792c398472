package bedrock

import (
	"encoding/json"
	"fmt"

	"github.com/strata-gateway/strata/backend"
	"github.com/strata-gateway/strata/catalog"
)

// defaultFormatName names a response format the caller did not name.
const defaultFormatName = "response"

// responseFormat asks for a JSON reply in the best way the model has (issue 6):
//
//   - native structured output (outputConfig.textFormat, §2.1) where the catalog says the model
//     has it: Bedrock constrains the reply to the schema;
//   - else a forced call of one tool whose input schema is the reply's, turned back into a text
//     reply by the adapter; but never while the model reasons (Claude refuses a forced tool with
//     thinking, and other reasoning models are not known to take it) and never when the caller
//     brought tools of its own, which a forced tool would take away;
//   - else instructions in the system prompt.
//
// In every case the caller validates the reply; a warning says which way was taken when it was
// not the native one.
func (b *Backend) responseFormat(req *backend.ChatRequest, m *catalog.Model, p *converseParams) error {
	f := req.Format
	if f.Kind == backend.FormatText {
		return nil
	}
	schema := f.Schema
	switch f.Kind {
	case backend.FormatJSONObject:
		schema = map[string]any{"type": "object"}
	case backend.FormatJSONSchema:
		if schema == nil {
			return b.invalidf(req.ModelID, "a JSON schema response format needs its schema")
		}
	default:
		return b.invalidf(req.ModelID, fmt.Sprintf("unknown response format %d", f.Kind))
	}
	name := f.Name
	if name == "" {
		name = defaultFormatName
	}
	raw, err := json.Marshal(schema)
	if err != nil {
		return b.invalidf(req.ModelID, "the response format's schema is not JSON: "+err.Error())
	}
	model := req.ModelID
	if m != nil {
		model = m.ID
	}
	switch {
	case m != nil && m.StructuredOutput:
		oc := &wireOutputConfig{}
		oc.TextFormat.Type = "json_schema"
		oc.TextFormat.Structure.JSONSchema = wireJSONSchema{Name: name, Schema: string(raw)}
		p.body.OutputConfig = oc
	case m != nil && m.Tools && !p.reasoning && len(req.Tools) == 0 && p.body.ToolConfig == nil:
		p.body.ToolConfig = &wireToolConfig{
			Tools: []wireTool{{ToolSpec: &wireToolSpec{
				Name:        name,
				Description: "Give your reply as this tool's input, which is the reply's JSON object.",
				InputSchema: wireInputSchema{JSON: schema},
			}}},
			ToolChoice: &wireToolChoice{Tool: &wireNamedTool{Name: name}},
		}
		p.formatTool = name
		p.warnings = append(p.warnings, fmt.Sprintf("response format: %s has no native structured output, so the reply was asked for as a forced tool call and validated", model))
	default:
		instruction := "Reply with only a JSON object: no code fences, no text before or after it."
		if f.Kind == backend.FormatJSONSchema {
			instruction = "Reply with only a JSON object that matches this JSON Schema: no code fences, no text before or after it.\n" + string(raw)
		}
		p.body.System = append(p.body.System, wireSystemBlock{Text: &instruction})
		why := "has no native structured output and reasons, which rules out a forced tool call"
		switch {
		case len(req.Tools) > 0:
			why = "has no native structured output and the request brings its own tools"
		case m == nil || !m.Tools:
			why = "has neither native structured output nor tools"
		}
		p.warnings = append(p.warnings, fmt.Sprintf("response format: %s %s, so the reply was asked for in the system prompt and validated", model, why))
	}
	return nil
}

// formatReply turns the forced tool call of a response format back into the text reply it
// stands for: the reply is the call's input, and text the model wrote beside it is not part of it.
func formatReply(parts []backend.Part, tool string, stop backend.StopReason) ([]backend.Part, backend.StopReason) {
	var reply *backend.Part
	for i := range parts {
		if c := parts[i].ToolCall; parts[i].Kind == backend.PartToolCall && c != nil && c.Name == tool {
			reply = &parts[i]
			break
		}
	}
	if reply == nil {
		return parts, stop // no call (cut by max_tokens): the caller's validation says so
	}
	raw, err := json.Marshal(reply.ToolCall.Arguments)
	if err != nil {
		return parts, stop // decoded JSON always encodes; keep the call rather than lose it
	}
	kept := make([]backend.Part, 0, 2)
	for _, part := range parts {
		if part.Kind == backend.PartReasoning {
			kept = append(kept, part)
		}
	}
	kept = append(kept, backend.Part{Kind: backend.PartText, Text: string(raw)})
	if stop == backend.StopToolUse {
		stop = backend.StopEndTurn
	}
	return kept, stop
}
