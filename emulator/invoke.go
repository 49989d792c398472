package emulator

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/strata-gateway/strata/catalog"
)

// invokeResult is a unary InvokeModel answer before it is written.
type invokeResult struct {
	body   any
	usage  tokenUsage
	output bool // text models report output tokens in a header; embedding models do not
}

// serveInvoke implements POST /model/{id}/invoke.
func (e *Emulator) serveInvoke(w http.ResponseWriter, r *http.Request, c *call) *apiError {
	if err := checkInvokeContentType(r); err != nil {
		return err
	}
	var (
		res    invokeResult
		apiErr *apiError
	)
	switch c.model.Family {
	case catalog.FamilyClaude:
		res, apiErr = e.invokeAnthropic(r, c)
	case catalog.FamilyNova:
		res, apiErr = e.invokeNova(r, c)
	case catalog.FamilyTitanEmbed, catalog.FamilyCohereEmbed, catalog.FamilyNovaEmbed:
		res, apiErr = e.invokeEmbedding(c)
	default:
		return validationf("The emulator does not speak the native InvokeModel body of the %s family; call this model with Converse.", c.model.Family)
	}
	if apiErr != nil {
		return apiErr
	}
	body, err := json.Marshal(res.body)
	if err != nil {
		return newAPIError(CodeInternalServer, "")
	}
	h := w.Header()
	h.Set("X-Amzn-Bedrock-Invocation-Latency", strconv.FormatInt(max(1, e.now().Sub(c.start).Milliseconds()), 10))
	if res.output {
		h.Set("X-Amzn-Bedrock-Output-Token-Count", strconv.Itoa(res.usage.output))
	}
	h.Set("X-Amzn-Bedrock-Input-Token-Count", strconv.Itoa(res.usage.input))
	if res.usage.cacheRead > 0 || res.usage.cacheWrite > 0 {
		h.Set("X-Amzn-Bedrock-Cache-Read-Input-Token-Count", strconv.Itoa(res.usage.cacheRead))
		h.Set("X-Amzn-Bedrock-Cache-Write-Input-Token-Count", strconv.Itoa(res.usage.cacheWrite))
	}
	echoInvokeOptions(h, r)
	writeJSON(w, c.requestID, body)
	return nil
}

// checkInvokeContentType applies Bedrock's rule that InvokeModel bodies are JSON. The SDK sends
// application/octet-stream when the caller sets no content type (bedrock-wire.md §1.4); Bedrock's
// answer to that is unverified, so the emulator accepts it and refuses only other explicit types.
func checkInvokeContentType(r *http.Request) *apiError {
	ct := r.Header.Get("Content-Type")
	mt, _, _ := strings.Cut(ct, ";")
	switch strings.TrimSpace(mt) {
	case "", "application/json", "application/octet-stream":
		return nil
	}
	return validationf("The provided Content-Type %q is not supported: send application/json.", ct)
}

// echoInvokeOptions returns the performance and tier options the caller asked for, as Bedrock does.
func echoInvokeOptions(h http.Header, r *http.Request) {
	if v := r.Header.Get("X-Amzn-Bedrock-PerformanceConfig-Latency"); v != "" {
		h.Set("X-Amzn-Bedrock-PerformanceConfig-Latency", v)
	}
	if v := r.Header.Get("X-Amzn-Bedrock-Service-Tier"); v != "" {
		h.Set("X-Amzn-Bedrock-Service-Tier", v)
	}
}

// anthropicTurn decodes and validates an Anthropic Messages body.
func (e *Emulator) anthropicTurn(c *call) (*turn, *anthropicRequest, *apiError) {
	var a anthropicRequest
	if err := json.Unmarshal(c.body, &a); err != nil {
		return nil, nil, malformed(jsonProblem(err))
	}
	req, apiErr := a.toConverse()
	if apiErr != nil {
		return nil, nil, apiErr
	}
	t, apiErr := e.converseTurn(c.model, req, c.op == OpInvokeStream)
	if apiErr != nil {
		return nil, nil, apiErr
	}
	if a.ToolChoice != nil && a.ToolChoice.Type == "none" {
		t.choice = choiceNone
	}
	return t, &a, nil
}

func (e *Emulator) invokeAnthropic(r *http.Request, c *call) (invokeResult, *apiError) {
	t, _, apiErr := e.anthropicTurn(c)
	if apiErr != nil {
		return invokeResult{}, apiErr
	}
	rep := e.generate(t, c.fault)
	rep.usage = mergeUsage(e.settleCache(t), rep.usage)
	if err := sleep(r.Context(), e.latency(c, rep.usage.output)); err != nil {
		return invokeResult{}, nil
	}
	rng := seededRand(e.opts.Seed, []byte("msg"), t.fingerprint)
	var stopSeq any
	if rep.stopSequence != "" {
		stopSeq = rep.stopSequence
	}
	body := map[string]any{
		"id":            randomID(rng, "msg_bdrk_01", 22),
		"type":          "message",
		"role":          "assistant",
		"model":         anthropicModelName(c.model.ID),
		"content":       anthropicContent(rep.blocks),
		"stop_reason":   rep.stopReason,
		"stop_sequence": stopSeq,
		"usage":         anthropicUsage(rep.usage),
	}
	return invokeResult{body: body, usage: rep.usage, output: true}, nil
}

// novaTurn decodes a Nova messages-v1 body: Converse's shape, with snake_case inference aliases.
func (e *Emulator) novaTurn(c *call) (*turn, *apiError) {
	var raw struct {
		converseRequest
		InferenceConfig map[string]any `json:"inferenceConfig"`
	}
	if err := json.Unmarshal(c.body, &raw); err != nil {
		return nil, malformed(jsonProblem(err))
	}
	req := raw.converseRequest
	if ic := raw.InferenceConfig; ic != nil {
		cfg := &inferenceConfig{}
		for _, k := range []string{"maxTokens", "max_new_tokens"} {
			if v, ok := ic[k].(float64); ok {
				n := int(v)
				cfg.MaxTokens = &n
			}
		}
		for _, k := range []string{"temperature"} {
			if v, ok := ic[k].(float64); ok {
				cfg.Temperature = &v
			}
		}
		for _, k := range []string{"topP", "top_p"} {
			if v, ok := ic[k].(float64); ok {
				cfg.TopP = &v
			}
		}
		if ss, ok := ic["stopSequences"].([]any); ok {
			for _, s := range ss {
				if str, ok := s.(string); ok {
					cfg.StopSequences = append(cfg.StopSequences, str)
				}
			}
		}
		req.InferenceConfig = cfg
	}
	return e.converseTurn(c.model, &req, c.op == OpInvokeStream)
}

func (e *Emulator) invokeNova(r *http.Request, c *call) (invokeResult, *apiError) {
	t, apiErr := e.novaTurn(c)
	if apiErr != nil {
		return invokeResult{}, apiErr
	}
	rep := e.generate(t, c.fault)
	rep.usage = mergeUsage(e.settleCache(t), rep.usage)
	if err := sleep(r.Context(), e.latency(c, rep.usage.output)); err != nil {
		return invokeResult{}, nil
	}
	body := map[string]any{
		"output":     converseOutput{Message: outputMessage{Role: "assistant", Content: converseBlocks(rep.blocks)}},
		"stopReason": rep.stopReason,
		"usage":      converseUsageOf(rep.usage),
	}
	return invokeResult{body: body, usage: rep.usage, output: true}, nil
}

// serveInvokeStream implements POST /model/{id}/invoke-with-response-stream: each event is a
// `chunk` whose `bytes` hold one model-native JSON event, base64-encoded (bedrock-wire.md §3.3).
func (e *Emulator) serveInvokeStream(w http.ResponseWriter, r *http.Request, c *call) *apiError {
	if err := checkInvokeContentType(r); err != nil {
		return err
	}
	if !c.model.Streaming {
		return validationf("The model is unsupported for streaming.")
	}
	var (
		t      *turn
		apiErr *apiError
		native func(rep reply) []nativeEvent
	)
	switch c.model.Family {
	case catalog.FamilyClaude:
		t, _, apiErr = e.anthropicTurn(c)
		native = func(rep reply) []nativeEvent { return e.anthropicEvents(c, t, rep) }
	case catalog.FamilyNova:
		t, apiErr = e.novaTurn(c)
		native = func(rep reply) []nativeEvent { return e.novaEvents(c, rep) }
	default:
		return validationf("The emulator does not stream the native body of the %s family; call this model with ConverseStream.", c.model.Family)
	}
	if apiErr != nil {
		return apiErr
	}
	rep := e.generate(t, c.fault)
	rep.usage = mergeUsage(e.settleCache(t), rep.usage)
	ew := e.newEventWriter(w, r, c)
	w.Header().Set("X-Amzn-Bedrock-Content-Type", "application/json")
	echoInvokeOptions(w.Header(), r)
	if ew.start() != nil {
		return nil
	}
	pace := e.newPacer(c)
	for _, ev := range native(rep) {
		if ev.text != "" {
			ew.pace = pace.before(ev.text)
		}
		b, _ := json.Marshal(ev.payload) // events hold only marshalable values
		if ew.event("chunk", map[string]any{"bytes": base64.StdEncoding.EncodeToString(b)}) != nil {
			return nil
		}
	}
	return nil
}

// invocationMetrics is the summary Bedrock appends to the last native stream event.
func (e *Emulator) invocationMetrics(c *call, u tokenUsage) map[string]any {
	latency := max(1, e.now().Sub(c.start).Milliseconds())
	m := map[string]any{
		"inputTokenCount":   u.input,
		"outputTokenCount":  u.output,
		"invocationLatency": latency,
		"firstByteLatency":  latency,
	}
	if u.cacheRead > 0 || u.cacheWrite > 0 {
		m["cacheReadInputTokenCount"], m["cacheWriteInputTokenCount"] = u.cacheRead, u.cacheWrite
	}
	return m
}

// nativeEvent is one model-native stream event, with the generated text it carries (for pacing).
type nativeEvent struct {
	payload map[string]any
	text    string
}

// anthropicEvents is Claude's streaming protocol for a reply.
func (e *Emulator) anthropicEvents(c *call, t *turn, rep reply) []nativeEvent {
	rng := seededRand(e.opts.Seed, []byte("msg"), t.fingerprint)
	usage := anthropicUsage(rep.usage)
	usage["output_tokens"] = 1
	evs := []nativeEvent{{payload: map[string]any{"type": "message_start", "message": map[string]any{
		"id": randomID(rng, "msg_bdrk_01", 22), "type": "message", "role": "assistant",
		"model": anthropicModelName(c.model.ID), "content": []any{}, "stop_reason": nil, "stop_sequence": nil, "usage": usage,
	}}}}
	for i := range rep.blocks {
		b := &rep.blocks[i]
		var start map[string]any
		switch b.kind {
		case blockReasoning:
			start = map[string]any{"type": "thinking", "thinking": "", "signature": ""}
		case blockRedacted:
			// Anthropic sends redacted thinking whole in its start event, with no deltas.
			start = map[string]any{"type": "redacted_thinking", "data": string(b.redacted)}
		case blockToolUse:
			start = map[string]any{"type": "tool_use", "id": anthropicToolID(b.toolID), "name": b.toolName, "input": map[string]any{}}
		default:
			start = map[string]any{"type": "text", "text": ""}
		}
		evs = append(evs, nativeEvent{payload: map[string]any{"type": "content_block_start", "index": i, "content_block": start}})
		for _, g := range groups(b.pieces) {
			text := joinPieces(g)
			var delta map[string]any
			switch b.kind {
			case blockReasoning:
				delta = map[string]any{"type": "thinking_delta", "thinking": text}
			case blockToolUse:
				delta = map[string]any{"type": "input_json_delta", "partial_json": text}
			default:
				delta = map[string]any{"type": "text_delta", "text": text}
			}
			evs = append(evs, nativeEvent{payload: map[string]any{"type": "content_block_delta", "index": i, "delta": delta}, text: text})
		}
		if b.signature != "" {
			evs = append(evs, nativeEvent{payload: map[string]any{"type": "content_block_delta", "index": i, "delta": map[string]any{"type": "signature_delta", "signature": b.signature}}})
		}
		evs = append(evs, nativeEvent{payload: map[string]any{"type": "content_block_stop", "index": i}})
	}
	var stopSeq any
	if rep.stopSequence != "" {
		stopSeq = rep.stopSequence
	}
	evs = append(evs,
		nativeEvent{payload: map[string]any{"type": "message_delta", "delta": map[string]any{"stop_reason": rep.stopReason, "stop_sequence": stopSeq}, "usage": map[string]any{"output_tokens": rep.usage.output}}},
		nativeEvent{payload: map[string]any{"type": "message_stop", "amazon-bedrock-invocationMetrics": e.invocationMetrics(c, rep.usage)}},
	)
	return evs
}

// novaEvents is Nova's native streaming shape: Converse's events as one-key JSON objects.
func (e *Emulator) novaEvents(c *call, rep reply) []nativeEvent {
	evs := []nativeEvent{{payload: map[string]any{"messageStart": map[string]any{"role": "assistant"}}}}
	for i := range rep.blocks {
		b := &rep.blocks[i]
		if b.kind == blockToolUse {
			evs = append(evs, nativeEvent{payload: map[string]any{"contentBlockStart": map[string]any{"contentBlockIndex": i, "start": map[string]any{"toolUse": map[string]any{"name": b.toolName, "toolUseId": b.toolID}}}}})
		}
		for _, g := range groups(b.pieces) {
			text := joinPieces(g)
			delta := converseDelta(b.kind, text)
			evs = append(evs, nativeEvent{payload: map[string]any{"contentBlockDelta": map[string]any{"contentBlockIndex": i, "delta": delta}}, text: text})
		}
		evs = append(evs, nativeEvent{payload: map[string]any{"contentBlockStop": map[string]any{"contentBlockIndex": i}}})
	}
	evs = append(evs,
		nativeEvent{payload: map[string]any{"messageStop": map[string]any{"stopReason": rep.stopReason}}},
		nativeEvent{payload: map[string]any{"metadata": map[string]any{"usage": converseUsageOf(rep.usage), "metrics": map[string]any{}, "trace": map[string]any{}},
			"amazon-bedrock-invocationMetrics": e.invocationMetrics(c, rep.usage)}},
	)
	return evs
}
