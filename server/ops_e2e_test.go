package server

import (
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding/gzip"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	"github.com/strata-gateway/strata/emulator"
	stratav1 "github.com/strata-gateway/strata/gen/strata/v1"
)

func TestListModels(t *testing.T) {
	t.Parallel()
	h := startStrata(t, map[string]string{
		"CHAT_MODEL":     "anthropic/claude-3-haiku-20240307",
		"CHAT_MODEL_MAP": `{"b": {"model": "` + novaLite + `", "max_tokens": 100, "reasoning_effort": "medium"}, "a": {"model": "amazon.nova-mega-v9:0"}}`,
	})
	resp, err := h.client.ListModels(t.Context(), &stratav1.ListModelsRequest{})
	if err != nil {
		t.Fatalf("ListModels: %v", err)
	}
	if resp.GetDefaultChatModel() != "anthropic.claude-3-haiku-20240307-v1:0" || resp.GetDefaultEmbeddingModel() != titanEmbed {
		t.Errorf("defaults = %q, %q", resp.GetDefaultChatModel(), resp.GetDefaultEmbeddingModel())
	}
	routes := resp.GetRoutes()
	if len(routes) != 2 || routes[0].GetKey() != "b" || routes[1].GetKey() != "a" {
		t.Fatalf("routes = %v, want b then a, as written", routes)
	}
	if r := routes[0]; r.GetModel() != novaLite || r.GetMaxTokens() != 100 || r.GetReasoningEffort() != stratav1.ReasoningEffort_REASONING_EFFORT_MEDIUM || !r.GetKnown() {
		t.Errorf("route b = %v", r)
	}
	if r := routes[1]; r.GetModel() != "amazon.nova-mega-v9:0" || r.GetKnown() {
		t.Errorf("route a = %v, want an unknown model passed through", r)
	}

	byID := map[string]*stratav1.ModelInfo{}
	for _, m := range resp.GetModels() {
		byID[m.GetId()] = m
	}
	if len(byID) < 40 {
		t.Errorf("%d catalog models, want the whole catalog", len(byID))
	}
	micro := byID["amazon.nova-micro-v1:0"]
	if micro == nil {
		t.Fatal("amazon.nova-micro-v1:0 is not listed")
	}
	// The catalog's $0.035 and $0.14 per million tokens, per thousand.
	if p := micro.GetPrice(); math.Abs(p.GetInputPer_1K()-0.000035) > 1e-12 || math.Abs(p.GetOutputPer_1K()-0.00014) > 1e-12 {
		t.Errorf("nova micro price = %v, want 0.000035 / 0.00014 per 1k", p)
	}
	if micro.GetMaxOutputTokens() != 10000 || !micro.GetTools() || !micro.GetStreaming() || !micro.GetOnDemand() || !slices.Contains(micro.GetProfiles(), "us") {
		t.Errorf("nova micro = %v", micro)
	}
	sonnet := byID["anthropic.claude-sonnet-4-5-20250929-v1:0"]
	if !sonnet.GetReasoning() || !sonnet.GetPromptCaching() || sonnet.GetOnDemand() || sonnet.GetPrice().GetCacheWritePer_1K() <= 0 {
		t.Errorf("claude sonnet 4.5 = %v", sonnet)
	}
	if p := sonnet.GetPrice(); p.GetRegionalPremium() != 0.1 || p.GetPriorityMultiplier() != 1.75 || p.GetFlexMultiplier() != 0.5 || p.GetAsOf() == "" || p.GetSource() == "" {
		t.Errorf("claude sonnet 4.5 price tiers = %v, want a 0.1 regional premium, 1.75 and 0.5 for the tiers, a date and a source", p)
	}
	if p := micro.GetPrice(); p.GetRegionalPremium() != 0 {
		t.Errorf("nova micro regional premium = %v, want none", p.GetRegionalPremium())
	}
	titan := byID[titanEmbed]
	if !slices.Equal(titan.GetEmbeddingDimensions(), []int32{256, 512, 1024}) {
		t.Errorf("titan dimensions = %v", titan.GetEmbeddingDimensions())
	}
}

func TestHealthCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		environ     map[string]string
		invoke      bool
		fault       string
		wantStatus  stratav1.HealthStatus
		wantChecks  map[string]stratav1.HealthStatus
		wantInvokes int64 // Converse + InvokeModel calls the checks make
		wantInfo    string
	}{
		{
			name:       "defaults",
			wantStatus: stratav1.HealthStatus_HEALTH_STATUS_OK,
			wantChecks: map[string]stratav1.HealthStatus{
				"config":                             stratav1.HealthStatus_HEALTH_STATUS_OK,
				"model:" + novaMicro:                 stratav1.HealthStatus_HEALTH_STATUS_OK,
				"model:amazon.titan-embed-text-v2:0": stratav1.HealthStatus_HEALTH_STATUS_OK,
			},
		},
		{
			name:        "1-token calls",
			invoke:      true,
			wantStatus:  stratav1.HealthStatus_HEALTH_STATUS_OK,
			wantChecks:  map[string]stratav1.HealthStatus{"model:" + novaMicro: stratav1.HealthStatus_HEALTH_STATUS_OK},
			wantInvokes: 2,
		},
		{
			name:        "1-token calls denied",
			invoke:      true,
			fault:       "error=AccessDeniedException,op=converse",
			wantStatus:  stratav1.HealthStatus_HEALTH_STATUS_FAIL,
			wantChecks:  map[string]stratav1.HealthStatus{"model:" + novaMicro: stratav1.HealthStatus_HEALTH_STATUS_FAIL, "model:" + titanEmbed: stratav1.HealthStatus_HEALTH_STATUS_OK},
			wantInvokes: 2,
			wantInfo:    "bedrock:InvokeModel",
		},
		{
			name:       "a model Bedrock does not know",
			environ:    map[string]string{"CHAT_MODEL_MAP": `{"x": {"model": "amazon.nova-mega-v9:0"}}`},
			wantStatus: stratav1.HealthStatus_HEALTH_STATUS_FAIL,
			wantChecks: map[string]stratav1.HealthStatus{
				"config":                      stratav1.HealthStatus_HEALTH_STATUS_WARN,
				"model:amazon.nova-mega-v9:0": stratav1.HealthStatus_HEALTH_STATUS_FAIL,
				"model:" + novaMicro:          stratav1.HealthStatus_HEALTH_STATUS_OK,
			},
			wantInfo: "amazon.nova-mega-v9:0",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := startStrata(t, tt.environ)
			if tt.fault != "" {
				if err := h.emu.SetFaults(mustFault(t, tt.fault)); err != nil {
					t.Fatal(err)
				}
			}
			resp, err := h.client.HealthCheck(t.Context(), &stratav1.HealthCheckRequest{InvokeModels: tt.invoke})
			if err != nil {
				t.Fatalf("HealthCheck: %v", err)
			}
			if resp.GetStatus() != tt.wantStatus {
				t.Errorf("status = %v, want %v (checks %v)", resp.GetStatus(), tt.wantStatus, resp.GetChecks())
			}
			got := map[string]*stratav1.Check{}
			for _, c := range resp.GetChecks() {
				got[c.GetName()] = c
				if c.GetDetail() == "" {
					t.Errorf("check %s has no detail", c.GetName())
				}
			}
			for name, want := range tt.wantChecks {
				if c := got[name]; c.GetStatus() != want {
					t.Errorf("check %s = %v, want %v (checks %v)", name, c, want, resp.GetChecks())
				}
			}
			if tt.wantInfo != "" && !strings.Contains(resp.String(), tt.wantInfo) {
				t.Errorf("checks %v do not mention %q", resp.GetChecks(), tt.wantInfo)
			}
			s := settledStats(t, h.emu)
			if n := s.Total(emulator.OpConverse) + s.Total(emulator.OpInvoke); n != tt.wantInvokes {
				t.Errorf("model calls = %d, want %d", n, tt.wantInvokes)
			}
		})
	}
}

// TestGRPCHealth checks the standard health service: SERVING for the server and LLMService, and
// it never calls Bedrock, so a Bedrock brown-out does not take replicas out of load balancers.
func TestGRPCHealth(t *testing.T) {
	t.Parallel()
	h := startStrata(t, nil)
	if err := h.emu.SetFaults(mustFault(t, "error=ServiceUnavailableException")); err != nil {
		t.Fatal(err)
	}
	for _, svc := range []string{"", "strata.v1.LLMService"} {
		resp, err := h.health.Check(t.Context(), &healthpb.HealthCheckRequest{Service: svc})
		if err != nil {
			t.Fatalf("Check(%q): %v", svc, err)
		}
		if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("Check(%q) = %v, want SERVING", svc, resp.GetStatus())
		}
	}
	_, err := h.health.Check(t.Context(), &healthpb.HealthCheckRequest{Service: "no.such.Service"})
	wantCode(t, err, codes.NotFound)
	if s := settledStats(t, h.emu); len(s.Requests) != 0 {
		t.Errorf("grpc.health.v1 reached Bedrock: %v", s.Requests)
	}
}

func TestReflection(t *testing.T) {
	t.Parallel()
	h := startStrata(t, nil)
	stream, err := reflectionpb.NewServerReflectionClient(h.conn).ServerReflectionInfo(t.Context())
	if err != nil {
		t.Fatalf("ServerReflectionInfo: %v", err)
	}
	send := func(req *reflectionpb.ServerReflectionRequest) *reflectionpb.ServerReflectionResponse {
		t.Helper()
		if err := stream.Send(req); err != nil {
			t.Fatalf("Send: %v", err)
		}
		resp, err := stream.Recv()
		if err != nil {
			t.Fatalf("Recv: %v", err)
		}
		return resp
	}
	resp := send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}})
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	for _, want := range []string{"strata.v1.LLMService", "grpc.health.v1.Health"} {
		if !slices.Contains(names, want) {
			t.Errorf("services = %v, want %s", names, want)
		}
	}
	resp = send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: "strata.v1.ChatRequest"}})
	if len(resp.GetFileDescriptorResponse().GetFileDescriptorProto()) == 0 {
		t.Errorf("no descriptor for strata.v1.ChatRequest: %v", resp)
	}
	_ = stream.CloseSend()
	if _, err := stream.Recv(); err != io.EOF {
		t.Errorf("after CloseSend: %v", err)
	}
}

func TestGzip(t *testing.T) {
	t.Parallel()
	h := startStrataWith(t, harnessOptions{dialOptions: []grpc.DialOption{grpc.WithDefaultCallOptions(grpc.UseCompressor(gzip.Name))}})
	big := strings.Repeat("compress me ", 2000)
	resp, err := h.client.Chat(t.Context(), &stratav1.ChatRequest{Messages: user(big)})
	if err != nil {
		t.Fatalf("Chat with gzip: %v", err)
	}
	if resp.GetText() == "" {
		t.Error("empty reply")
	}
	events, err := chatStream(t, h, &stratav1.ChatRequest{Messages: user(big)})
	if err != nil {
		t.Fatalf("ChatStream with gzip: %v", err)
	}
	if _, j, _ := joinDeltas(t, events); j.text != resp.GetText() {
		t.Errorf("streamed %q, unary %q", j.text, resp.GetText())
	}
	emb, err := h.client.Embed(t.Context(), &stratav1.EmbedRequest{Inputs: texts(5)})
	if err != nil || len(emb.GetEmbeddings()) != 5 {
		t.Fatalf("Embed with gzip: %v", err)
	}
}

// TestCallLog checks the one line each call logs (RD-Agent's token_cost record).
func TestCallLog(t *testing.T) {
	t.Parallel()
	h := startStrata(t, map[string]string{"CHAT_MODEL_MAP": `{"coder": {"model": "` + novaLite + `"}}`, "MAX_RETRY": "1"})
	const prompt = "the secret plan is zebra-42"
	resp, err := h.client.Chat(t.Context(), &stratav1.ChatRequest{Tag: "evolving.coder", Messages: user(prompt)})
	if err != nil {
		t.Fatalf("Chat: %v", err)
	}
	events, err := chatStream(t, h, &stratav1.ChatRequest{Tag: "evolving.coder", Messages: user(prompt)})
	if err != nil {
		t.Fatalf("ChatStream: %v", err)
	}
	_, _, end := joinDeltas(t, events)
	if _, err := h.client.Embed(t.Context(), &stratav1.EmbedRequest{Inputs: []string{prompt}}); err != nil {
		t.Fatalf("Embed: %v", err)
	}
	if err := h.emu.SetFaults(mustFault(t, "error=ThrottlingException,op=converse")); err != nil {
		t.Fatal(err)
	}
	_, err = h.client.Chat(t.Context(), &stratav1.ChatRequest{Tag: "evolving.coder", Messages: user(prompt)})
	wantCode(t, err, codes.ResourceExhausted)

	tests := []struct {
		method string
		n      int
		want   map[string]string
	}{
		{method: "Chat", n: 2, want: map[string]string{"tag": "evolving.coder", "route": "coder", "model": novaLite, "grpc.code": "OK"}},
		{method: "ChatStream", n: 1, want: map[string]string{"tag": "evolving.coder", "route": "coder", "model": novaLite, "grpc.code": "OK", "attempts": "1"}},
		{method: "Embed", n: 1, want: map[string]string{"route": "default", "model": titanEmbed, "grpc.code": "OK", "output_tokens": "0"}},
	}
	for _, tt := range tests {
		lines := h.finishedCalls(tt.method)
		if len(lines) != tt.n {
			t.Fatalf("%s: %d finished call lines, want %d:\n%s", tt.method, len(lines), tt.n, h.logs.String())
		}
		line := lines[0]
		for k, v := range tt.want {
			if got := logField(line, k); got != v {
				t.Errorf("%s: %s = %q, want %q in %s", tt.method, k, got, v, line)
			}
		}
		for _, k := range []string{"input_tokens", "cost_usd", "grpc.time_ms"} {
			if v := logField(line, k); v == "" || v == "0" {
				t.Errorf("%s: %s = %q, want a value in %s", tt.method, k, v, line)
			}
		}
	}
	chatLines := h.finishedCalls("Chat")
	if got := logField(chatLines[0], "input_tokens"); got != itoa(resp.GetUsage().GetInputTokens()) {
		t.Errorf("Chat input_tokens = %s, reply says %d", got, resp.GetUsage().GetInputTokens())
	}
	if got := logField(h.finishedCalls("ChatStream")[0], "output_tokens"); got != itoa(end.GetUsage().GetOutputTokens()) {
		t.Errorf("ChatStream output_tokens = %s, end says %d", got, end.GetUsage().GetOutputTokens())
	}
	if failed := chatLines[1]; logField(failed, "grpc.code") != "ResourceExhausted" || logField(failed, "model") != novaLite || logField(failed, "attempts") != "1" {
		t.Errorf("failed call line = %s", failed)
	}
	if strings.Contains(h.logs.String(), "zebra-42") {
		t.Errorf("the prompt was logged with LOG_LLM_CHAT_CONTENT off:\n%s", h.logs.String())
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestLogChatContent(t *testing.T) {
	t.Parallel()
	h := startStrata(t, map[string]string{"LOG_LLM_CHAT_CONTENT": "true"})
	resp, err := h.client.Chat(t.Context(), &stratav1.ChatRequest{Tag: "t1", Messages: user("the secret plan is zebra-42")})
	if err != nil {
		t.Fatalf("Chat: %v", err)
	}
	logs := h.logs.String()
	if !strings.Contains(logs, "zebra-42") {
		t.Errorf("the prompt is not logged with LOG_LLM_CHAT_CONTENT=true:\n%s", logs)
	}
	first := strings.Fields(resp.GetText())[0]
	if !strings.Contains(logs, first) {
		t.Errorf("the reply is not logged:\n%s", logs)
	}

	t.Run("stream", func(t *testing.T) {
		if _, err := chatStream(t, h, &stratav1.ChatRequest{Messages: user("the streamed plan is okapi-7")}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(h.logs.String(), "okapi-7") {
			t.Error("the streamed prompt is not logged")
		}
	})
	t.Run("prompt in parts", func(t *testing.T) {
		req := &stratav1.ChatRequest{Messages: []*stratav1.Message{{Role: stratav1.Role_ROLE_USER, Parts: []*stratav1.Part{{Kind: &stratav1.Part_Text{Text: "the plan in parts is gnu-9"}}}}}, MaxTokens: ptr[int32](1)}
		if _, err := h.client.Chat(t.Context(), req); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(h.logs.String(), "gnu-9") {
			t.Error("the prompt in parts is not logged")
		}
	})
}

// TestSecretsStayOutOfLogs sets every secret Strata reads, logs at debug with chat content on,
// makes calls that succeed and fail, and checks that no secret appears in a log line or an error.
func TestSecretsStayOutOfLogs(t *testing.T) {
	t.Parallel()
	const (
		secretKey = "supersecretvalue123"
		apiKey    = "bedrock-api-key-ABSK-topsecret987"
		session   = "sessiontoken-IQoJb3JpZ2luX2VjEXAMPLE"
	)
	secrets := []string{secretKey, apiKey, session}
	// Bedrock over SigV4 with the test's keys, against an emulator that checks them.
	signed, err := emulator.New(emulator.Options{AccessKeyID: "AKIDSECRETTEST", SecretAccessKey: secretKey})
	if err != nil {
		t.Fatal(err)
	}
	signedURL := listenEmulator(t, signed)
	tests := []struct {
		name string
		o    harnessOptions
	}{
		{name: "emulator backend", o: harnessOptions{environ: map[string]string{
			"AWS_ACCESS_KEY_ID": "AKIDSECRETTEST", "AWS_SECRET_ACCESS_KEY": secretKey, "AWS_SESSION_TOKEN": session, "API_KEY": apiKey,
		}}},
		{name: "bedrock backend signing with the secret", o: harnessOptions{backend: BackendBedrock, emu: signed, environ: map[string]string{
			"API_BASE": signedURL, "AWS_ACCESS_KEY_ID": "AKIDSECRETTEST", "AWS_SECRET_ACCESS_KEY": secretKey,
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.o.environ["LOG_LLM_CHAT_CONTENT"] = "true"
			tt.o.environ["STRATA_LOG_LEVEL"] = "debug"
			tt.o.environ["MAX_RETRY"] = "2"
			h := startStrataWith(t, tt.o)
			var errs []error
			if _, err := h.client.Chat(t.Context(), &stratav1.ChatRequest{Messages: user("hello")}); err != nil {
				t.Fatalf("Chat: %v", err)
			}
			if _, err := chatStream(t, h, &stratav1.ChatRequest{Messages: user("hello")}); err != nil {
				t.Fatalf("ChatStream: %v", err)
			}
			if _, err := h.client.Embed(t.Context(), &stratav1.EmbedRequest{Inputs: []string{"hello"}}); err != nil {
				t.Fatalf("Embed: %v", err)
			}
			hc, err := h.client.HealthCheck(t.Context(), &stratav1.HealthCheckRequest{InvokeModels: true})
			if err != nil || hc.GetStatus() != stratav1.HealthStatus_HEALTH_STATUS_OK {
				t.Fatalf("HealthCheck: %v %v", hc, err)
			}
			_, err = h.client.Chat(t.Context(), &stratav1.ChatRequest{Model: "amazon.nova-mega-v9:0", Messages: user("hello")})
			errs = append(errs, err)
			if err := h.emu.SetFaults(mustFault(t, "error=AccessDeniedException")); err != nil {
				t.Fatal(err)
			}
			_, err = h.client.Chat(t.Context(), &stratav1.ChatRequest{Messages: user("hello")})
			errs = append(errs, err)
			_, err = chatStream(t, h, &stratav1.ChatRequest{Messages: user("hello")})
			errs = append(errs, err)
			logs := h.logs.String()
			if !strings.Contains(logs, "finished call") {
				t.Fatalf("no call was logged:\n%s", logs)
			}
			for _, s := range secrets {
				if strings.Contains(logs, s) {
					t.Errorf("secret %q in the logs:\n%s", s, logs)
				}
				for _, err := range errs {
					if err == nil {
						t.Fatal("a call that should fail succeeded")
					}
					if strings.Contains(status.Convert(err).String(), s) || strings.Contains(h.cfg.String(), s) {
						t.Errorf("secret %q in an error or the printed config", s)
					}
				}
			}
		})
	}
}
