package server

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/strata-gateway/strata/catalog"
	"github.com/strata-gateway/strata/emulator"
	stratav1 "github.com/strata-gateway/strata/gen/strata/v1"
	"github.com/strata-gateway/strata/service"
)

// claude37 thinks on a budget and has no native structured output: a response format reaches it
// as instructions.
const claude37 = "us.anthropic.claude-3-7-sonnet-20250219-v1:0"

// cityFormat asks for a JSON object about a city, with required fields of three types.
func cityFormat(t *testing.T) *stratav1.ResponseFormat {
	t.Helper()
	schema, err := structpb.NewStruct(map[string]any{
		"type": "object",
		"properties": map[string]any{
			"city":       map[string]any{"type": "string"},
			"population": map[string]any{"type": "integer", "minimum": 0},
			"capital":    map[string]any{"type": "boolean"},
		},
		"required":             []any{"city", "population", "capital"},
		"additionalProperties": false,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &stratav1.ResponseFormat{Type: stratav1.ResponseFormat_TYPE_JSON_SCHEMA, Name: "city_facts", Schema: schema}
}

// wantSchemaValid fails unless text is a JSON object that matches rf's schema (or, without one,
// any JSON object), checked by a JSON Schema validator of its own.
func wantSchemaValid(t *testing.T, rf *stratav1.ResponseFormat, text string) {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(text))
	if err != nil {
		t.Fatalf("reply %q is not JSON: %v", text, err)
	}
	if _, ok := v.(map[string]any); !ok {
		t.Fatalf("reply %q is not a JSON object", text)
	}
	if rf.GetSchema() == nil {
		return
	}
	raw, _ := json.Marshal(rf.GetSchema().AsMap())
	doc, _ := jsonschema.UnmarshalJSON(strings.NewReader(string(raw)))
	c := jsonschema.NewCompiler()
	if err := c.AddResource("s.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("s.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(v); err != nil {
		t.Errorf("reply %s does not match the schema: %v", text, err)
	}
}

func TestChatResponseFormat(t *testing.T) {
	t.Parallel()
	h := startStrata(t, nil)
	object := &stratav1.ResponseFormat{Type: stratav1.ResponseFormat_TYPE_JSON_OBJECT}
	tests := []struct {
		name        string
		model       string
		effort      stratav1.ReasoningEffort
		format      *stratav1.ResponseFormat
		wantWarning string // "" for none: the native way
	}{
		{name: "native structured output", model: claudeHaiku, format: cityFormat(t)},
		{name: "native structured output while thinking", model: claudeSonnet, effort: stratav1.ReasoningEffort_REASONING_EFFORT_LOW, format: cityFormat(t)},
		{name: "forced tool without native support", model: novaMicro, format: cityFormat(t), wantWarning: "forced tool call"},
		{name: "any JSON object", model: novaMicro, format: object, wantWarning: "forced tool call"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := &stratav1.ChatRequest{Model: tt.model, ReasoningEffort: tt.effort, ResponseFormat: tt.format,
				Messages: user("Give me the facts about Canberra.")}
			resp, err := h.client.Chat(t.Context(), req)
			if err != nil {
				t.Fatalf("Chat: %v", err)
			}
			wantSchemaValid(t, tt.format, resp.GetText())
			if calls := toolCalls(resp.GetMessage()); len(calls) != 0 || resp.GetStopReason() != stratav1.StopReason_STOP_REASON_END_TURN {
				t.Errorf("tool calls %v, stop %v: want the JSON as text, ending the turn", calls, resp.GetStopReason())
			}
			if tt.effort != stratav1.ReasoningEffort_REASONING_EFFORT_UNSPECIFIED && resp.GetReasoning() == "" {
				t.Error("the model did not reason: thinking was dropped for the format")
			}
			var formatWarnings []string // others, such as the temperature thinking replaces, may come too
			for _, w := range resp.GetWarnings() {
				if strings.HasPrefix(w, "response format:") {
					formatWarnings = append(formatWarnings, w)
				}
			}
			got := strings.Join(formatWarnings, "; ")
			if (tt.wantWarning == "") != (got == "") || !strings.Contains(got, tt.wantWarning) {
				t.Errorf("response format warnings %q, want %q", got, tt.wantWarning)
			}

			events, err := chatStream(t, h, req)
			if err != nil {
				t.Fatalf("ChatStream: %v", err)
			}
			_, streamed, end := joinDeltas(t, events)
			wantSchemaValid(t, tt.format, streamed.text)
			if len(streamed.toolArgs) != 0 || end.GetStopReason() != stratav1.StopReason_STOP_REASON_END_TURN {
				t.Errorf("streamed tool calls %v, stop %v: want the JSON as text deltas", streamed.toolArgs, end.GetStopReason())
			}
		})
	}
}

// TestChatResponseFormatViolated: a model that answers in prose where JSON was asked for (the
// emulator writes prose when the format is only in the instructions) is asked once to correct
// it, then the call fails with a status that names the broken rule; a stream, whose deltas are
// already out, ends with the same error instead of its end event.
func TestChatResponseFormatViolated(t *testing.T) {
	t.Parallel()
	h := startStrata(t, nil)
	req := &stratav1.ChatRequest{Model: claude37, ReasoningEffort: stratav1.ReasoningEffort_REASONING_EFFORT_LOW,
		ResponseFormat: cityFormat(t), Messages: user("Give me the facts about Canberra.")}
	_, err := h.client.Chat(t.Context(), req)
	wantCode(t, err, codes.Internal)
	if info := errorInfo(t, err); info.GetReason() != service.ReasonFormatViolated {
		t.Errorf("reason %q, want %q", info.GetReason(), service.ReasonFormatViolated)
	}
	if msg := err.Error(); !strings.Contains(msg, "not JSON") || !strings.Contains(msg, "2 tries") {
		t.Errorf("message %q does not say which rule broke and how often it was tried", msg)
	}
	if n := settledStats(t, h.emu).Count(emulator.OpConverse, "ok"); n != 2 {
		t.Errorf("upstream Converse calls = %d, want 2: the reply and its one correction", n)
	}

	_, err = chatStream(t, h, req)
	wantCode(t, err, codes.Internal)
	if info := errorInfo(t, err); info.GetReason() != service.ReasonFormatViolated {
		t.Errorf("stream reason %q, want %q", info.GetReason(), service.ReasonFormatViolated)
	}
}

func TestChatResponseFormatInvalid(t *testing.T) {
	t.Parallel()
	h := startStrata(t, nil)
	badSchema, _ := structpb.NewStruct(map[string]any{"type": 5})
	fileRef, _ := structpb.NewStruct(map[string]any{"$ref": "file:///etc/hostname"})
	relativeRef, _ := structpb.NewStruct(map[string]any{"$ref": "go.mod"})
	tests := []struct {
		name      string
		format    *stratav1.ResponseFormat
		wantField string
	}{
		{"schema type without a schema", &stratav1.ResponseFormat{Type: stratav1.ResponseFormat_TYPE_JSON_SCHEMA}, "response_format.schema"},
		{"a schema that is not one", &stratav1.ResponseFormat{Type: stratav1.ResponseFormat_TYPE_JSON_SCHEMA, Schema: badSchema}, "response_format.schema"},
		// A caller's schema must not make the server read its files.
		{"a $ref to a server file", &stratav1.ResponseFormat{Type: stratav1.ResponseFormat_TYPE_JSON_SCHEMA, Schema: fileRef}, "response_format.schema"},
		{"a relative $ref", &stratav1.ResponseFormat{Type: stratav1.ResponseFormat_TYPE_JSON_SCHEMA, Schema: relativeRef}, "response_format.schema"},
		{"a name Bedrock refuses", &stratav1.ResponseFormat{Type: stratav1.ResponseFormat_TYPE_JSON_OBJECT, Name: "city facts!"}, "response_format.name"},
		{"an unknown type", &stratav1.ResponseFormat{Type: 42}, "response_format.type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := h.client.Chat(t.Context(), &stratav1.ChatRequest{Model: novaMicro, ResponseFormat: tt.format, Messages: user("hi")})
			wantCode(t, err, codes.InvalidArgument)
			if got := violatedFields(err); len(got) != 1 || got[0] != tt.wantField {
				t.Errorf("violated fields %v, want %s", got, tt.wantField)
			}
			if msg := err.Error(); strings.Contains(msg, "open ") || strings.Contains(msg, "no such file") {
				t.Errorf("the error tells of the server's files: %s", msg)
			}
		})
	}
}

// TestChatBedrockOptions: the request's Bedrock options reach an emulator that validates them as
// Bedrock does, on a Claude and a Nova; wrong ones are refused before any upstream call.
func TestChatBedrockOptions(t *testing.T) {
	t.Parallel()
	h := startStrata(t, nil)
	good := func(model string) *stratav1.ChatRequest {
		return &stratav1.ChatRequest{Model: model, TopK: ptr[int32](40), ServiceTier: stratav1.ServiceTier_SERVICE_TIER_FLEX,
			LatencyOptimized: true, Guardrail: &stratav1.Guardrail{Id: "gr-strata", Version: "1", Trace: true},
			Messages: user("Name three rivers.")}
	}
	for _, model := range []string{claudeHaiku, novaMicro} {
		if _, err := h.client.Chat(t.Context(), good(model)); err != nil {
			t.Errorf("%s: %v", model, err)
		}
	}
	tests := []struct {
		name      string
		edit      func(*stratav1.ChatRequest)
		wantField string
	}{
		{"top_k below 1", func(r *stratav1.ChatRequest) { r.TopK = ptr[int32](0) }, "top_k"},
		{"guardrail without a version", func(r *stratav1.ChatRequest) { r.Guardrail.Version = "" }, "guardrail"},
		{"unknown tier", func(r *stratav1.ChatRequest) { r.ServiceTier = 9 }, "service_tier"},
		{"a message of only a cache point", func(r *stratav1.ChatRequest) {
			r.Messages = append(r.Messages, &stratav1.Message{Role: stratav1.Role_ROLE_USER, Parts: []*stratav1.Part{{Kind: &stratav1.Part_CachePoint{CachePoint: &stratav1.CachePoint{}}}}})
		}, "messages[1]"},
		{"a cache point TTL Bedrock has not", func(r *stratav1.ChatRequest) {
			r.Messages[0].Parts = []*stratav1.Part{{Kind: &stratav1.Part_CachePoint{CachePoint: &stratav1.CachePoint{Ttl: "1d"}}}}
		}, "messages[0].parts[0].cache_point.ttl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := good(novaMicro)
			tt.edit(req)
			_, err := h.client.Chat(t.Context(), req)
			wantCode(t, err, codes.InvalidArgument)
			if got := violatedFields(err); len(got) != 1 || got[0] != tt.wantField {
				t.Errorf("violated fields %v, want %s", got, tt.wantField)
			}
		})
	}
}

// TestCountTokens: a request is counted as Chat would send it: exactly by Bedrock's CountTokens
// for a model that has it (through its profile id, which the operation does not take), and as an
// estimate near the real count for one that has not.
func TestCountTokens(t *testing.T) {
	t.Parallel()
	h := startStrata(t, nil)
	prompt := strings.Repeat("The river bends twice before it reaches the sea. ", 20)
	tests := []struct {
		model     string
		wantExact bool
	}{{claudeHaiku, true}, {novaMicro, false}}
	for _, tt := range tests {
		t.Run(tt.model, func(t *testing.T) {
			t.Parallel()
			req := &stratav1.ChatRequest{Model: tt.model, Tools: weatherTools, Messages: []*stratav1.Message{
				{Role: stratav1.Role_ROLE_SYSTEM, Text: "Answer in one sentence."},
				{Role: stratav1.Role_ROLE_USER, Text: prompt},
			}}
			count, err := h.client.CountTokens(t.Context(), req)
			if err != nil {
				t.Fatalf("CountTokens: %v", err)
			}
			resp, err := h.client.Chat(t.Context(), req)
			if err != nil {
				t.Fatalf("Chat: %v", err)
			}
			used := resp.GetUsage().GetInputTokens()
			if count.GetExact() != tt.wantExact || count.GetModel() != tt.model || count.GetRoute() != "default" {
				t.Errorf("count %v, want exact=%v for %s", count, tt.wantExact, tt.model)
			}
			switch n := count.GetInputTokens(); {
			case tt.wantExact && n != used:
				t.Errorf("counted %d input tokens, Chat used %d", n, used)
			case !tt.wantExact && (float64(n) < 0.5*float64(used) || float64(n) > 2*float64(used)):
				t.Errorf("estimated %d input tokens, Chat used %d: not within a factor of 2", n, used)
			}
		})
	}
	_, err := h.client.CountTokens(t.Context(), &stratav1.ChatRequest{Model: novaMicro})
	wantCode(t, err, codes.InvalidArgument)
}

// TestChatRouteBedrockOptions: a CHAT_MODEL_MAP entry's Bedrock options, written as RD-Agent
// writes its map (strings), reach an emulator that validates them as Bedrock does; its json_mode
// makes every reply on the route a JSON object.
func TestChatRouteBedrockOptions(t *testing.T) {
	t.Parallel()
	h := startStrata(t, map[string]string{"CHAT_MODEL_MAP": `{"rdagent.json": {"model": "` + novaMicro + `", "json_mode": "True",
		"top_k": "20", "stop": "###", "service_tier": "flex", "performance": "optimized",
		"guardrail": {"id": "gr-route", "version": "3"}, "request_metadata": {"team": "rd"}}}`})
	resp, err := h.client.Chat(t.Context(), &stratav1.ChatRequest{Tag: "rdagent.json.summary", Messages: user("Summarize the facts about Canberra.")})
	if err != nil {
		t.Fatalf("Chat: %v", err)
	}
	if resp.GetRoute() != "rdagent.json" {
		t.Errorf("route %q, want rdagent.json", resp.GetRoute())
	}
	wantSchemaValid(t, &stratav1.ResponseFormat{Type: stratav1.ResponseFormat_TYPE_JSON_OBJECT}, resp.GetText())
}

// TestChatPromptCache: a long system prompt marked with a cache point is written to Bedrock's
// prompt cache by the first call and read by the next, both reported in usage and priced at their
// own rates; a route with "cache": "auto" gets the same without marking anything; a model without
// prompt caching gets the call, without the cache point, and a warning.
func TestChatPromptCache(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("You are a careful research assistant who checks every figure twice. ", 120) // ~2,000 tokens
	h := startStrata(t, map[string]string{"CHAT_MODEL_MAP": `{"auto": {"model": "` + claudeSonnet + `", "cache": "auto"}}`})
	marked := func(model, question string) *stratav1.ChatRequest {
		return &stratav1.ChatRequest{Model: model, Messages: []*stratav1.Message{
			{Role: stratav1.Role_ROLE_SYSTEM, Parts: []*stratav1.Part{{Kind: &stratav1.Part_Text{Text: long}}, {Kind: &stratav1.Part_CachePoint{CachePoint: &stratav1.CachePoint{}}}}},
			{Role: stratav1.Role_ROLE_USER, Text: question},
		}}
	}
	auto := func(question string) *stratav1.ChatRequest {
		return &stratav1.ChatRequest{Tag: "auto", Messages: []*stratav1.Message{{Role: stratav1.Role_ROLE_SYSTEM, Text: long + " (auto)"}, {Role: stratav1.Role_ROLE_USER, Text: question}}}
	}
	for name, req := range map[string]func(string) *stratav1.ChatRequest{
		"marked": func(q string) *stratav1.ChatRequest { return marked(claudeSonnet, q) },
		"auto":   auto,
	} {
		first, err := h.client.Chat(t.Context(), req("What is 2 + 2?"))
		if err != nil {
			t.Fatalf("%s: first Chat: %v", name, err)
		}
		second, err := h.client.Chat(t.Context(), req("And 3 + 3?"))
		if err != nil {
			t.Fatalf("%s: second Chat: %v", name, err)
		}
		if w := first.GetUsage().GetCacheWriteTokens(); w < 1024 || first.GetUsage().GetCacheReadTokens() != 0 {
			t.Errorf("%s: first call usage %v, want the prefix written to the cache", name, first.GetUsage())
		}
		if r := second.GetUsage().GetCacheReadTokens(); r != first.GetUsage().GetCacheWriteTokens() || second.GetUsage().GetCacheWriteTokens() != 0 {
			t.Errorf("%s: second call usage %v, want the %d cached tokens read", name, second.GetUsage(), first.GetUsage().GetCacheWriteTokens())
		}
		wantCost(t, claudeSonnet, first.GetUsage(), first.GetCostUsd())
		wantCost(t, claudeSonnet, second.GetUsage(), second.GetCostUsd())
		if second.GetCostUsd() >= first.GetCostUsd() {
			t.Errorf("%s: a cache read cost %v, the write %v: reading should be cheaper", name, second.GetCostUsd(), first.GetCostUsd())
		}
	}

	llama := "us.meta.llama3-3-70b-instruct-v1:0"
	resp, err := h.client.Chat(t.Context(), marked(llama, "What is 2 + 2?"))
	if err != nil {
		t.Fatalf("Chat on a model without caching: %v", err)
	}
	if w := strings.Join(resp.GetWarnings(), "; "); !strings.Contains(w, "has no prompt caching") {
		t.Errorf("warnings %q, want the dropped cache point said", w)
	}
}

// TestChatApplicationProfile: an application inference profile ARN is served as the model behind
// it, found once with GetInferenceProfile: it reasons, caches and is priced like that model.
func TestChatApplicationProfile(t *testing.T) {
	t.Parallel()
	const key, secret = "AKIDPROFILE", "profile-secret"
	const arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/research-claude"
	emu, err := emulator.New(emulator.Options{AccessKeyID: key, SecretAccessKey: secret,
		ApplicationProfiles: map[string]string{"research-claude": "anthropic.claude-sonnet-4-5-20250929-v1:0"}})
	if err != nil {
		t.Fatal(err)
	}
	url := listenEmulator(t, emu)
	h := startStrataWith(t, harnessOptions{backend: BackendBedrock, emu: emu, environ: map[string]string{
		"API_BASE": url, "AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret,
	}})
	req := thinkingCachedRequest(arn)
	for i := range 2 {
		resp, err := h.client.Chat(t.Context(), req)
		if err != nil {
			t.Fatalf("Chat %d: %v", i, err)
		}
		if resp.GetModel() != arn || resp.GetReasoning() == "" {
			t.Errorf("call %d: model %q, reasoning %q: want the ARN served with thinking on", i, resp.GetModel(), resp.GetReasoning())
		}
		if u := resp.GetUsage(); u.GetCacheWriteTokens()+u.GetCacheReadTokens() == 0 {
			t.Errorf("call %d: usage %v, want the cache point honoured", i, u)
		}
		wantCost(t, "anthropic.claude-sonnet-4-5-20250929-v1:0", resp.GetUsage(), resp.GetCostUsd())
	}
	if n := settledStats(t, emu).Total(emulator.OpGetProfile); n != 1 {
		t.Errorf("GetInferenceProfile calls = %d, want 1: the profile's model is looked up once", n)
	}
}

// TestPriceUnknown: a model Bedrock serves but Strata's catalog does not know is called, and its
// cost is reported as unknown, not as free; the log says so once.
func TestPriceUnknown(t *testing.T) {
	t.Parallel()
	const key, secret, newModel = "AKIDPRICE", "price-secret", "acme.brand-new-model-v1:0"
	// The emulator's catalog has one model more than Strata's: a model Bedrock launched today.
	cat, err := catalog.Load()
	if err != nil {
		t.Fatal(err)
	}
	models := slices.Clone(cat.Models())
	extra := models[slices.IndexFunc(models, func(m catalog.Model) bool { return m.ID == "amazon.nova-micro-v1:0" })]
	extra.ID, extra.Name, extra.ExtraAliases, extra.Profiles = newModel, "Brand New", nil, nil
	raw, err := json.Marshal(map[string]any{"models": append(models, extra)})
	if err != nil {
		t.Fatal(err)
	}
	emuCat, err := catalog.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	emu, err := emulator.New(emulator.Options{Catalog: emuCat, AccessKeyID: key, SecretAccessKey: secret})
	if err != nil {
		t.Fatal(err)
	}
	h := startStrataWith(t, harnessOptions{backend: BackendBedrock, emu: emu, environ: map[string]string{
		"API_BASE": listenEmulator(t, emu), "AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret,
	}})
	for range 2 {
		resp, err := h.client.Chat(t.Context(), &stratav1.ChatRequest{Model: newModel, Messages: user("hi")})
		if err != nil {
			t.Fatalf("Chat: %v", err)
		}
		if !resp.GetPriceUnknown() || resp.GetCostUsd() != 0 || resp.GetUsage().GetOutputTokens() == 0 {
			t.Errorf("price_unknown %v, cost %v, usage %v: want an unknown price, with the usage", resp.GetPriceUnknown(), resp.GetCostUsd(), resp.GetUsage())
		}
	}
	if n := strings.Count(h.logs.String(), "no price is known"); n != 1 {
		t.Errorf("the unknown price was logged %d times, want once", n)
	}
	known, err := h.client.Chat(t.Context(), &stratav1.ChatRequest{Model: novaMicro, Messages: user("hi")})
	if err != nil || known.GetPriceUnknown() {
		t.Errorf("a catalog model: price_unknown %v, %v", known.GetPriceUnknown(), err)
	}
}

// TestCostByTier: the same call costs what the price table says for the tier it took: Claude
// Haiku 4.5 through us. costs 1.1 times what it costs through global., and the flex service tier,
// which Bedrock reports it served, half the standard one.
func TestCostByTier(t *testing.T) {
	t.Parallel()
	h := startStrata(t, nil)
	const haiku = "anthropic.claude-haiku-4-5-20251001-v1:0"
	call := func(model string, tier stratav1.ServiceTier) *stratav1.ChatResponse {
		t.Helper()
		resp, err := h.client.Chat(t.Context(), &stratav1.ChatRequest{Model: model, ServiceTier: tier, Messages: user("Name three rivers of France.")})
		if err != nil {
			t.Fatalf("Chat %s: %v", model, err)
		}
		return resp
	}
	geo := call("us."+haiku, stratav1.ServiceTier_SERVICE_TIER_UNSPECIFIED)
	global := call("global."+haiku, stratav1.ServiceTier_SERVICE_TIER_UNSPECIFIED)
	flex := call("global."+haiku, stratav1.ServiceTier_SERVICE_TIER_FLEX)
	if !proto.Equal(geo.GetUsage(), global.GetUsage()) || !proto.Equal(global.GetUsage(), flex.GetUsage()) {
		t.Fatalf("usage differs between the calls: %v, %v, %v", geo.GetUsage(), global.GetUsage(), flex.GetUsage())
	}
	if r := geo.GetCostUsd() / global.GetCostUsd(); math.Abs(r-1.1) > 1e-9 {
		t.Errorf("us. costs %v× global., want 1.1×", r)
	}
	if r := flex.GetCostUsd() / global.GetCostUsd(); math.Abs(r-0.5) > 1e-9 || flex.GetServiceTier() != "flex" {
		t.Errorf("flex costs %v× standard, service tier %q; want 0.5× and flex", r, flex.GetServiceTier())
	}
}

// TestChatToolResultForms: a tool's answer may be text, a JSON object, both, or an error; each
// travels in Bedrock's shape and the model answers from it.
func TestChatToolResultForms(t *testing.T) {
	t.Parallel()
	h := startStrata(t, nil)
	forecast, _ := structpb.NewStruct(map[string]any{"temperature_c": 18, "sky": "clear"})
	tests := []struct {
		name   string
		result *stratav1.ToolResult
	}{
		{"text", &stratav1.ToolResult{Content: "18 °C and clear"}},
		{"json", &stratav1.ToolResult{Json: forecast}},
		{"text and json", &stratav1.ToolResult{Content: "from the forecast service:", Json: forecast}},
		{"an error", &stratav1.ToolResult{Content: "the weather service is down", IsError: true}},
	}
	for _, model := range []string{novaMicro, claudeHaiku} {
		question := &stratav1.Message{Role: stratav1.Role_ROLE_USER, Text: "What is the weather in Paris right now?"}
		first, err := h.client.Chat(t.Context(), &stratav1.ChatRequest{Model: model, Tools: weatherTools, Messages: []*stratav1.Message{question}})
		if err != nil {
			t.Fatalf("%s: Chat: %v", model, err)
		}
		calls := toolCalls(first.GetMessage())
		if len(calls) == 0 {
			t.Fatalf("%s: no tool call", model)
		}
		for _, tt := range tests {
			t.Run(model+"/"+tt.name, func(t *testing.T) {
				result := proto.Clone(tt.result).(*stratav1.ToolResult)
				result.Id = calls[0].GetId()
				resp, err := h.client.Chat(t.Context(), &stratav1.ChatRequest{Model: model, Tools: weatherTools, Messages: []*stratav1.Message{
					question, first.GetMessage(),
					{Role: stratav1.Role_ROLE_TOOL, Parts: []*stratav1.Part{{Kind: &stratav1.Part_ToolResult{ToolResult: result}}}},
				}})
				if err != nil {
					t.Fatalf("Chat with the result: %v", err)
				}
				if resp.GetStopReason() != stratav1.StopReason_STOP_REASON_END_TURN || resp.GetText() == "" {
					t.Errorf("stop %v, text %q: want an answer", resp.GetStopReason(), resp.GetText())
				}
			})
		}
	}
}

// TestChatGuardrailIntervened: a guardrail that blocks the request ends the reply with
// STOP_REASON_GUARDRAIL_INTERVENED and a summary of why, in Chat and at a stream's end, whether
// the request or its route applied the guardrail.
func TestChatGuardrailIntervened(t *testing.T) {
	t.Parallel()
	const key, secret = "AKIDGUARD", "guard-secret"
	emu, err := emulator.New(emulator.Options{AccessKeyID: key, SecretAccessKey: secret, Guardrails: map[string][]string{"gr-secrets": {"Project Falcon"}}})
	if err != nil {
		t.Fatal(err)
	}
	h := startStrataWith(t, harnessOptions{backend: BackendBedrock, emu: emu, environ: map[string]string{
		"API_BASE": listenEmulator(t, emu), "AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret,
		"CHAT_MODEL_MAP": `{"guarded": {"model": "` + novaMicro + `", "guardrail": {"id": "gr-secrets", "version": "1", "trace": true}}}`,
	}})
	const want = `input blocked by guardrail gr-secrets: custom word` // never the blocked text
	for name, req := range map[string]*stratav1.ChatRequest{
		"request": {Model: novaMicro, Guardrail: &stratav1.Guardrail{Id: "gr-secrets", Version: "1", Trace: true}, Messages: user("What is project falcon?")},
		"route":   {Tag: "guarded", Messages: user("What is project falcon?")},
	} {
		resp, err := h.client.Chat(t.Context(), req)
		if err != nil {
			t.Fatalf("%s: Chat: %v", name, err)
		}
		if resp.GetStopReason() != stratav1.StopReason_STOP_REASON_GUARDRAIL_INTERVENED || resp.GetGuardrailSummary() != want || resp.GetText() == "" {
			t.Errorf("%s: stop %v, summary %q, text %q; want the intervention and %q", name, resp.GetStopReason(), resp.GetGuardrailSummary(), resp.GetText(), want)
		}
		events, err := chatStream(t, h, req)
		if err != nil {
			t.Fatalf("%s: ChatStream: %v", name, err)
		}
		_, _, end := joinDeltas(t, events)
		if end.GetStopReason() != stratav1.StopReason_STOP_REASON_GUARDRAIL_INTERVENED || end.GetGuardrailSummary() != want {
			t.Errorf("%s: stream end stop %v, summary %q", name, end.GetStopReason(), end.GetGuardrailSummary())
		}
	}
	resp, err := h.client.Chat(t.Context(), &stratav1.ChatRequest{Tag: "guarded", Messages: user("What is a falcon?")})
	if err != nil || resp.GetStopReason() != stratav1.StopReason_STOP_REASON_END_TURN || resp.GetGuardrailSummary() != "" {
		t.Errorf("a request the guardrail lets through: stop %v, summary %q, %v", resp.GetStopReason(), resp.GetGuardrailSummary(), err)
	}
}

// TestChatResponseFormatWithTools: a response format applies to the answer, not to a turn of tool
// calls on the way to it: that turn comes back as tool calls, unary and streamed, with one call.
func TestChatResponseFormatWithTools(t *testing.T) {
	t.Parallel()
	h := startStrata(t, nil)
	req := &stratav1.ChatRequest{Model: novaMicro, Tools: weatherTools, ToolChoice: &stratav1.ToolChoice{Mode: stratav1.ToolChoice_MODE_ANY},
		ResponseFormat: &stratav1.ResponseFormat{Type: stratav1.ResponseFormat_TYPE_JSON_OBJECT}, Messages: user("What is the weather in Paris?")}
	resp, err := h.client.Chat(t.Context(), req)
	if err != nil {
		t.Fatalf("Chat: %v", err)
	}
	if len(toolCalls(resp.GetMessage())) != 1 || resp.GetAttempts() != 1 {
		t.Errorf("tool calls %v after %d attempts: want the call, in one", toolCalls(resp.GetMessage()), resp.GetAttempts())
	}
	events, err := chatStream(t, h, req)
	if err != nil {
		t.Fatalf("ChatStream: %v", err)
	}
	if _, got, _ := joinDeltas(t, events); len(got.toolArgs) != 1 {
		t.Errorf("streamed tool calls %v, want one", got.toolArgs)
	}
}

// thinkingCachedRequest asks model to think (effort low) about a question after a long system
// prompt with a cache point: a request that shows whether a model id gets its model's thinking
// and prompt caching.
func thinkingCachedRequest(model string) *stratav1.ChatRequest {
	long := strings.Repeat("You are a careful research assistant who checks every figure twice. ", 120)
	return &stratav1.ChatRequest{Model: model, ReasoningEffort: stratav1.ReasoningEffort_REASONING_EFFORT_LOW, MaxTokens: ptr[int32](600),
		Messages: []*stratav1.Message{
			{Role: stratav1.Role_ROLE_SYSTEM, Parts: []*stratav1.Part{{Kind: &stratav1.Part_Text{Text: long}}, {Kind: &stratav1.Part_CachePoint{CachePoint: &stratav1.CachePoint{}}}}},
			{Role: stratav1.Role_ROLE_USER, Text: "Why is the sky blue?"},
		}}
}
