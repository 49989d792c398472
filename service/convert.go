package service

import (
	"strings"

	"google.golang.org/protobuf/types/known/structpb"

	"github.com/strata-gateway/strata/backend"
	stratav1 "github.com/strata-gateway/strata/gen/strata/v1"
)

var imageFormats = map[stratav1.ImageFormat]string{
	stratav1.ImageFormat_IMAGE_FORMAT_PNG:  "png",
	stratav1.ImageFormat_IMAGE_FORMAT_JPEG: "jpeg",
	stratav1.ImageFormat_IMAGE_FORMAT_GIF:  "gif",
	stratav1.ImageFormat_IMAGE_FORMAT_WEBP: "webp",
}

var documentFormats = map[stratav1.DocumentFormat]string{
	stratav1.DocumentFormat_DOCUMENT_FORMAT_PDF:  "pdf",
	stratav1.DocumentFormat_DOCUMENT_FORMAT_CSV:  "csv",
	stratav1.DocumentFormat_DOCUMENT_FORMAT_DOC:  "doc",
	stratav1.DocumentFormat_DOCUMENT_FORMAT_DOCX: "docx",
	stratav1.DocumentFormat_DOCUMENT_FORMAT_XLS:  "xls",
	stratav1.DocumentFormat_DOCUMENT_FORMAT_XLSX: "xlsx",
	stratav1.DocumentFormat_DOCUMENT_FORMAT_HTML: "html",
	stratav1.DocumentFormat_DOCUMENT_FORMAT_TXT:  "txt",
	stratav1.DocumentFormat_DOCUMENT_FORMAT_MD:   "md",
}

// toBackendConversation splits a validated conversation into Bedrock's shape: system messages
// become the system prompt; tool messages become user turns; adjacent turns of one role merge,
// since Bedrock requires user and assistant to alternate.
func toBackendConversation(msgs []*stratav1.Message) (system []backend.Part, out []backend.Message) {
	for _, m := range msgs {
		parts := toBackendParts(m)
		if m.GetRole() == stratav1.Role_ROLE_SYSTEM {
			for _, p := range parts {
				if p.Kind == backend.PartText || p.Kind == backend.PartCachePoint {
					system = append(system, p)
				}
			}
			continue
		}
		role := backend.RoleUser
		if m.GetRole() == stratav1.Role_ROLE_ASSISTANT {
			role = backend.RoleAssistant
		}
		if n := len(out); n > 0 && out[n-1].Role == role {
			out[n-1].Parts = append(out[n-1].Parts, parts...)
			continue
		}
		out = append(out, backend.Message{Role: role, Parts: parts})
	}
	return system, out
}

func toBackendParts(m *stratav1.Message) []backend.Part {
	parts := make([]backend.Part, 0, len(m.GetParts())+1)
	if m.GetText() != "" {
		parts = append(parts, backend.Part{Kind: backend.PartText, Text: m.GetText()})
	}
	for _, p := range m.GetParts() {
		switch k := p.GetKind().(type) {
		case *stratav1.Part_Text:
			parts = append(parts, backend.Part{Kind: backend.PartText, Text: k.Text})
		case *stratav1.Part_Image:
			parts = append(parts, backend.Part{Kind: backend.PartImage, Format: imageFormats[k.Image.GetFormat()], Data: k.Image.GetData()})
		case *stratav1.Part_Document:
			d := k.Document
			parts = append(parts, backend.Part{Kind: backend.PartDocument, Format: documentFormats[d.GetFormat()], Data: d.GetData(), Name: d.GetName()})
		case *stratav1.Part_ToolCall:
			tc := k.ToolCall
			parts = append(parts, backend.Part{Kind: backend.PartToolCall, ToolCall: &backend.ToolCall{ID: tc.GetId(), Name: tc.GetName(), Arguments: tc.GetArguments().AsMap()}})
		case *stratav1.Part_ToolResult:
			tr := k.ToolResult
			parts = append(parts, backend.Part{Kind: backend.PartToolResult, ToolResult: &backend.ToolResult{ID: tr.GetId(), Content: tr.GetContent(), JSON: jsonOrNil(tr.GetJson()), IsError: tr.GetIsError()}})
		case *stratav1.Part_Reasoning:
			r := k.Reasoning
			parts = append(parts, backend.Part{Kind: backend.PartReasoning, Reasoning: &backend.Reasoning{Text: r.GetText(), Signature: r.GetSignature(), Redacted: r.GetRedacted()}})
		case *stratav1.Part_CachePoint:
			parts = append(parts, backend.Part{Kind: backend.PartCachePoint, CacheTTL: k.CachePoint.GetTtl()})
		}
	}
	return parts
}

func toBackendTools(tools []*stratav1.Tool) []backend.Tool {
	out := make([]backend.Tool, 0, len(tools))
	for _, t := range tools {
		out = append(out, backend.Tool{Name: t.GetName(), Description: t.GetDescription(), Schema: t.GetInputSchema().AsMap(), CachePoint: t.GetCachePoint()})
	}
	return out
}

func toBackendToolChoice(tc *stratav1.ToolChoice) backend.ToolChoice {
	switch tc.GetMode() {
	case stratav1.ToolChoice_MODE_ANY:
		return backend.ToolChoice{Mode: backend.ToolChoiceAny}
	case stratav1.ToolChoice_MODE_NONE:
		return backend.ToolChoice{Mode: backend.ToolChoiceNone}
	case stratav1.ToolChoice_MODE_TOOL:
		return backend.ToolChoice{Mode: backend.ToolChoiceTool, Name: tc.GetName()}
	}
	return backend.ToolChoice{Mode: backend.ToolChoiceAuto}
}

func fromEffort(e stratav1.ReasoningEffort) (backend.Effort, bool) {
	switch e {
	case stratav1.ReasoningEffort_REASONING_EFFORT_NONE:
		return backend.EffortNone, true
	case stratav1.ReasoningEffort_REASONING_EFFORT_LOW:
		return backend.EffortLow, true
	case stratav1.ReasoningEffort_REASONING_EFFORT_MEDIUM:
		return backend.EffortMedium, true
	case stratav1.ReasoningEffort_REASONING_EFFORT_HIGH:
		return backend.EffortHigh, true
	}
	return backend.EffortNone, false
}

func toEffort(e backend.Effort) stratav1.ReasoningEffort {
	switch e {
	case backend.EffortLow:
		return stratav1.ReasoningEffort_REASONING_EFFORT_LOW
	case backend.EffortMedium:
		return stratav1.ReasoningEffort_REASONING_EFFORT_MEDIUM
	case backend.EffortHigh:
		return stratav1.ReasoningEffort_REASONING_EFFORT_HIGH
	}
	return stratav1.ReasoningEffort_REASONING_EFFORT_UNSPECIFIED
}

var stopReasons = map[backend.StopReason]stratav1.StopReason{
	backend.StopEndTurn:             stratav1.StopReason_STOP_REASON_END_TURN,
	backend.StopMaxTokens:           stratav1.StopReason_STOP_REASON_MAX_TOKENS,
	backend.StopSequence:            stratav1.StopReason_STOP_REASON_STOP_SEQUENCE,
	backend.StopToolUse:             stratav1.StopReason_STOP_REASON_TOOL_USE,
	backend.StopContentFiltered:     stratav1.StopReason_STOP_REASON_CONTENT_FILTERED,
	backend.StopGuardrailIntervened: stratav1.StopReason_STOP_REASON_GUARDRAIL_INTERVENED,
}

func toStopReason(s backend.StopReason) stratav1.StopReason { return stopReasons[s] }

func toUsage(u backend.Usage) *stratav1.Usage {
	return &stratav1.Usage{
		InputTokens:      u.Input,
		OutputTokens:     u.Output,
		TotalTokens:      u.Total(),
		CacheReadTokens:  u.CacheRead,
		CacheWriteTokens: u.CacheWrite,
	}
}

// fromBackendParts builds the reply message and its joined text and reasoning.
func fromBackendParts(parts []backend.Part) (msg *stratav1.Message, text, reasoning string) {
	msg = &stratav1.Message{Role: stratav1.Role_ROLE_ASSISTANT, Parts: make([]*stratav1.Part, 0, len(parts))}
	var texts, thoughts []string
	for _, p := range parts {
		switch p.Kind {
		case backend.PartText:
			texts = append(texts, p.Text)
			msg.Parts = append(msg.Parts, &stratav1.Part{Kind: &stratav1.Part_Text{Text: p.Text}})
		case backend.PartToolCall:
			args, err := structpb.NewStruct(p.ToolCall.Arguments)
			if err != nil {
				args = &structpb.Struct{}
			}
			msg.Parts = append(msg.Parts, &stratav1.Part{Kind: &stratav1.Part_ToolCall{ToolCall: &stratav1.ToolCall{Id: p.ToolCall.ID, Name: p.ToolCall.Name, Arguments: args}}})
		case backend.PartReasoning:
			thoughts = append(thoughts, p.Reasoning.Text)
			msg.Parts = append(msg.Parts, &stratav1.Part{Kind: &stratav1.Part_Reasoning{Reasoning: &stratav1.Reasoning{Text: p.Reasoning.Text, Signature: p.Reasoning.Signature, Redacted: p.Reasoning.Redacted}}})
		}
	}
	return msg, strings.Join(texts, ""), strings.Join(thoughts, "")
}

// fromServiceTier is Bedrock's name of a tier, or "" to leave it.
func fromServiceTier(t stratav1.ServiceTier) string {
	switch t {
	case stratav1.ServiceTier_SERVICE_TIER_DEFAULT:
		return "default"
	case stratav1.ServiceTier_SERVICE_TIER_PRIORITY:
		return "priority"
	case stratav1.ServiceTier_SERVICE_TIER_FLEX:
		return "flex"
	}
	return ""
}

// jsonOrNil is a Struct as a JSON object, or nil when it is not set.
func jsonOrNil(s *structpb.Struct) map[string]any {
	if s == nil {
		return nil
	}
	return s.AsMap()
}
