package emulator

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	bedrocktypes "github.com/aws/aws-sdk-go-v2/service/bedrock/types"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/document"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// TestValidation sends requests Bedrock refuses and checks that the SDK surfaces each as the
// typed error, with its HTTP status and a message that names the field at fault.
func TestValidation(t *testing.T) {
	t.Parallel()
	te := sdkStart(t, Options{})
	ctx := testContext(t)

	// converse builds a call from a Converse request; edit adjusts the one-message default.
	converse := func(model string, edit func(in *bedrockruntime.ConverseInput)) func(*testEmulator) error {
		return func(te *testEmulator) error {
			in := sdkAsk(model, "Hello.")
			if edit != nil {
				edit(in)
			}
			_, err := te.runtime.Converse(ctx, in)
			return err
		}
	}
	stream := func(model string, edit func(in *bedrockruntime.ConverseInput)) func(*testEmulator) error {
		return func(te *testEmulator) error {
			in := sdkAsk(model, "Hello.")
			if edit != nil {
				edit(in)
			}
			out, err := sdkStreamClient(te).ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{
				ModelId: in.ModelId, Messages: in.Messages, InferenceConfig: in.InferenceConfig,
				AdditionalModelRequestFields: in.AdditionalModelRequestFields, ToolConfig: in.ToolConfig,
			})
			if err == nil {
				out.GetStream().Close()
			}
			return err
		}
	}
	invoke := func(model string, body any) func(*testEmulator) error {
		return func(te *testEmulator) error {
			raw, _ := json.Marshal(body)
			_, err := te.runtime.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String(model), Body: raw, ContentType: aws.String("application/json")})
			return err
		}
	}
	messages := func(msgs ...types.Message) func(in *bedrockruntime.ConverseInput) {
		return func(in *bedrockruntime.ConverseInput) { in.Messages = msgs }
	}
	weatherTool := &types.ToolMemberToolSpec{Value: types.ToolSpecification{Name: aws.String("get_weather"),
		InputSchema: &types.ToolInputSchemaMemberJson{Value: document.NewLazyDocument(map[string]any{"type": "object"})}}}
	tools := &types.ToolConfiguration{Tools: []types.Tool{weatherTool}}
	toolUse := func(id string) types.ContentBlock {
		return &types.ContentBlockMemberToolUse{Value: types.ToolUseBlock{ToolUseId: aws.String(id), Name: aws.String("get_weather"), Input: document.NewLazyDocument(map[string]any{})}}
	}
	toolResult := func(id string) types.ContentBlock {
		return &types.ContentBlockMemberToolResult{Value: types.ToolResultBlock{ToolUseId: aws.String(id), Content: []types.ToolResultContentBlock{&types.ToolResultContentBlockMemberText{Value: "ok"}}}}
	}
	thinking := func(budget int, maxTokens int32, edit func(in *bedrockruntime.ConverseInput)) func(in *bedrockruntime.ConverseInput) {
		return func(in *bedrockruntime.ConverseInput) {
			in.AdditionalModelRequestFields = sdkThinking(budget)
			in.InferenceConfig = &types.InferenceConfiguration{MaxTokens: aws.Int32(maxTokens)}
			if edit != nil {
				edit(in)
			}
		}
	}
	reasoningBlock := &types.ContentBlockMemberReasoningContent{Value: &types.ReasoningContentBlockMemberReasoningText{Value: types.ReasoningTextBlock{Text: aws.String("Let me look."), Signature: aws.String("c2ln")}}}
	titan := func(body map[string]any) func(*testEmulator) error { return invoke(sdkTitanV2, body) }
	novaEmbed := func(dims int) map[string]any {
		return map[string]any{"taskType": "SINGLE_EMBEDDING", "singleEmbeddingParams": map[string]any{
			"embeddingPurpose": "GENERIC_RETRIEVAL", "embeddingDimension": dims, "text": map[string]any{"value": "hi", "truncationMode": "NONE"}}}
	}
	countTokens := func(model string) func(*testEmulator) error {
		return func(te *testEmulator) error {
			_, err := te.runtime.CountTokens(ctx, &bedrockruntime.CountTokensInput{ModelId: aws.String(model),
				Input: &types.CountTokensInputMemberConverse{Value: types.ConverseTokensRequest{Messages: []types.Message{sdkUser(sdkText("Hi"))}}}})
			return err
		}
	}

	tests := []struct {
		name       string
		call       func(*testEmulator) error
		wantCode   string // the X-Amzn-ErrorType the SDK decoded
		wantStatus int
		wantMsg    string
	}{
		// Model identifiers.
		{"unknown model", converse("amazon.nova-nano-v9:0", nil), CodeValidation, 400, "The provided model identifier is invalid."},
		{"unknown model, stream", stream("anthropic.claude-9", nil), CodeValidation, 400, "The provided model identifier is invalid."},
		{"unknown model, invoke", invoke("meta.llama9", map[string]any{}), CodeValidation, 400, "The provided model identifier is invalid."},
		{"unknown model, count tokens", countTokens("does-not-exist-model-v1:0"), CodeValidation, 400, "The provided model identifier is invalid."},
		{"profile prefix the model lacks", converse("eu.amazon.nova-2-lite-v1:0x", nil), CodeValidation, 400, "The provided model identifier is invalid."},
		{"id with a slash and query characters", converse("amazon.nova-micro-v1:0/../x?y=1#z", nil), CodeValidation, 400, "The provided model identifier is invalid."},
		{"unconfigured application profile", converse(sdkRegionARN+":"+sdkAccount+":application-inference-profile/nope", nil), CodeValidation, 400, "The provided model identifier is invalid."},
		{"bare id of a profile-only model", converse(sdkSonnet45Bare, nil), CodeValidation, 400, "with on-demand throughput isn\u2019t supported"},
		{"foundation ARN of a profile-only model", converse(sdkRegionARN+"::foundation-model/"+sdkSonnet45Bare, nil), CodeValidation, 400, "with on-demand throughput isn\u2019t supported"},
		{"converse on an embedding model", converse(sdkTitanV2, nil), CodeValidation, 400, "doesn't support the model"},
		{"count tokens on a model without it", countTokens(sdkNova), CodeValidation, 400, "doesn't support counting tokens"},

		// Conversation shape.
		{"first message from the assistant", converse(sdkNova, messages(sdkAssistant(sdkText("Hi.")), sdkUser(sdkText("Hello.")))), CodeValidation, 400, "must start with a user message"},
		{"roles not alternating", converse(sdkHaiku45, messages(sdkUser(sdkText("a")), sdkUser(sdkText("b")))), CodeValidation, 400, "must alternate between user and assistant"},
		{"blank text", converse(sdkNova, messages(sdkUser(sdkText("")))), CodeValidation, 400, "text field in the ContentBlock object at messages.0.content.0 is blank"},
		{"empty content", converse(sdkNova, messages(types.Message{Role: types.ConversationRoleUser, Content: []types.ContentBlock{}})), CodeValidation, 400, "messages.0 is empty"},
		{"blank system text", converse(sdkNova, func(in *bedrockruntime.ConverseInput) {
			in.System = []types.SystemContentBlock{&types.SystemContentBlockMemberText{Value: " "}}
		}), CodeValidation, 400, "system.0 is blank"},

		// Tools.
		{"toolResult without a matching toolUse", converse(sdkNova, func(in *bedrockruntime.ConverseInput) {
			in.Messages = []types.Message{sdkUser(sdkText("go")), sdkAssistant(toolUse("tooluse_a")), sdkUser(toolResult("tooluse_b"))}
			in.ToolConfig = tools
		}), CodeValidation, 400, "does not match any toolUse block of the previous turn: tooluse_b"},
		{"missing toolResult", converse(sdkNova, func(in *bedrockruntime.ConverseInput) {
			in.Messages = []types.Message{sdkUser(sdkText("go")), sdkAssistant(toolUse("tooluse_a")), sdkUser(sdkText("and?"))}
			in.ToolConfig = tools
		}), CodeValidation, 400, "Expected toolResult blocks at messages.2.content for the following Ids: tooluse_a"},
		{"toolUse without toolConfig", converse(sdkNova, messages(sdkUser(sdkText("go")), sdkAssistant(toolUse("tooluse_a")), sdkUser(toolResult("tooluse_a")))),
			CodeValidation, 400, "toolConfig field must be defined"},
		{"forced tool not offered", converse(sdkNova, func(in *bedrockruntime.ConverseInput) {
			in.ToolConfig = &types.ToolConfiguration{Tools: []types.Tool{weatherTool}, ToolChoice: &types.ToolChoiceMemberTool{Value: types.SpecificToolChoice{Name: aws.String("get_time")}}}
		}), CodeValidation, 400, "get_time"},
		{"bad tool name", converse(sdkNova, func(in *bedrockruntime.ConverseInput) {
			in.ToolConfig = &types.ToolConfiguration{Tools: []types.Tool{&types.ToolMemberToolSpec{Value: types.ToolSpecification{Name: aws.String("get weather!"),
				InputSchema: &types.ToolInputSchemaMemberJson{Value: document.NewLazyDocument(map[string]any{"type": "object"})}}}}}
		}), CodeValidation, 400, "toolSpec.name"},
		{"tool schema not an object", converse(sdkHaiku45, func(in *bedrockruntime.ConverseInput) {
			in.ToolConfig = &types.ToolConfiguration{Tools: []types.Tool{&types.ToolMemberToolSpec{Value: types.ToolSpecification{Name: aws.String("t"),
				InputSchema: &types.ToolInputSchemaMemberJson{Value: document.NewLazyDocument(map[string]any{"type": "string"})}}}}}
		}), CodeValidation, 400, "input_schema.type"},
		{"tools on a model without them", converse("amazon.titan-text-express-v1", func(in *bedrockruntime.ConverseInput) { in.ToolConfig = tools }),
			CodeValidation, 400, "doesn't support tool use"},

		// Inference parameters.
		{"maxTokens above the model limit", converse(sdkNova, func(in *bedrockruntime.ConverseInput) {
			in.InferenceConfig = &types.InferenceConfiguration{MaxTokens: aws.Int32(10001)}
		}), CodeValidation, 400, "exceeds the model limit of 10000"},
		{"maxTokens zero", converse(sdkNova, func(in *bedrockruntime.ConverseInput) {
			in.InferenceConfig = &types.InferenceConfiguration{MaxTokens: aws.Int32(0)}
		}), CodeValidation, 400, "inferenceConfig.maxTokens"},
		{"temperature above 1", converse(sdkNova, func(in *bedrockruntime.ConverseInput) {
			in.InferenceConfig = &types.InferenceConfiguration{Temperature: aws.Float32(1.5)}
		}), CodeValidation, 400, "inferenceConfig.temperature"},
		{"temperature and top_p on claude 4.5", converse(sdkSonnet45, func(in *bedrockruntime.ConverseInput) {
			in.InferenceConfig = &types.InferenceConfiguration{Temperature: aws.Float32(0.5), TopP: aws.Float32(0.9)}
		}), CodeValidation, 400, "cannot both be specified"},
		{"topP below 0", converse(sdkHaiku45, func(in *bedrockruntime.ConverseInput) {
			in.InferenceConfig = &types.InferenceConfiguration{TopP: aws.Float32(-0.1)}
		}), CodeValidation, 400, "inferenceConfig.topP"},
		{"too many stop sequences for nova", converse(sdkNova, func(in *bedrockruntime.ConverseInput) {
			in.InferenceConfig = &types.InferenceConfiguration{StopSequences: []string{"a", "b", "c", "d", "e"}}
		}), CodeValidation, 400, "inferenceConfig.stopSequences"},

		// Claude thinking.
		{"thinking budget below 1024", converse(sdkSonnet45, thinking(1000, 4000, nil)), CodeValidation, 400, "budget_tokens: Input should be greater than or equal to 1024"},
		{"thinking budget not below maxTokens", converse(sdkSonnet45, thinking(2048, 2048, nil)), CodeValidation, 400, "`max_tokens` must be greater than `thinking.budget_tokens`"},
		{"thinking budget above the default maxTokens", stream(sdkSonnet45, func(in *bedrockruntime.ConverseInput) { in.AdditionalModelRequestFields = sdkThinking(70000) }),
			CodeValidation, 400, "`max_tokens` must be greater than `thinking.budget_tokens`"},
		{"temperature other than 1 with thinking", converse(sdkSonnet45, thinking(1024, 4000, func(in *bedrockruntime.ConverseInput) {
			in.InferenceConfig.Temperature = aws.Float32(0.7)
		})), CodeValidation, 400, "`temperature` may only be set to 1 when thinking is enabled"},
		{"forced tool with thinking", converse(sdkSonnet45, thinking(1024, 4000, func(in *bedrockruntime.ConverseInput) {
			in.ToolConfig = &types.ToolConfiguration{Tools: []types.Tool{weatherTool}, ToolChoice: &types.ToolChoiceMemberAny{}}
		})), CodeValidation, 400, "Thinking may not be enabled when tool_choice forces tool use"},
		{"thinking on a model that cannot", converse(sdkHaiku3, thinking(1024, 4000, nil)), CodeValidation, 400, "thinking: Extra inputs are not permitted"},
		{"adaptive thinking on a budget model", converse(sdkSonnet45, func(in *bedrockruntime.ConverseInput) {
			in.AdditionalModelRequestFields = sdkDoc(t, `{"thinking":{"type":"adaptive"}}`)
		}), CodeValidation, 400, "thinking.type"},
		{"tool-use turn without its thinking block", converse(sdkSonnet45, thinking(1024, 4000, func(in *bedrockruntime.ConverseInput) {
			in.Messages = []types.Message{sdkUser(sdkText("weather?")), sdkAssistant(toolUse("tooluse_a")), sdkUser(toolResult("tooluse_a"))}
			in.ToolConfig = tools
		})), CodeValidation, 400, "Expected `thinking` or `redacted_thinking`, but found `tool_use`"},
		{"top_k with thinking", converse(sdkSonnet45, thinking(1024, 4000, func(in *bedrockruntime.ConverseInput) {
			in.AdditionalModelRequestFields = sdkDoc(t, `{"thinking":{"type":"enabled","budget_tokens":1024},"top_k":40}`)
		})), CodeValidation, 400, "`top_k` must be unset when thinking is enabled"},
		{"reasoning block in a user message", converse(sdkSonnet45, messages(sdkUser(reasoningBlock))), CodeValidation, 400, "only allowed in an assistant message"},
		{"gpt-oss bad effort", converse(sdkGPTOSS, func(in *bedrockruntime.ConverseInput) {
			in.AdditionalModelRequestFields = sdkDoc(t, `{"reasoning_effort":"extreme"}`)
		}), CodeValidation, 400, "reasoning_effort"},

		// Embeddings.
		{"titan v2 dimensions 300", titan(map[string]any{"inputText": "hi", "dimensions": 300}), CodeValidation, 400, "#/dimensions: 300 is not a valid enum value"},
		{"titan v2 without inputText", titan(map[string]any{"dimensions": 256}), CodeValidation, 400, "inputText"},
		{"titan v1 takes no dimensions", invoke("amazon.titan-embed-text-v1", map[string]any{"inputText": "hi", "dimensions": 256}), CodeValidation, 400, "extraneous key [dimensions]"},
		{"nova embedding dimension 100", invoke("amazon.nova-2-multimodal-embeddings-v1:0", novaEmbed(100)), CodeValidation, 400, "embeddingDimension: 100 is not a valid enum value"},
		{"cohere v4 output_dimension 100", invoke("cohere.embed-v4:0", map[string]any{"texts": []any{"hi"}, "input_type": "search_query", "output_dimension": 100}),
			CodeValidation, 400, "#/output_dimension: 100 is not a valid enum value"},
		{"cohere more than 96 texts", invoke("cohere.embed-english-v3", map[string]any{"texts": sdkManyTexts(97), "input_type": "search_query"}),
			CodeValidation, 400, "expected maxItems: 96, actual: 97"},
		{"cohere without input_type", invoke("cohere.embed-english-v3", map[string]any{"texts": []any{"hi"}}), CodeValidation, 400, "input_type"},
		{"cohere v3 takes no output_dimension", invoke("cohere.embed-multilingual-v3", map[string]any{"texts": []any{"hi"}, "input_type": "search_query", "output_dimension": 512}),
			CodeValidation, 400, "extraneous key [output_dimension]"},

		// Anthropic bodies.
		{"anthropic body without anthropic_version", invoke(sdkHaiku45, map[string]any{"max_tokens": 10, "messages": []any{map[string]any{"role": "user", "content": "hi"}}}),
			CodeValidation, 400, "anthropic_version"},
		{"anthropic body without max_tokens", invoke(sdkHaiku45, map[string]any{"anthropic_version": "bedrock-2023-05-31", "messages": []any{map[string]any{"role": "user", "content": "hi"}}}),
			CodeValidation, 400, "max_tokens"},
		{"anthropic thinking budget too small", invoke(sdkSonnet45, sdkClaudeBody("hi", map[string]any{"thinking": map[string]any{"type": "enabled", "budget_tokens": 100}})),
			CodeValidation, 400, "budget_tokens"},

		// Other request members.
		{"structured output on a model without it", converse(sdkNova, func(in *bedrockruntime.ConverseInput) {
			in.OutputConfig = &types.OutputConfig{TextFormat: &types.OutputFormat{Type: types.OutputFormatTypeJsonSchema,
				Structure: &types.OutputFormatStructureMemberJsonSchema{Value: types.JsonSchemaDefinition{Schema: aws.String(`{"type":"object"}`)}}}}
		}), CodeValidation, 400, "outputConfig.textFormat"},
		{"structured output schema not JSON", converse(sdkGLMFlash, func(in *bedrockruntime.ConverseInput) {
			in.OutputConfig = &types.OutputConfig{TextFormat: &types.OutputFormat{Type: types.OutputFormatTypeJsonSchema,
				Structure: &types.OutputFormatStructureMemberJsonSchema{Value: types.JsonSchemaDefinition{Schema: aws.String(`{not json`)}}}}
		}), CodeValidation, 400, "jsonSchema.schema"},
		{"guardrailConfig without its version", converse(sdkNova, func(in *bedrockruntime.ConverseInput) {
			in.GuardrailConfig = &types.GuardrailConfiguration{GuardrailIdentifier: aws.String("gr-123")}
		}), CodeValidation, 400, "guardrailVersion"},
		{"bad image format", converse(sdkNovaLite, messages(sdkUser(&types.ContentBlockMemberImage{Value: types.ImageBlock{Format: "bmp", Source: &types.ImageSourceMemberBytes{Value: []byte("BM")}}}, sdkText("what?")))),
			CodeValidation, 400, "image.format"},
		{"image on a text-only model", converse(sdkNova, messages(sdkUser(&types.ContentBlockMemberImage{Value: types.ImageBlock{Format: types.ImageFormatPng, Source: &types.ImageSourceMemberBytes{Value: []byte("x")}}}))),
			CodeValidation, 400, "doesn't support the image content block"},
		{"bad document name", converse(sdkHaiku45, messages(sdkUser(&types.ContentBlockMemberDocument{Value: types.DocumentBlock{Format: types.DocumentFormatTxt, Name: aws.String("notes.txt"), Source: &types.DocumentSourceMemberBytes{Value: []byte("x")}}}))),
			CodeValidation, 400, "document name"},
		{"bad cache point ttl", converse(sdkHaiku45, func(in *bedrockruntime.ConverseInput) {
			in.System = []types.SystemContentBlock{&types.SystemContentBlockMemberText{Value: "sys"}, &types.SystemContentBlockMemberCachePoint{Value: types.CachePointBlock{Type: types.CachePointTypeDefault, Ttl: "2h"}}}
		}), CodeValidation, 400, "cachePoint.ttl"},
		{"bad performance latency", converse(sdkNova, func(in *bedrockruntime.ConverseInput) {
			in.PerformanceConfig = &types.PerformanceConfiguration{Latency: "fastest"}
		}), CodeValidation, 400, "performanceConfig.latency"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sdkCheckAPIError(t, tt.call(te), tt.wantCode, tt.wantStatus, tt.wantMsg)
		})
	}
	t.Run("get unknown foundation model", func(t *testing.T) {
		t.Parallel()
		_, err := te.control.GetFoundationModel(ctx, &bedrock.GetFoundationModelInput{ModelIdentifier: aws.String("amazon.nova-nano-v9:0")})
		sdkCheckAPIError(t, err, CodeResourceNotFound, http.StatusNotFound, "amazon.nova-nano-v9:0")
	})
}

// sdkCheckAPIError asserts err is the typed SDK error for code, with its HTTP status, a
// request id, and a message containing msg.
func sdkCheckAPIError(t testing.TB, err error, code string, status int, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s containing %q", code, msg)
	}
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("error %v (%T) is not an API error", err, err)
	}
	if apiErr.ErrorCode() != code {
		t.Errorf("code = %q, want %q (%v)", apiErr.ErrorCode(), code, err)
	}
	switch code {
	case CodeValidation:
		if _, ok := errors.AsType[*types.ValidationException](err); !ok {
			t.Errorf("error %T is not *types.ValidationException", apiErr)
		}
	case CodeResourceNotFound:
		if !sdkIsControlNotFound(err) {
			t.Errorf("error %T is not a typed ResourceNotFoundException", apiErr)
		}
	}
	var re *smithyhttp.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("error %v carries no HTTP response", err)
	}
	if re.HTTPStatusCode() != status {
		t.Errorf("HTTP status = %d, want %d", re.HTTPStatusCode(), status)
	}
	if !strings.Contains(apiErr.ErrorMessage(), msg) {
		t.Errorf("message %q does not contain %q", apiErr.ErrorMessage(), msg)
	}
	if apiErr.ErrorFault() != smithy.FaultClient {
		t.Errorf("fault = %v, want client", apiErr.ErrorFault())
	}
	var opErr *smithy.OperationError
	if errors.As(err, &opErr) && opErr.Service() == "" {
		t.Error("operation error names no service")
	}
}

func sdkIsControlNotFound(err error) bool {
	_, ok := errors.AsType[*bedrocktypes.ResourceNotFoundException](err)
	return ok
}
