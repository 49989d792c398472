package service

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/strata-gateway/strata/catalog"
	stratav1 "github.com/strata-gateway/strata/gen/strata/v1"
)

// Request limits Strata enforces before calling Bedrock.
const (
	// maxEmbedInputs bounds one Embed call; larger sets should be split by the caller.
	maxEmbedInputs = 2048
	// maxStopSequences is the most stop sequences any Bedrock model takes.
	maxStopSequences = 8191
)

// toolNamePattern is Bedrock's rule for tool names.
var toolNamePattern = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// validateChat checks a chat request against what Bedrock would refuse, so the caller gets
// INVALID_ARGUMENT naming the field rather than an upstream error after a network round trip.
// model is the resolved model, nil when the catalog does not know it.
func validateChat(req *stratav1.ChatRequest, model *catalog.Model) error {
	var v []fieldViolation
	add := func(field, format string, args ...any) {
		v = append(v, fieldViolation{field, fmt.Sprintf(format, args...)})
	}
	if len(req.GetMessages()) == 0 {
		add("messages", "must hold at least one message")
	}
	conversation := 0
	for i, m := range req.GetMessages() {
		at := fmt.Sprintf("messages[%d]", i)
		switch m.GetRole() {
		case stratav1.Role_ROLE_USER, stratav1.Role_ROLE_ASSISTANT, stratav1.Role_ROLE_TOOL:
			conversation++
		case stratav1.Role_ROLE_SYSTEM:
		default:
			add(at+".role", "must be ROLE_SYSTEM, ROLE_USER, ROLE_ASSISTANT or ROLE_TOOL, got %v", m.GetRole())
		}
		switch {
		case m.GetText() == "" && len(m.GetParts()) == 0:
			add(at, "has no content: set text or parts")
		case m.GetText() == "" && onlyCachePoints(m.GetParts()):
			add(at, "has only cache points: a cache point marks the end of content before it")
		case m.GetText() != "" && strings.TrimSpace(m.GetText()) == "":
			add(at+".text", "must not be blank")
		}
		for j, p := range m.GetParts() {
			validatePart(fmt.Sprintf("%s.parts[%d]", at, j), m.GetRole(), p, add)
			if model != nil {
				checkModality(fmt.Sprintf("%s.parts[%d]", at, j), p, model, add)
			}
		}
	}
	if len(req.GetMessages()) > 0 && conversation == 0 {
		add("messages", "needs a user message besides the system messages")
	}
	if first := firstTurn(req.GetMessages()); first == stratav1.Role_ROLE_ASSISTANT && (model == nil || model.Family != catalog.FamilyClaude) {
		// Bedrock refuses a conversation that opens with the assistant, Claude's excepted.
		add("messages", "the first non-system message must be from the user")
	}
	if k := req.TopK; k != nil && *k < 1 {
		add("top_k", "must be at least 1, got %d", *k)
	}
	if _, ok := stratav1.ServiceTier_name[int32(req.GetServiceTier())]; !ok {
		add("service_tier", "unknown tier %v", req.GetServiceTier())
	}
	if g := req.GetGuardrail(); g != nil && (g.GetId() == "" || g.GetVersion() == "") {
		add("guardrail", "needs both id and version (a number, or DRAFT)")
	}
	if t := req.Temperature; t != nil && (*t < 0 || *t > 1) {
		add("temperature", "must be between 0 and 1, got %v", *t)
	}
	if p := req.TopP; p != nil && (*p < 0 || *p > 1) {
		add("top_p", "must be between 0 and 1, got %v", *p)
	}
	if mt := req.MaxTokens; mt != nil {
		switch {
		case *mt < 1:
			add("max_tokens", "must be at least 1, got %d", *mt)
		case model != nil && model.MaxOutputTokens > 0 && int(*mt) > model.MaxOutputTokens:
			add("max_tokens", "must be at most %d for %s, got %d", model.MaxOutputTokens, model.ID, *mt)
		}
	}
	if len(req.GetStop()) > maxStopSequences {
		add("stop", "takes at most %d sequences", maxStopSequences)
	}
	for i, s := range req.GetStop() {
		if s == "" {
			add(fmt.Sprintf("stop[%d]", i), "must not be empty")
		}
	}
	names := map[string]bool{}
	for i, t := range req.GetTools() {
		at := fmt.Sprintf("tools[%d]", i)
		switch {
		case t.GetName() == "":
			add(at+".name", "is required")
		case !toolNamePattern.MatchString(t.GetName()):
			add(at+".name", "must be 1 to 64 letters, digits, _ or -, got %q", t.GetName())
		case names[t.GetName()]:
			add(at+".name", "%q is used by another tool", t.GetName())
		}
		names[t.GetName()] = true
		if t.GetInputSchema() == nil {
			add(at+".input_schema", "is required: a JSON Schema object, e.g. {\"type\": \"object\", \"properties\": {}}")
		} else if typ, ok := t.GetInputSchema().GetFields()["type"]; ok && typ.GetStringValue() != "object" {
			add(at+".input_schema.type", "must be \"object\"")
		}
	}
	if tc := req.GetToolChoice(); tc != nil {
		switch tc.GetMode() {
		case stratav1.ToolChoice_MODE_TOOL:
			if !names[tc.GetName()] {
				add("tool_choice.name", "must name one of the request's tools, got %q", tc.GetName())
			}
		case stratav1.ToolChoice_MODE_ANY:
			if len(req.GetTools()) == 0 {
				add("tool_choice", "MODE_ANY needs at least one tool")
			}
		}
	}
	if model != nil && model.IsEmbedding() {
		add("model", "%s is an embedding model: use Embed, or choose a chat model", model.ID)
	}
	if model != nil && len(req.GetTools()) > 0 && !model.Tools {
		add("tools", "%s does not support tool use", model.ID)
	}
	if len(v) > 0 {
		return invalidArgument(v...)
	}
	return nil
}

func validatePart(at string, role stratav1.Role, p *stratav1.Part, add func(field, format string, args ...any)) {
	switch k := p.GetKind().(type) {
	case *stratav1.Part_Text:
		if strings.TrimSpace(k.Text) == "" {
			add(at+".text", "must not be empty")
		}
	case *stratav1.Part_Image:
		if len(k.Image.GetData()) == 0 {
			add(at+".image.data", "must not be empty")
		}
		if _, ok := imageFormats[k.Image.GetFormat()]; !ok {
			add(at+".image.format", "must be set (PNG, JPEG, GIF or WEBP)")
		}
	case *stratav1.Part_Document:
		if len(k.Document.GetData()) == 0 {
			add(at+".document.data", "must not be empty")
		}
		if _, ok := documentFormats[k.Document.GetFormat()]; !ok {
			add(at+".document.format", "must be set")
		}
		if k.Document.GetName() == "" {
			add(at+".document.name", "is required")
		}
	case *stratav1.Part_ToolCall:
		if role != stratav1.Role_ROLE_ASSISTANT {
			add(at+".tool_call", "belongs in an assistant message")
		}
		if k.ToolCall.GetId() == "" || k.ToolCall.GetName() == "" {
			add(at+".tool_call", "needs an id and a name")
		}
	case *stratav1.Part_ToolResult:
		if role != stratav1.Role_ROLE_TOOL && role != stratav1.Role_ROLE_USER {
			add(at+".tool_result", "belongs in a tool or user message")
		}
		if k.ToolResult.GetId() == "" {
			add(at+".tool_result.id", "must name the tool call it answers")
		}
	case *stratav1.Part_CachePoint:
		if ttl := k.CachePoint.GetTtl(); ttl != "" && ttl != "5m" && ttl != "1h" {
			add(at+".cache_point.ttl", `must be "5m" or "1h", got %q`, ttl)
		}
	case *stratav1.Part_Reasoning:
		if role != stratav1.Role_ROLE_ASSISTANT {
			add(at+".reasoning", "belongs in an assistant message")
		}
	case nil:
		add(at, "is empty: set one of text, image, document, tool_call, tool_result, reasoning")
	}
}

// firstTurn is the role of the first message that is not a system message.
func firstTurn(msgs []*stratav1.Message) stratav1.Role {
	for _, m := range msgs {
		if m.GetRole() != stratav1.Role_ROLE_SYSTEM {
			return m.GetRole()
		}
	}
	return stratav1.Role_ROLE_UNSPECIFIED
}

// checkModality refuses an image or document for a model that cannot read one.
func checkModality(at string, p *stratav1.Part, model *catalog.Model, add func(field, format string, args ...any)) {
	switch p.GetKind().(type) {
	case *stratav1.Part_Image:
		if !model.HasInput("IMAGE") {
			add(at+".image", "%s does not read images", model.ID)
		}
	case *stratav1.Part_Document:
		if !model.HasInput("DOCUMENT") {
			add(at+".document", "%s does not read documents", model.ID)
		}
	}
}

// validateEmbed checks an embed request.
func validateEmbed(req *stratav1.EmbedRequest, model *catalog.Model) error {
	var v []fieldViolation
	add := func(field, format string, args ...any) {
		v = append(v, fieldViolation{field, fmt.Sprintf(format, args...)})
	}
	if len(req.GetInputs()) == 0 {
		add("inputs", "must hold at least one text")
	}
	if len(req.GetInputs()) > maxEmbedInputs {
		add("inputs", "holds %d texts; at most %d per call", len(req.GetInputs()), maxEmbedInputs)
	}
	for i, in := range req.GetInputs() {
		if strings.TrimSpace(in) == "" {
			add(fmt.Sprintf("inputs[%d]", i), "must not be empty")
		}
	}
	if d := req.Dimensions; d != nil {
		if *d < 1 {
			add("dimensions", "must be positive, got %d", *d)
		} else if model != nil && model.Embedding != nil && !slices.Contains(model.Embedding.Dimensions, int(*d)) {
			add("dimensions", "%s offers %v, got %d", model.ID, model.Embedding.Dimensions, *d)
		}
	}
	if model != nil && !model.IsEmbedding() {
		add("model", "%s is not an embedding model", model.ID)
	}
	if len(v) > 0 {
		return invalidArgument(v...)
	}
	return nil
}

// onlyCachePoints reports parts that are all cache points.
func onlyCachePoints(parts []*stratav1.Part) bool {
	for _, p := range parts {
		if p.GetCachePoint() == nil {
			return false
		}
	}
	return true
}
