package bedrock

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/document"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/strata-gateway/strata/backend"
	"github.com/strata-gateway/strata/catalog"
)

// converseParams is the part of a Converse request that ConverseInput and ConverseStreamInput
// share, built once from a backend.ChatRequest.
type converseParams struct {
	modelID   string
	system    []types.SystemContentBlock
	messages  []types.Message
	inference *types.InferenceConfiguration
	tools     *types.ToolConfiguration
	fields    map[string]any
	metadata  map[string]string
	warnings  []string
}

func (p *converseParams) input() *bedrockruntime.ConverseInput {
	in := &bedrockruntime.ConverseInput{
		ModelId:         aws.String(p.modelID),
		System:          p.system,
		Messages:        p.messages,
		InferenceConfig: p.inference,
		ToolConfig:      p.tools,
		RequestMetadata: p.metadata,
	}
	if len(p.fields) > 0 {
		in.AdditionalModelRequestFields = document.NewLazyDocument(p.fields)
	}
	return in
}

func (p *converseParams) streamInput() *bedrockruntime.ConverseStreamInput {
	in := p.input()
	return &bedrockruntime.ConverseStreamInput{
		ModelId:                      in.ModelId,
		System:                       in.System,
		Messages:                     in.Messages,
		InferenceConfig:              in.InferenceConfig,
		ToolConfig:                   in.ToolConfig,
		RequestMetadata:              in.RequestMetadata,
		AdditionalModelRequestFields: in.AdditionalModelRequestFields,
	}
}

// Chat implements [backend.Backend] with Converse.
func (b *Backend) Chat(ctx context.Context, req *backend.ChatRequest) (*backend.ChatResponse, error) {
	p, err := b.converseParams(req)
	if err != nil {
		return nil, fmt.Errorf("converse: %w", err)
	}
	out, err := b.runtime.Converse(ctx, p.input())
	if err != nil {
		return nil, fmt.Errorf("converse: %w", b.toError(ctx, err, req.ModelID))
	}
	resp := &backend.ChatResponse{
		StopReason: backend.StopReason(out.StopReason),
		Usage:      usageOf(out.Usage),
		Warnings:   p.warnings,
	}
	if msg, ok := out.Output.(*types.ConverseOutputMemberMessage); ok {
		resp.Parts, err = partsOf(msg.Value.Content)
		if err != nil {
			return nil, fmt.Errorf("converse: %w", &backend.Error{Kind: backend.KindInternal, Message: err.Error(), Model: req.ModelID, Region: b.region, Err: err})
		}
	}
	return resp, nil
}

// converseParams maps a provider-neutral request to Bedrock's Converse shapes, applying the
// model's reasoning controls and the tool-choice emulation.
func (b *Backend) converseParams(req *backend.ChatRequest) (*converseParams, error) {
	if req.ModelID == "" {
		return nil, b.invalidf("", "no model id")
	}
	m := b.resolveModel(req.ModelID, req.Model)
	p := &converseParams{modelID: req.ModelID}
	for _, s := range req.System {
		if strings.TrimSpace(s) == "" {
			continue // Bedrock refuses a blank system block; an empty instruction says nothing
		}
		p.system = append(p.system, &types.SystemContentBlockMemberText{Value: s})
	}
	hasToolBlocks := false
	docs := 0
	for i, msg := range req.Messages {
		var role types.ConversationRole
		switch msg.Role {
		case backend.RoleUser:
			role = types.ConversationRoleUser
		case backend.RoleAssistant:
			role = types.ConversationRoleAssistant
		default:
			return nil, b.invalidf(req.ModelID, fmt.Sprintf("message %d: role %q is neither user nor assistant", i, msg.Role))
		}
		blocks := make([]types.ContentBlock, 0, len(msg.Parts))
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
		p.messages = append(p.messages, types.Message{Role: role, Content: blocks})
	}

	inf := inference{maxTokens: req.MaxTokens, temperature: req.Temperature, topP: req.TopP, stop: req.Stop}
	if err := b.toolConfig(req, p, hasToolBlocks); err != nil {
		return nil, err
	}
	if err := b.reasoning(req, m, p, &inf); err != nil {
		return nil, err
	}
	if m != nil && m.TemperatureOrTopP && inf.temperature != nil && inf.topP != nil {
		// These Claude models refuse both in one request (BerriAI/litellm#15070): keep the temperature.
		inf.topP = nil
		p.warnings = append(p.warnings, fmt.Sprintf("%s takes temperature or top_p, not both: top_p was not sent", m.ID))
	}
	p.inference = inf.config()
	if len(req.Metadata) > 0 {
		p.metadata = req.Metadata
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
func contentBlock(part *backend.Part, docs *int) (types.ContentBlock, error) {
	switch part.Kind {
	case backend.PartText:
		return &types.ContentBlockMemberText{Value: part.Text}, nil
	case backend.PartImage:
		return &types.ContentBlockMemberImage{Value: types.ImageBlock{
			Format: types.ImageFormat(strings.ToLower(part.Format)),
			Source: &types.ImageSourceMemberBytes{Value: part.Data},
		}}, nil
	case backend.PartDocument:
		*docs++
		return &types.ContentBlockMemberDocument{Value: types.DocumentBlock{
			Format: types.DocumentFormat(strings.ToLower(part.Format)),
			Name:   aws.String(documentName(part.Name, *docs)),
			Source: &types.DocumentSourceMemberBytes{Value: part.Data},
		}}, nil
	case backend.PartToolCall:
		tc := part.ToolCall
		if tc == nil {
			return nil, fmt.Errorf("a tool call part without its call")
		}
		args := tc.Arguments
		if args == nil {
			args = map[string]any{} // Bedrock wants an object, never null
		}
		return &types.ContentBlockMemberToolUse{Value: types.ToolUseBlock{
			ToolUseId: aws.String(tc.ID),
			Name:      aws.String(tc.Name),
			Input:     document.NewLazyDocument(args),
		}}, nil
	case backend.PartToolResult:
		tr := part.ToolResult
		if tr == nil {
			return nil, fmt.Errorf("a tool result part without its result")
		}
		block := types.ToolResultBlock{
			ToolUseId: aws.String(tr.ID),
			Content:   []types.ToolResultContentBlock{&types.ToolResultContentBlockMemberText{Value: tr.Content}},
		}
		if tr.IsError {
			block.Status = types.ToolResultStatusError
		}
		return &types.ContentBlockMemberToolResult{Value: block}, nil
	case backend.PartReasoning:
		r := part.Reasoning
		if r == nil {
			return nil, fmt.Errorf("a reasoning part without its reasoning")
		}
		if len(r.Redacted) > 0 {
			return &types.ContentBlockMemberReasoningContent{Value: &types.ReasoningContentBlockMemberRedactedContent{Value: r.Redacted}}, nil
		}
		rt := types.ReasoningTextBlock{Text: aws.String(r.Text)}
		if r.Signature != "" {
			rt.Signature = aws.String(r.Signature)
		}
		return &types.ContentBlockMemberReasoningContent{Value: &types.ReasoningContentBlockMemberReasoningText{Value: rt}}, nil
	}
	return nil, fmt.Errorf("unknown part kind %d", part.Kind)
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
	tc := &types.ToolConfiguration{}
	for _, t := range req.Tools {
		schema := t.Schema
		if schema == nil {
			schema = map[string]any{"type": "object", "properties": map[string]any{}}
		}
		spec := types.ToolSpecification{
			Name:        aws.String(t.Name),
			InputSchema: &types.ToolInputSchemaMemberJson{Value: document.NewLazyDocument(schema)},
		}
		if t.Description != "" {
			spec.Description = aws.String(t.Description)
		}
		tc.Tools = append(tc.Tools, &types.ToolMemberToolSpec{Value: spec})
	}
	switch req.ToolChoice.Mode {
	case backend.ToolChoiceAuto:
		// Auto is Bedrock's default; sending nothing keeps the request valid for models that
		// take tools but no toolChoice.
	case backend.ToolChoiceAny:
		tc.ToolChoice = &types.ToolChoiceMemberAny{Value: types.AnyToolChoice{}}
	case backend.ToolChoiceTool:
		if req.ToolChoice.Name == "" {
			return b.invalidf(req.ModelID, "tool choice names no tool")
		}
		tc.ToolChoice = &types.ToolChoiceMemberTool{Value: types.SpecificToolChoice{Name: aws.String(req.ToolChoice.Name)}}
	case backend.ToolChoiceNone:
		p.warnings = append(p.warnings, "tool choice none: the tools were sent because the conversation carries tool calls or results, which Bedrock accepts only with tools; the model may still call one")
	default:
		return b.invalidf(req.ModelID, fmt.Sprintf("unknown tool choice %d", req.ToolChoice.Mode))
	}
	p.tools = tc
	return nil
}

// inference is inferenceConfig while the reasoning controls may still change it.
type inference struct {
	maxTokens   *int
	temperature *float64
	topP        *float64
	stop        []string
}

func (inf *inference) config() *types.InferenceConfiguration {
	if inf.maxTokens == nil && inf.temperature == nil && inf.topP == nil && len(inf.stop) == 0 {
		return nil // the Go SDK never sends an empty inferenceConfig, and neither does Strata
	}
	c := &types.InferenceConfiguration{StopSequences: inf.stop}
	if inf.maxTokens != nil {
		c.MaxTokens = aws.Int32(int32(min(*inf.maxTokens, 1<<31-1)))
	}
	if inf.temperature != nil {
		c.Temperature = aws.Float32(float32(*inf.temperature))
	}
	if inf.topP != nil {
		c.TopP = aws.Float32(float32(*inf.topP))
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
	case catalog.ReasoningEffort:
		p.setField("reasoning_effort", string(effort))
	case catalog.ReasoningQwen:
		p.setField("reasoning_config", string(effort))
	case catalog.ReasoningAlways:
		p.warnings = append(p.warnings, fmt.Sprintf("reasoning effort %s ignored: %s always reasons and takes no effort setting", effort, m.ID))
	default:
		p.warnings = append(p.warnings, fmt.Sprintf("reasoning effort %s ignored: %s cannot reason", effort, m.ID))
	}
	return nil
}

func (p *converseParams) setField(key string, v any) {
	if p.fields == nil {
		p.fields = map[string]any{}
	}
	p.fields[key] = v
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
	if mode := req.ToolChoice.Mode; (mode == backend.ToolChoiceAny || mode == backend.ToolChoiceTool) && p.tools != nil {
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
func usageOf(u *types.TokenUsage) backend.Usage {
	if u == nil {
		return backend.Usage{}
	}
	return backend.Usage{
		Input:      int64(aws.ToInt32(u.InputTokens)),
		Output:     int64(aws.ToInt32(u.OutputTokens)),
		CacheRead:  int64(aws.ToInt32(u.CacheReadInputTokens)),
		CacheWrite: int64(aws.ToInt32(u.CacheWriteInputTokens)),
	}
}

// partsOf maps a reply's content blocks; blocks Strata has no part for (citations, images, ...)
// are skipped.
func partsOf(blocks []types.ContentBlock) ([]backend.Part, error) {
	parts := make([]backend.Part, 0, len(blocks))
	for _, block := range blocks {
		switch v := block.(type) {
		case *types.ContentBlockMemberText:
			parts = append(parts, backend.Part{Kind: backend.PartText, Text: v.Value})
		case *types.ContentBlockMemberToolUse:
			args, err := arguments(v.Value.Input)
			if err != nil {
				return nil, fmt.Errorf("tool call %s: %w", aws.ToString(v.Value.ToolUseId), err)
			}
			parts = append(parts, backend.Part{Kind: backend.PartToolCall, ToolCall: &backend.ToolCall{
				ID: aws.ToString(v.Value.ToolUseId), Name: aws.ToString(v.Value.Name), Arguments: args,
			}})
		case *types.ContentBlockMemberReasoningContent:
			switch r := v.Value.(type) {
			case *types.ReasoningContentBlockMemberReasoningText:
				parts = append(parts, backend.Part{Kind: backend.PartReasoning, Reasoning: &backend.Reasoning{
					Text: aws.ToString(r.Value.Text), Signature: aws.ToString(r.Value.Signature),
				}})
			case *types.ReasoningContentBlockMemberRedactedContent:
				parts = append(parts, backend.Part{Kind: backend.PartReasoning, Reasoning: &backend.Reasoning{Redacted: r.Value}})
			}
		}
	}
	return parts, nil
}

// arguments decodes a tool call's input document into plain JSON values (numbers as float64),
// going through its JSON so the result never holds the SDK's document types.
func arguments(d document.Interface) (map[string]any, error) {
	if d == nil {
		return map[string]any{}, nil
	}
	raw, err := d.MarshalSmithyDocument()
	if err != nil {
		return nil, err
	}
	return decodeArguments(raw)
}

func decodeArguments(raw []byte) (map[string]any, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("arguments are not JSON: %w", err)
	}
	switch args := v.(type) {
	case map[string]any:
		return args, nil
	case nil:
		return map[string]any{}, nil
	default:
		// Bedrock's toolUse input is a JSON object; keep anything else rather than lose it.
		return map[string]any{"value": args}, nil
	}
}
