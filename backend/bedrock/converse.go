package bedrock

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/strata-gateway/strata/backend"
	"github.com/strata-gateway/strata/catalog"
)

// converseParams is a Converse request built from a backend.ChatRequest: the body Converse and
// ConverseStream share, and what was changed to make it valid.
type converseParams struct {
	modelID  string
	body     converseRequest
	warnings []string
	// reasoning is true when the model will reason.
	reasoning bool
	// formatTool names the forced tool whose call is the reply (responseFormat), or "".
	formatTool string
}

// Chat implements [backend.Backend] with Converse.
func (b *Backend) Chat(ctx context.Context, req *backend.ChatRequest) (*backend.ChatResponse, error) {
	p, err := b.converseParams(req)
	if err != nil {
		return nil, fmt.Errorf("converse: %w", err)
	}
	payload, err := json.Marshal(&p.body)
	if err != nil {
		return nil, fmt.Errorf("converse: %w", b.internal(req.ModelID, "encode the request", err))
	}
	resp, err := b.postIn(ctx, req.Region, req.ModelID, opConverse, payload)
	if err != nil {
		return nil, fmt.Errorf("converse: %w", err)
	}
	defer resp.Body.Close()
	buf, err := b.buffers.read(resp.Body)
	defer b.buffers.put(buf)
	if err != nil {
		return nil, fmt.Errorf("converse: %w", b.toError(ctx, err, req.ModelID))
	}
	out, err := decodeConverse(buf.Bytes())
	if err != nil {
		return nil, fmt.Errorf("converse: %w", b.internal(req.ModelID, "Bedrock's reply did not parse", err))
	}
	chat := &backend.ChatResponse{
		StopReason: backend.StopReason(out.StopReason),
		Usage:      usageOf(out.Usage),
		Warnings:   p.warnings,
	}
	if out.ServiceTier != nil {
		chat.ServiceTier = out.ServiceTier.Type
	}
	chat.GuardrailSummary = guardrailSummary(chat.StopReason, out.Trace)
	if msg := out.Output.Message; msg != nil {
		chat.Parts = partsOf(msg.Content)
	}
	if p.formatTool != "" {
		chat.Parts, chat.StopReason = formatReply(chat.Parts, p.formatTool, chat.StopReason)
	}
	return chat, nil
}

// internal is a failure of Strata's own, such as a reply that does not parse.
func (b *Backend) internal(modelID, what string, err error) *backend.Error {
	return &backend.Error{Kind: backend.KindInternal, Model: modelID, Region: b.region, Message: what + ": " + err.Error(), Err: err}
}

// converseParams maps a provider-neutral request to Bedrock's Converse shapes, applying the
// model's reasoning controls and the tool-choice emulation.
func (b *Backend) converseParams(req *backend.ChatRequest) (*converseParams, error) {
	if req.ModelID == "" {
		return nil, b.invalidf("", "no model id")
	}
	m := b.resolveModel(req.ModelID, req.Model)
	p := &converseParams{modelID: req.ModelID}
	for i := range req.System {
		part := &req.System[i]
		switch {
		case part.Kind == backend.PartCachePoint:
			p.body.System = append(p.body.System, wireSystemBlock{CachePoint: cachePoint(part.CacheTTL)})
		case part.Kind == backend.PartText && strings.TrimSpace(part.Text) != "":
			// Bedrock refuses a blank system block; an empty instruction says nothing.
			p.body.System = append(p.body.System, wireSystemBlock{Text: &part.Text})
		}
	}
	hasToolBlocks := false
	docs := 0
	p.body.Messages = make([]wireMessage, 0, len(req.Messages))
	for i, msg := range req.Messages {
		switch msg.Role {
		case backend.RoleUser, backend.RoleAssistant:
		default:
			return nil, b.invalidf(req.ModelID, fmt.Sprintf("message %d: role %q is neither user nor assistant", i, msg.Role))
		}
		blocks := make([]wireBlock, 0, len(msg.Parts))
		for j := range msg.Parts {
			part := &msg.Parts[j]
			block, err := contentBlock(part, &docs)
			if err != nil {
				return nil, b.invalidf(req.ModelID, fmt.Sprintf("message %d part %d: %v", i, j, err))
			}
			if part.Kind == backend.PartToolCall || part.Kind == backend.PartToolResult {
				hasToolBlocks = true
			}
			blocks = append(blocks, block)
		}
		p.body.Messages = append(p.body.Messages, wireMessage{Role: string(msg.Role), Content: blocks})
	}

	inf := inference{maxTokens: req.MaxTokens, temperature: req.Temperature, topP: req.TopP, stop: req.Stop}
	if err := b.toolConfig(req, p, hasToolBlocks); err != nil {
		return nil, err
	}
	if err := b.reasoning(req, m, p, &inf); err != nil {
		return nil, err
	}
	if err := b.responseFormat(req, m, p); err != nil {
		return nil, err
	}
	b.requestOptions(req, m, p)
	b.promptCache(req, m, p)
	if m != nil && m.TemperatureOrTopP && inf.temperature != nil && inf.topP != nil {
		// These Claude models refuse both in one request (BerriAI/litellm#15070): keep the temperature.
		inf.topP = nil
		p.warnings = append(p.warnings, fmt.Sprintf("%s takes temperature or top_p, not both: top_p was not sent", m.ID))
	}
	p.body.InferenceConfig = inf.config()
	if len(req.Metadata) > 0 {
		p.body.RequestMetadata = req.Metadata
	}
	return p, nil
}

// documentNameInvalid matches what Bedrock refuses in a document name: it takes letters, digits,
// single spaces, hyphens, parentheses and square brackets only.
var documentNameInvalid = regexp.MustCompile(`[^A-Za-z0-9\-()\[\] ]+`)

// documentName makes a name Bedrock accepts: "report.pdf" becomes "report pdf"; none becomes
// "document N". Bedrock requires one and uses it only to tell documents apart.
func documentName(name string, n int) string {
	name = strings.Join(strings.Fields(documentNameInvalid.ReplaceAllString(name, " ")), " ")
	if name == "" {
		return fmt.Sprintf("document %d", n)
	}
	return name
}

// contentBlock maps one part to its Converse content block (bedrock-wire.md §2.2).
func contentBlock(part *backend.Part, docs *int) (wireBlock, error) {
	switch part.Kind {
	case backend.PartText:
		return wireBlock{Text: &part.Text}, nil
	case backend.PartImage:
		return wireBlock{Image: &wireImage{Format: strings.ToLower(part.Format), Source: wireSource{Bytes: part.Data}}}, nil
	case backend.PartDocument:
		*docs++
		return wireBlock{Document: &wireDocument{
			Format: strings.ToLower(part.Format),
			Name:   documentName(part.Name, *docs),
			Source: wireSource{Bytes: part.Data},
		}}, nil
	case backend.PartToolCall:
		tc := part.ToolCall
		if tc == nil {
			return wireBlock{}, fmt.Errorf("a tool call part without its call")
		}
		var args any = tc.Arguments
		if tc.Arguments == nil {
			args = struct{}{} // Bedrock wants an object, never null
		}
		return wireBlock{ToolUse: &wireToolUse{ToolUseID: tc.ID, Name: tc.Name, Input: args}}, nil
	case backend.PartToolResult:
		tr := part.ToolResult
		if tr == nil {
			return wireBlock{}, fmt.Errorf("a tool result part without its result")
		}
		block := &wireToolResult{ToolUseID: tr.ID}
		if tr.Content != "" || tr.JSON == nil {
			block.Content = append(block.Content, wireToolResultContent{Text: &tr.Content})
		}
		if tr.JSON != nil {
			block.Content = append(block.Content, wireToolResultContent{JSON: tr.JSON})
		}
		if tr.IsError {
			block.Status = "error"
		}
		return wireBlock{ToolResult: block}, nil
	case backend.PartCachePoint:
		return wireBlock{CachePoint: cachePoint(part.CacheTTL)}, nil
	case backend.PartReasoning:
		r := part.Reasoning
		if r == nil {
			return wireBlock{}, fmt.Errorf("a reasoning part without its reasoning")
		}
		if len(r.Redacted) > 0 {
			return wireBlock{ReasoningContent: &wireReasoning{RedactedContent: r.Redacted}}, nil
		}
		return wireBlock{ReasoningContent: &wireReasoning{ReasoningText: &wireReasoningText{Text: r.Text, Signature: r.Signature}}}, nil
	}
	return wireBlock{}, fmt.Errorf("unknown part kind %d", part.Kind)
}

// toolConfig maps tools and the tool choice.
//
// Bedrock has no tool choice "none" (ToolChoice is auto, any or a named tool, §2.2). Strata
// emulates it by sending no toolChoice and no tools at all, so the model cannot call one; but
// Bedrock refuses toolUse and toolResult blocks without a toolConfig, so when the conversation
// carries such blocks the tools are kept (under auto) and a warning says the model may still
// call one.
func (b *Backend) toolConfig(req *backend.ChatRequest, p *converseParams, hasToolBlocks bool) error {
	if len(req.Tools) == 0 {
		if req.ToolChoice.Mode == backend.ToolChoiceAny || req.ToolChoice.Mode == backend.ToolChoiceTool {
			return b.invalidf(req.ModelID, "a tool choice that requires a tool call needs tools")
		}
		return nil
	}
	if req.ToolChoice.Mode == backend.ToolChoiceNone && !hasToolBlocks {
		p.warnings = append(p.warnings, "tool choice none: the tools were not sent, as Bedrock has no way to offer tools and forbid calling them")
		return nil
	}
	tc := &wireToolConfig{Tools: make([]wireTool, 0, len(req.Tools))}
	for _, t := range req.Tools {
		var schema any = t.Schema
		if t.Schema == nil {
			schema = noArguments{Type: "object"}
		}
		tc.Tools = append(tc.Tools, wireTool{ToolSpec: &wireToolSpec{
			Name: t.Name, Description: t.Description, InputSchema: wireInputSchema{JSON: schema},
		}})
		if t.CachePoint {
			tc.Tools = append(tc.Tools, wireTool{CachePoint: cachePoint("")})
		}
	}
	switch req.ToolChoice.Mode {
	case backend.ToolChoiceAuto:
		// Auto is Bedrock's default; sending nothing keeps the request valid for models that
		// take tools but no toolChoice.
	case backend.ToolChoiceAny:
		tc.ToolChoice = &wireToolChoice{Any: &struct{}{}}
	case backend.ToolChoiceTool:
		if req.ToolChoice.Name == "" {
			return b.invalidf(req.ModelID, "tool choice names no tool")
		}
		tc.ToolChoice = &wireToolChoice{Tool: &wireNamedTool{Name: req.ToolChoice.Name}}
	case backend.ToolChoiceNone:
		p.warnings = append(p.warnings, "tool choice none: the tools were sent because the conversation carries tool calls or results, which Bedrock accepts only with tools; the model may still call one")
	default:
		return b.invalidf(req.ModelID, fmt.Sprintf("unknown tool choice %d", req.ToolChoice.Mode))
	}
	p.body.ToolConfig = tc
	return nil
}

// noArguments is the schema of a tool that takes no arguments: {"type":"object","properties":{}}.
type noArguments struct {
	Type       string   `json:"type"`
	Properties struct{} `json:"properties"`
}

// inference is inferenceConfig while the reasoning controls may still change it.
type inference struct {
	maxTokens   *int
	temperature *float64
	topP        *float64
	stop        []string
}

func (inf *inference) config() *wireInference {
	if inf.maxTokens == nil && inf.temperature == nil && inf.topP == nil && len(inf.stop) == 0 {
		return nil // the Go SDK never sends an empty inferenceConfig, and neither does Strata
	}
	c := &wireInference{StopSequences: inf.stop}
	if inf.maxTokens != nil {
		n := min(*inf.maxTokens, 1<<31-1) // an int32 on the wire
		c.MaxTokens = &n
	}
	if inf.temperature != nil {
		t := float32(*inf.temperature)
		c.Temperature = &t
	}
	if inf.topP != nil {
		t := float32(*inf.topP)
		c.TopP = &t
	}
	return c
}

// Claude's thinking limits (Anthropic's extended-thinking rules, enforced by Bedrock).
const (
	// minThinkingBudget is the smallest budget_tokens Claude accepts.
	minThinkingBudget = 1024
	// minReplyRoom is the least max_tokens keeps above the budget for the answer itself.
	minReplyRoom = 1024
	// defaultReplyTokens is the answer's room when the caller set no max_tokens: Claude requires
	// max_tokens above the budget, so with thinking on Strata must always send one.
	defaultReplyTokens = 4096
)

// reasoning applies the request's effort through the model's native control (catalog.Reasoning),
// changing inferenceConfig where the model requires it and saying so in warnings.
func (b *Backend) reasoning(req *backend.ChatRequest, m *catalog.Model, p *converseParams, inf *inference) error {
	effort := req.Effort
	if m != nil && m.Reasoning == catalog.ReasoningAlways {
		p.reasoning = true // whatever the effort
	}
	switch effort {
	case backend.EffortNone:
		return nil
	case backend.EffortLow, backend.EffortMedium, backend.EffortHigh:
	default:
		return b.invalidf(req.ModelID, fmt.Sprintf("unknown reasoning effort %q: use low, medium or high", effort))
	}
	if m == nil {
		p.warnings = append(p.warnings, fmt.Sprintf("reasoning effort %s ignored: the catalog does not know %s, so how it reasons is unknown", effort, req.ModelID))
		return nil
	}
	switch m.Reasoning {
	case catalog.ReasoningBudget, catalog.ReasoningAdaptive:
		return b.claudeThinking(req, m, p, inf)
	case catalog.ReasoningNova:
		p.setField("reasoningConfig", map[string]any{"type": "enabled", "maxReasoningEffort": string(effort)})
		p.reasoning = true
	case catalog.ReasoningEffort:
		p.setField("reasoning_effort", string(effort))
		p.reasoning = true
	case catalog.ReasoningQwen:
		p.setField("reasoning_config", string(effort))
		p.reasoning = true
	case catalog.ReasoningAlways:
		p.warnings = append(p.warnings, fmt.Sprintf("reasoning effort %s ignored: %s always reasons and takes no effort setting", effort, m.ID))
	default:
		p.warnings = append(p.warnings, fmt.Sprintf("reasoning effort %s ignored: %s cannot reason", effort, m.ID))
	}
	return nil
}

func (p *converseParams) setField(key string, v any) {
	if p.body.AdditionalModelRequestFields == nil {
		p.body.AdditionalModelRequestFields = map[string]any{}
	}
	p.body.AdditionalModelRequestFields[key] = v
}

// claudeThinking turns thinking on for Claude so that Bedrock always accepts the request:
// budget_tokens at least 1024 and below max_tokens, max_tokens raised to hold the budget plus the
// answer (within the model's limit), temperature 1 and no top_p (Claude refuses others while
// thinking). Claude 4.6+ takes adaptive thinking with an effort instead of a budget.
//
// Thinking stays off, with a warning, where Claude would refuse it: when the tool choice forces a
// tool call, when the conversation ends with a prefilled assistant turn, and when it answers tool
// calls whose assistant turn does not start with its thinking block (the caller did not send it back).
func (b *Backend) claudeThinking(req *backend.ChatRequest, m *catalog.Model, p *converseParams, inf *inference) error {
	if mode := req.ToolChoice.Mode; (mode == backend.ToolChoiceAny || mode == backend.ToolChoiceTool) && p.body.ToolConfig != nil {
		p.warnings = append(p.warnings, "reasoning off: Claude cannot think when the tool choice forces a tool call")
		return nil
	}
	if n := len(req.Messages); n > 0 && req.Messages[n-1].Role == backend.RoleAssistant {
		// Anthropic: a prefilled assistant turn cannot be combined with extended thinking.
		p.warnings = append(p.warnings, "reasoning off: Claude cannot think when the conversation ends with a prefilled assistant turn")
		return nil
	}
	if i, ok := missingThinkingBlock(req.Messages); ok {
		p.warnings = append(p.warnings, fmt.Sprintf("reasoning off: message %d calls tools without the thinking block that preceded them; send reasoning parts back to keep thinking on", i))
		return nil
	}
	if m.Reasoning == catalog.ReasoningAdaptive {
		p.setField("thinking", map[string]any{"type": "adaptive"})
		p.setField("output_config", map[string]any{"effort": string(req.Effort)})
		p.reasoning = true
	} else {
		budget := req.ReasoningBudget
		if budget <= 0 {
			budget = b.budgets[req.Effort]
		}
		if budget < minThinkingBudget {
			p.warnings = append(p.warnings, fmt.Sprintf("reasoning budget raised from %d to Claude's minimum of %d tokens", budget, minThinkingBudget))
			budget = minThinkingBudget
		}
		reply := defaultReplyTokens
		if inf.maxTokens != nil {
			reply = *inf.maxTokens
		}
		maxTokens := budget + max(minReplyRoom, reply)
		if limit := m.MaxOutputTokens; limit > 0 && maxTokens > limit {
			maxTokens = limit
			if budget > maxTokens-minReplyRoom {
				lowered := maxTokens - minReplyRoom
				if lowered < minThinkingBudget {
					p.warnings = append(p.warnings, fmt.Sprintf("reasoning off: %s's %d output tokens leave no room for a %d-token thinking budget", m.ID, limit, minThinkingBudget))
					return nil
				}
				p.warnings = append(p.warnings, fmt.Sprintf("reasoning budget lowered from %d to %d tokens to fit below max_tokens %d", budget, lowered, maxTokens))
				budget = lowered
			}
		}
		if inf.maxTokens != nil && *inf.maxTokens != maxTokens {
			p.warnings = append(p.warnings, fmt.Sprintf("max_tokens raised from %d to %d: Claude counts its %d thinking tokens in max_tokens", *inf.maxTokens, maxTokens, budget))
		}
		inf.maxTokens = &maxTokens
		p.setField("thinking", map[string]any{"type": "enabled", "budget_tokens": budget})
		p.reasoning = true
	}
	if inf.temperature != nil && *inf.temperature != 1 {
		p.warnings = append(p.warnings, fmt.Sprintf("temperature %v replaced by 1: Claude takes no other while thinking", *inf.temperature))
		one := 1.0
		inf.temperature = &one
	}
	if inf.topP != nil {
		p.warnings = append(p.warnings, fmt.Sprintf("top_p %v dropped: Claude restricts it while thinking", *inf.topP))
		inf.topP = nil
	}
	return nil
}

// missingThinkingBlock reports the assistant message that breaks Claude's rule for thinking with
// tools: when the last message answers tool calls, the assistant turn that made them must start
// with its thinking block.
func missingThinkingBlock(msgs []backend.Message) (int, bool) {
	n := len(msgs)
	if n < 2 || msgs[n-1].Role != backend.RoleUser || msgs[n-2].Role != backend.RoleAssistant {
		return 0, false
	}
	answersTools := false
	for _, part := range msgs[n-1].Parts {
		if part.Kind == backend.PartToolResult {
			answersTools = true
		}
	}
	asst := msgs[n-2]
	if !answersTools || len(asst.Parts) == 0 || asst.Parts[0].Kind == backend.PartReasoning {
		return 0, false
	}
	return n - 2, true
}

// usageOf maps Bedrock's token usage. Bedrock's inputTokens already exclude cached tokens, as
// backend.Usage's Input does (totalTokens = input + output + cacheRead + cacheWrite, §2.3).
func usageOf(u *wireUsage) backend.Usage {
	if u == nil {
		return backend.Usage{}
	}
	out := backend.Usage{Input: u.InputTokens, Output: u.OutputTokens, CacheRead: u.CacheReadInputTokens, CacheWrite: u.CacheWriteInputTokens}
	for _, d := range u.CacheDetails {
		if d.TTL == "1h" {
			out.CacheWrite1h += d.InputTokens
		}
	}
	out.CacheWrite1h = min(out.CacheWrite1h, out.CacheWrite)
	return out
}

// partsOf maps a reply's content blocks; blocks Strata has no part for (citations, images, ...)
// are skipped.
func partsOf(blocks []wireBlock) []backend.Part {
	parts := make([]backend.Part, 0, len(blocks))
	for _, block := range blocks {
		switch {
		case block.Text != nil:
			parts = append(parts, backend.Part{Kind: backend.PartText, Text: *block.Text})
		case block.ToolUse != nil:
			tu := block.ToolUse
			parts = append(parts, backend.Part{Kind: backend.PartToolCall, ToolCall: &backend.ToolCall{
				ID: tu.ToolUseID, Name: tu.Name, Arguments: argumentsOf(tu.Input),
			}})
		case block.ReasoningContent != nil:
			r := block.ReasoningContent
			switch {
			case r.ReasoningText != nil:
				parts = append(parts, backend.Part{Kind: backend.PartReasoning, Reasoning: &backend.Reasoning{
					Text: r.ReasoningText.Text, Signature: r.ReasoningText.Signature,
				}})
			case len(r.RedactedContent) > 0:
				parts = append(parts, backend.Part{Kind: backend.PartReasoning, Reasoning: &backend.Reasoning{Redacted: r.RedactedContent}})
			}
		}
	}
	return parts
}

// argumentsOf turns a decoded tool input into the arguments object.
func argumentsOf(v any) map[string]any {
	switch args := v.(type) {
	case map[string]any:
		return args
	case nil:
		return map[string]any{}
	default:
		// Bedrock's toolUse input is a JSON object; keep anything else rather than lose it.
		return map[string]any{"value": args}
	}
}

// requestOptions maps the request's Bedrock options: top_k through the family's native field
// (Converse has none), the service tier, latency-optimized inference, a guardrail, and the
// caller's own additionalModelRequestFields, which win over Strata's.
func (b *Backend) requestOptions(req *backend.ChatRequest, m *catalog.Model, p *converseParams) {
	if req.TopK != nil {
		switch {
		case m != nil && m.Family == catalog.FamilyClaude && p.reasoning:
			p.warnings = append(p.warnings, fmt.Sprintf("top_k %d dropped: Claude restricts it while thinking", *req.TopK))
		case m != nil && m.Family == catalog.FamilyClaude:
			p.setField("top_k", *req.TopK)
		case m != nil && m.Family == catalog.FamilyNova:
			p.setField("inferenceConfig", map[string]any{"topK": *req.TopK})
		default:
			p.warnings = append(p.warnings, fmt.Sprintf("top_k %d dropped: Strata knows no way to pass it to %s", *req.TopK, req.ModelID))
		}
	}
	if req.ServiceTier != "" {
		p.body.ServiceTier = &wireServiceTier{Type: req.ServiceTier}
	}
	if req.LatencyOptimized {
		p.body.PerformanceConfig = &wireLatency{Latency: "optimized"}
	}
	if g := req.Guardrail; g != nil {
		p.body.GuardrailConfig = &wireGuardrail{GuardrailIdentifier: g.ID, GuardrailVersion: g.Version}
		if g.Trace {
			p.body.GuardrailConfig.Trace = "enabled"
		}
	}
	for k, v := range req.AdditionalFields {
		p.setField(k, v)
	}
}
