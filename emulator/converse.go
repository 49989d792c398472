package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/strata-gateway/strata/catalog"
)

// decodeConverse reads a Converse body. Bedrock refuses bodies that are not JSON objects.
func decodeConverse(body []byte) (*converseRequest, *apiError) {
	var req converseRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, validationf("Malformed input request: %s, please reformat your input and try again.", jsonProblem(err))
	}
	return &req, nil
}

// jsonProblem describes a JSON decoding error without echoing the caller's data.
func jsonProblem(err error) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return fmt.Sprintf("%s: expected %s, found %s", typeErr.Field, typeErr.Type, typeErr.Value)
	}
	var syntaxErr *json.SyntaxError
	if errors.As(err, &syntaxErr) {
		return fmt.Sprintf("invalid JSON at offset %d", syntaxErr.Offset)
	}
	return "the body is not valid JSON for this operation"
}

// toolNamePattern is the name rule of Bedrock's ToolSpecification.
var toolNamePattern = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// converseTurn validates a Converse request as Bedrock does and reduces it to a turn. The messages
// name the field at fault, in Bedrock's words where a recording or trace shows them.
func (e *Emulator) converseTurn(m *catalog.Model, req *converseRequest, streaming bool) (*turn, *apiError) {
	if m.IsEmbedding() {
		return nil, validationf("This action doesn't support the model that you provided. Try again with a supported text or chat model.")
	}
	if streaming && !m.Streaming {
		return nil, validationf("The model is unsupported for streaming.")
	}
	t := &turn{model: m, maxTokens: m.MaxOutputTokens}
	var tally tokenTally
	if m.Family == catalog.FamilyClaude {
		tally.tokens = claudeRequestExtra
	}
	if err := e.checkToolConfig(m, req, t, &tally); err != nil {
		return nil, err
	}
	for i, s := range req.System {
		switch {
		case s.Text != nil:
			if strings.TrimSpace(*s.Text) == "" {
				return nil, validationf("The text field in the SystemContentBlock object at system.%d is blank. Add text to the text field, and try again.", i)
			}
			tally.add(countTokens(*s.Text), s.Text)
		case s.CachePoint != nil:
			if err := checkCachePoint(s.CachePoint, fmt.Sprintf("system.%d", i)); err != nil {
				return nil, err
			}
			tally.cachePoint(s.CachePoint)
		case s.GuardContent != nil:
			tally.add(countTokens(string(s.GuardContent)), s.GuardContent)
		default:
			return nil, validationf("The SystemContentBlock object at system.%d must set one member.", i)
		}
	}
	if err := e.checkMessages(m, req, t, &tally); err != nil {
		return nil, err
	}
	if err := checkInference(m, req.InferenceConfig, t); err != nil {
		return nil, err
	}
	if err := checkModelFields(m, req, t); err != nil {
		return nil, err
	}
	if err := checkOutputConfig(m, req.OutputConfig, t); err != nil {
		return nil, err
	}
	if err := checkServiceOptions(req); err != nil {
		return nil, err
	}
	t.guardrail = e.guardrailHit(req.GuardrailConfig, t.lastUserText)
	if tally.tokens > m.ContextWindow {
		return nil, validationf("Input is too long for requested model.")
	}
	t.inputTokens, t.cache = tally.tokens, tally.cache
	t.fingerprint = tally.hash[:]
	return t, nil
}

func checkCachePoint(cp *cachePointBlock, at string) *apiError {
	if cp.Type != "default" {
		return validationf("1 validation error detected: Value '%s' at '%s.cachePoint.type' failed to satisfy constraint: Member must satisfy enum value set: [default]", cp.Type, at)
	}
	if cp.TTL != "" && cp.TTL != "5m" && cp.TTL != "1h" {
		return validationf("1 validation error detected: Value '%s' at '%s.cachePoint.ttl' failed to satisfy constraint: Member must satisfy enum value set: [5m, 1h]", cp.TTL, at)
	}
	return nil
}

func (e *Emulator) checkToolConfig(m *catalog.Model, req *converseRequest, t *turn, tally *tokenTally) *apiError {
	tc := req.ToolConfig
	if tc == nil {
		return nil
	}
	if !m.Tools {
		return validationf("This model doesn't support tool use.")
	}
	if len(tc.Tools) == 0 {
		return validationf("1 validation error detected: Value '[]' at 'toolConfig.tools' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	seen := map[string]bool{}
	for i, tl := range tc.Tools {
		at := fmt.Sprintf("toolConfig.tools.%d", i)
		switch {
		case tl.ToolSpec != nil:
			spec := tl.ToolSpec
			if !toolNamePattern.MatchString(spec.Name) {
				return validationf("1 validation error detected: Value '%s' at '%s.member.toolSpec.name' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_-]{1,64}", spec.Name, at)
			}
			if seen[spec.Name] {
				return validationf("The toolConfig field contains duplicate tool names: %s. Tool names must be unique.", spec.Name)
			}
			seen[spec.Name] = true
			var schema map[string]any
			if err := json.Unmarshal(spec.InputSchema.JSON, &schema); err != nil || schema == nil {
				return validationf("The value at %s.toolSpec.inputSchema.json is not a JSON object. Provide a JSON Schema object and try again.", at)
			}
			if typ, ok := schema["type"]; ok && typ != "object" {
				return validationf("The model returned the following errors: tools.%d.custom.input_schema.type: Input should be 'object'", i)
			}
			t.tools = append(t.tools, toolDef{name: spec.Name, description: spec.Description, schema: schema})
			tally.add(countTokens(spec.Name+" "+spec.Description+" "+string(spec.InputSchema.JSON)), spec)
		case tl.SystemTool != nil:
			t.serverTools = true
			tally.add(countTokens(tl.SystemTool.Name), tl.SystemTool)
		case tl.CachePoint != nil:
			if err := checkCachePoint(tl.CachePoint, at); err != nil {
				return err
			}
			tally.cachePoint(tl.CachePoint)
		default:
			return validationf("The Tool object at %s must set one member.", at)
		}
	}
	if tc.ToolChoice != nil {
		switch ch := tc.ToolChoice; {
		case ch.Auto != nil:
			t.choice = choiceAuto
		case ch.Any != nil:
			t.choice = choiceAny
		case ch.Tool != nil:
			if !seen[ch.Tool.Name] {
				return validationf("The tool %s specified in toolConfig.toolChoice is not defined in toolConfig.tools.", ch.Tool.Name)
			}
			t.choice, t.forcedTool = choiceTool, ch.Tool.Name
		default:
			return validationf("The ToolChoice object at toolConfig.toolChoice must set one member.")
		}
	}
	return nil
}

// checkMessages applies Bedrock's conversation rules and counts the messages' tokens.
func (e *Emulator) checkMessages(m *catalog.Model, req *converseRequest, t *turn, tally *tokenTally) *apiError {
	msgs := req.Messages
	if len(msgs) == 0 {
		return validationf("A conversation must start with a user message. Try again with a conversation that starts with a user message.")
	}
	// Claude accepts a history that opens with an assistant turn (recorded:
	// test_bedrock_anthropic_message_history_starting_with_response.yaml); the others do not.
	if msgs[0].Role != "user" && m.Family != catalog.FamilyClaude {
		return validationf("A conversation must start with a user message. Try again with a conversation that starts with a user message.")
	}
	var pendingToolUses []string // ids the previous assistant turn asked for
	for i, msg := range msgs {
		if msg.Role != "user" && msg.Role != "assistant" {
			return validationf("1 validation error detected: Value '%s' at 'messages.%d.member.role' failed to satisfy constraint: Member must satisfy enum value set: [user, assistant]", msg.Role, i)
		}
		if i > 0 && msgs[i-1].Role == msg.Role {
			return validationf("A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.")
		}
		if len(msg.Content) == 0 {
			return validationf("The content field in the Message object at messages.%d is empty. Add a ContentBlock object to the content field and try again.", i)
		}
		if j := blankTextAt(msg); j >= 0 {
			return validationf("The text field in the ContentBlock object at messages.%d.content.%d is blank. Add text to the text field, and try again.", i, j)
		}
		tally.add(tokensPerMessage, msg.Role)
		var toolUses, toolResults []string
		for j := range msg.Content {
			b := &msg.Content[j]
			at := fmt.Sprintf("messages.%d.content.%d", i, j)
			if b.members() != 1 {
				return validationf("The ContentBlock object at %s must set exactly one member.", at)
			}
			if err := e.checkBlock(m, msg.Role, b, at, tally); err != nil {
				return err
			}
			switch {
			case b.Text != nil && msg.Role == "user" && strings.Contains(*b.Text, redactedThinkingTrigger):
				t.redactThinking = true
			case b.ToolUse != nil:
				toolUses = append(toolUses, b.ToolUse.ToolUseID)
			case b.ToolResult != nil:
				toolResults = append(toolResults, b.ToolResult.ToolUseID)
			}
		}
		if (len(toolUses) > 0 || len(toolResults) > 0) && req.ToolConfig == nil {
			return validationf("The toolConfig field must be defined when using toolUse and toolResult content blocks.")
		}
		if msg.Role == "assistant" {
			// A server tool's call and result both sit in the assistant turn that ran it.
			toolUses = slices.DeleteFunc(toolUses, func(id string) bool { return slices.Contains(toolResults, id) })
		}
		if msg.Role == "user" {
			for _, id := range toolResults {
				if !slices.Contains(pendingToolUses, id) {
					return validationf("The toolResult blocks at messages.%d.content contain an id that does not match any toolUse block of the previous turn: %s.", i, id)
				}
			}
			var missing []string
			for _, id := range pendingToolUses {
				if !slices.Contains(toolResults, id) {
					missing = append(missing, id)
				}
			}
			if len(missing) > 0 {
				return validationf("Expected toolResult blocks at messages.%d.content for the following Ids: %s", i, strings.Join(missing, ", "))
			}
		}
		pendingToolUses = toolUses
	}
	last := msgs[len(msgs)-1]
	if last.Role == "user" {
		t.lastUserText = userText(last)
		t.answeringToolResult = slices.ContainsFunc(last.Content, func(b contentBlock) bool { return b.ToolResult != nil })
	} else if len(pendingToolUses) > 0 {
		return validationf("Expected toolResult blocks at messages.%d.content for the following Ids: %s", len(msgs), strings.Join(pendingToolUses, ", "))
	}
	return nil
}

// blankTextAt returns the index of a message's first whitespace-only text block when no text
// block of the message has other text, else -1. Bedrock refuses a message whose text is all
// blank, but accepted {"text": "\n"} beside real text (test_bedrock_cache_write_and_read.yaml).
func blankTextAt(msg message) int {
	first := -1
	for j, b := range msg.Content {
		switch {
		case b.Text == nil:
		case strings.TrimSpace(*b.Text) != "":
			return -1
		case first < 0:
			first = j
		}
	}
	return first
}

// userText joins the text a user message carries, tool results included.
func userText(msg message) string {
	var parts []string
	for _, b := range msg.Content {
		switch {
		case b.Text != nil:
			parts = append(parts, *b.Text)
		case b.ToolResult != nil:
			for _, c := range b.ToolResult.Content {
				if c.Text != nil {
					parts = append(parts, *c.Text)
				} else if c.JSON != nil {
					parts = append(parts, string(c.JSON))
				}
			}
		}
	}
	return strings.Join(parts, " ")
}

var (
	imageFormats    = []string{"png", "jpeg", "gif", "webp"}
	documentFormats = []string{"pdf", "csv", "doc", "docx", "xls", "xlsx", "html", "txt", "md"}
)

func (e *Emulator) checkBlock(m *catalog.Model, role string, b *contentBlock, at string, tally *tokenTally) *apiError {
	switch {
	case b.Text != nil:
		// Whitespace beside real text is accepted ({"text": "\n"} in test_bedrock_cache_write_and_read.yaml);
		// a message whose text is all blank is refused by blankTextAt.
		if *b.Text == "" {
			return validationf("The text field in the ContentBlock object at %s is blank. Add text to the text field, and try again.", at)
		}
		tally.add(countTokens(*b.Text), b.Text)
	case b.Image != nil:
		if err := checkMedia(m, "IMAGE", "image", b.Image.Format, imageFormats, &b.Image.Source, at); err != nil {
			return err
		}
		tally.add(imageTokens, b.Image)
	case b.Document != nil:
		if err := checkDocument(b.Document, at); err != nil {
			return err
		}
		tally.add(documentTokens(b.Document), b.Document)
	case b.Video != nil:
		if err := checkMedia(m, "VIDEO", "video", b.Video.Format, []string{"mkv", "mov", "mp4", "webm", "flv", "mpeg", "mpg", "wmv", "three_gp"}, &b.Video.Source, at); err != nil {
			return err
		}
		tally.add(bytesTokens(len(b.Video.Source.Bytes)), b.Video)
	case b.Audio != nil:
		return validationf("This model doesn't support the audio content block at %s. Remove it and try again.", at)
	case b.ToolUse != nil:
		if role != "assistant" {
			return validationf("The toolUse block at %s is only allowed in an assistant message.", at)
		}
		if b.ToolUse.ToolUseID == "" || b.ToolUse.Name == "" {
			return validationf("The toolUse block at %s needs a toolUseId and a name.", at)
		}
		tally.add(countTokens(b.ToolUse.Name+" "+string(b.ToolUse.Input)), b.ToolUse)
	case b.ToolResult != nil:
		if role != "user" && b.ToolResult.Type == "" {
			return validationf("The toolResult block at %s is only allowed in a user message.", at)
		}
		if s := b.ToolResult.Status; s != "" && s != "success" && s != "error" {
			return validationf("1 validation error detected: Value '%s' at '%s.toolResult.status' failed to satisfy constraint: Member must satisfy enum value set: [success, error]", s, at)
		}
		for k, c := range b.ToolResult.Content {
			switch {
			case c.Text != nil:
				tally.add(countTokens(*c.Text), c.Text)
			case c.JSON != nil:
				tally.add(countTokens(string(c.JSON)), c.JSON)
			case c.Image != nil:
				tally.add(imageTokens, c.Image)
			case c.Document != nil:
				if err := checkDocument(c.Document, fmt.Sprintf("%s.toolResult.content.%d", at, k)); err != nil {
					return err
				}
				tally.add(documentTokens(c.Document), c.Document)
			}
		}
		tally.add(0, b.ToolResult.ToolUseID)
	case b.CachePoint != nil:
		if err := checkCachePoint(b.CachePoint, at); err != nil {
			return err
		}
		tally.cachePoint(b.CachePoint)
	case b.ReasoningContent != nil:
		if role != "assistant" {
			return validationf("The reasoningContent block at %s is only allowed in an assistant message.", at)
		}
		if rt := b.ReasoningContent.ReasoningText; rt != nil {
			tally.add(countTokens(rt.Text), rt)
		} else {
			tally.add(bytesTokens(len(b.ReasoningContent.RedactedContent)), b.ReasoningContent)
		}
	default: // guardContent, citationsContent, searchResult: counted, not interpreted
		raw := b.GuardContent
		if raw == nil {
			raw = b.CitationsContent
		}
		if raw == nil {
			raw = b.SearchResult
		}
		tally.add(countTokens(string(raw)), raw)
	}
	return nil
}

func checkMedia(m *catalog.Model, modality, kind, format string, formats []string, src *mediaSource, at string) *apiError {
	if !m.HasInput(modality) {
		return validationf("This model doesn't support the %s content block that you provided. Try again with a model that supports %s input.", kind, strings.ToLower(modality))
	}
	if !slices.Contains(formats, format) {
		return validationf("1 validation error detected: Value '%s' at '%s.%s.format' failed to satisfy constraint: Member must satisfy enum value set: [%s]", format, at, kind, strings.Join(formats, ", "))
	}
	if len(src.Bytes) == 0 && src.S3Location == nil {
		return validationf("The %s source at %s is empty. Provide bytes or an S3 location and try again.", kind, at)
	}
	return nil
}

// documentNamePattern is Bedrock's rule for document names: letters, digits, single spaces,
// hyphens, parentheses and square brackets.
var documentNamePattern = regexp.MustCompile(`^[A-Za-z0-9\-()\[\] ]+$`)

func checkDocument(d *documentBlock, at string) *apiError {
	if !slices.Contains(documentFormats, d.Format) {
		return validationf("1 validation error detected: Value '%s' at '%s.document.format' failed to satisfy constraint: Member must satisfy enum value set: [%s]", d.Format, at, strings.Join(documentFormats, ", "))
	}
	if d.Name == "" || !documentNamePattern.MatchString(d.Name) || strings.Contains(d.Name, "  ") {
		return validationf("The document name at %s is invalid. A name can only contain alphanumeric characters, whitespace characters (no more than one in a row), hyphens, parentheses and square brackets.", at)
	}
	s := &d.Source
	if len(s.Bytes) == 0 && s.S3Location == nil && s.Text == nil && len(s.Content) == 0 {
		return validationf("The document source at %s is empty. Provide bytes, text or an S3 location and try again.", at)
	}
	return nil
}

func documentTokens(d *documentBlock) int {
	switch {
	case d.Source.Text != nil:
		return countTokens(*d.Source.Text)
	case len(d.Source.Content) > 0:
		n := 0
		for _, c := range d.Source.Content {
			n += countTokens(c.Text)
		}
		return n
	}
	return bytesTokens(len(d.Source.Bytes))
}

func checkInference(m *catalog.Model, ic *inferenceConfig, t *turn) *apiError {
	if ic == nil {
		return nil
	}
	if ic.MaxTokens != nil {
		n := *ic.MaxTokens
		if n < 1 {
			return validationf("1 validation error detected: Value '%d' at 'inferenceConfig.maxTokens' failed to satisfy constraint: Member must have value greater than or equal to 1", n)
		}
		if n > m.MaxOutputTokens {
			return validationf("The maximum tokens you requested exceeds the model limit of %d. Try again with a maximum tokens value that is lower than %d.", m.MaxOutputTokens, m.MaxOutputTokens)
		}
		t.maxTokens = n
	}
	for _, p := range []struct {
		name string
		v    *float64
	}{{"temperature", ic.Temperature}, {"topP", ic.TopP}} {
		if p.v == nil {
			continue
		}
		if *p.v < 0 {
			return validationf("1 validation error detected: Value '%v' at 'inferenceConfig.%s' failed to satisfy constraint: Member must have value greater than or equal to 0", *p.v, p.name)
		}
		if *p.v > 1 {
			return validationf("1 validation error detected: Value '%v' at 'inferenceConfig.%s' failed to satisfy constraint: Member must have value less than or equal to 1", *p.v, p.name)
		}
	}
	if limit := m.MaxStopSequences; limit > 0 && len(ic.StopSequences) > limit {
		return validationf("1 validation error detected: Value at 'inferenceConfig.stopSequences' failed to satisfy constraint: Member must have length less than or equal to %d", limit)
	}
	t.stopSequences = ic.StopSequences
	return nil
}

// checkOutputConfig handles structured output (outputConfig.textFormat), where the model has it.
func checkOutputConfig(m *catalog.Model, oc *outputConfig, t *turn) *apiError {
	if oc == nil || oc.TextFormat == nil {
		return nil
	}
	if !m.StructuredOutput {
		return validationf("This model doesn't support the outputConfig.textFormat field. Remove outputConfig.textFormat and try again.")
	}
	tf := oc.TextFormat
	if tf.Type != "json_schema" {
		return validationf("1 validation error detected: Value '%s' at 'outputConfig.textFormat.type' failed to satisfy constraint: Member must satisfy enum value set: [json_schema]", tf.Type)
	}
	js := tf.Structure.JSONSchema
	if js == nil || js.Schema == "" {
		return validationf("The outputConfig.textFormat.structure.jsonSchema.schema field is required for type json_schema.")
	}
	var schema map[string]any
	if err := json.Unmarshal([]byte(js.Schema), &schema); err != nil || schema == nil {
		return validationf("The value at outputConfig.textFormat.structure.jsonSchema.schema is not a valid JSON Schema: it must be a JSON object encoded as a string.")
	}
	t.jsonSchema = schema
	return nil
}

// guardrailHit finds the word of the applied guardrail's list the user's text contains.
func (e *Emulator) guardrailHit(g *guardrailConfig, userText string) *guardrailHit {
	if g == nil {
		return nil
	}
	text := strings.ToLower(userText)
	for _, word := range e.opts.Guardrails[g.GuardrailIdentifier] {
		if word != "" && strings.Contains(text, strings.ToLower(word)) {
			return &guardrailHit{id: g.GuardrailIdentifier, word: word, trace: g.Trace == "enabled" || g.Trace == "enabled_full"}
		}
	}
	return nil
}

func checkServiceOptions(req *converseRequest) *apiError {
	if pc := req.PerformanceConfig; pc != nil && pc.Latency != "standard" && pc.Latency != "optimized" {
		return validationf("1 validation error detected: Value '%s' at 'performanceConfig.latency' failed to satisfy constraint: Member must satisfy enum value set: [standard, optimized]", pc.Latency)
	}
	if st := req.ServiceTier; st != nil && !slices.Contains([]string{"priority", "default", "flex", "reserved"}, st.Type) {
		return validationf("1 validation error detected: Value '%s' at 'serviceTier.type' failed to satisfy constraint: Member must satisfy enum value set: [priority, default, flex, reserved]", st.Type)
	}
	if g := req.GuardrailConfig; g != nil && (g.GuardrailIdentifier == "" || g.GuardrailVersion == "") {
		return validationf("The guardrailConfig field needs both guardrailIdentifier and guardrailVersion.")
	}
	return nil
}

// serveConverse implements POST /model/{id}/converse.
func (e *Emulator) serveConverse(w http.ResponseWriter, r *http.Request, c *call) *apiError {
	req, apiErr := decodeConverse(c.body)
	if apiErr != nil {
		return apiErr
	}
	t, apiErr := e.converseTurn(c.model, req, false)
	if apiErr != nil {
		return apiErr
	}
	rep := e.generate(t, c.fault)
	rep.usage = mergeUsage(e.settleCache(t), rep.usage)
	if err := sleep(r.Context(), e.latency(c, rep.usage.output)); err != nil {
		return nil // the client went away; nothing to answer
	}
	resp := converseResponse{
		Metrics:           converseMetrics{LatencyMs: max(1, e.now().Sub(c.start).Milliseconds())},
		Output:            converseOutput{Message: outputMessage{Role: "assistant", Content: converseBlocks(rep.blocks)}},
		PerformanceConfig: req.PerformanceConfig,
		ServiceTier:       req.ServiceTier,
		StopReason:        rep.stopReason,
		Trace:             rep.trace,
		Usage:             converseUsageOf(rep.usage),
	}
	if len(req.AdditionalModelResponseFieldPaths) > 0 && rep.stopSequence != "" && slices.Contains(req.AdditionalModelResponseFieldPaths, "/stop_sequence") {
		resp.AdditionalModelResponseFields = map[string]any{"stop_sequence": rep.stopSequence}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(resp) // the response holds only marshalable values
	writeJSON(w, c.requestID, bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
	return nil
}

// mergeUsage joins the input side (from the request) and the output side (from the reply).
func mergeUsage(in, out tokenUsage) tokenUsage {
	in.output = out.output
	return in
}

// latency is how long the latency model takes to produce n output tokens.
func (e *Emulator) latency(c *call, outputTokens int) time.Duration {
	d := e.opts.TTFT
	if c.fault != nil {
		d += c.fault.TTFT
	}
	if e.opts.TokensPerSecond > 0 {
		d += time.Duration(float64(outputTokens) / e.opts.TokensPerSecond * float64(time.Second))
	}
	return d
}

func converseBlocks(blocks []replyBlock) []outputBlock {
	out := make([]outputBlock, 0, len(blocks))
	for i := range blocks {
		b := &blocks[i]
		switch b.kind {
		case blockReasoning:
			out = append(out, outputBlock{ReasoningContent: &outputReasoning{ReasoningText: &outputReasoningText{Text: b.text(), Signature: b.signature}}})
		case blockRedacted:
			out = append(out, outputBlock{ReasoningContent: &outputReasoning{RedactedContent: b.redacted}})
		case blockToolUse:
			out = append(out, outputBlock{ToolUse: &outputToolUse{Input: json.RawMessage(b.text()), Name: b.toolName, ToolUseID: b.toolID, Type: b.toolType}})
		default:
			text := b.text()
			out = append(out, outputBlock{Text: &text})
		}
	}
	return out
}

func converseUsageOf(u tokenUsage) converseUsage {
	cu := converseUsage{InputTokens: u.input, OutputTokens: u.output, TotalTokens: u.total()}
	if u.cacheReported {
		read, write := u.cacheRead, u.cacheWrite
		cu.CacheReadInputTokenCount, cu.CacheReadInputTokens = &read, &read
		cu.CacheWriteInputTokenCount, cu.CacheWriteInputTokens = &write, &write
	}
	if u.cacheWrite > 0 {
		// Recorded on every cache write, absent on a read (test_bedrock_cache_messages_with_document_as_last_content.yaml).
		cu.CacheDetails = []cacheDetail{{InputTokens: u.cacheWrite, TTL: u.cacheTTL}}
	}
	return cu
}
