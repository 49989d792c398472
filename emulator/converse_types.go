package emulator

import "encoding/json"

// The Converse request as Bedrock reads it (bedrock-wire.md §2.1). Unions are structs of pointers:
// exactly one member is set in a valid block. Unknown members are ignored, as the service does.
type converseRequest struct {
	Messages                          []message          `json:"messages"`
	System                            []systemBlock      `json:"system"`
	InferenceConfig                   *inferenceConfig   `json:"inferenceConfig"`
	ToolConfig                        *toolConfig        `json:"toolConfig"`
	GuardrailConfig                   *guardrailConfig   `json:"guardrailConfig"`
	AdditionalModelRequestFields      map[string]any     `json:"additionalModelRequestFields"`
	AdditionalModelResponseFieldPaths []string           `json:"additionalModelResponseFieldPaths"`
	PromptVariables                   map[string]any     `json:"promptVariables"`
	RequestMetadata                   map[string]string  `json:"requestMetadata"`
	PerformanceConfig                 *performanceConfig `json:"performanceConfig"`
	ServiceTier                       *serviceTier       `json:"serviceTier"`
	OutputConfig                      *outputConfig      `json:"outputConfig"`
}

type message struct {
	Role    string         `json:"role"`
	Content []contentBlock `json:"content"`
}

type contentBlock struct {
	Text             *string          `json:"text"`
	Image            *mediaBlock      `json:"image"`
	Document         *documentBlock   `json:"document"`
	Video            *mediaBlock      `json:"video"`
	Audio            *mediaBlock      `json:"audio"`
	ToolUse          *toolUseBlock    `json:"toolUse"`
	ToolResult       *toolResultBlock `json:"toolResult"`
	GuardContent     json.RawMessage  `json:"guardContent"`
	CachePoint       *cachePointBlock `json:"cachePoint"`
	ReasoningContent *reasoningBlock  `json:"reasoningContent"`
	CitationsContent json.RawMessage  `json:"citationsContent"`
	SearchResult     json.RawMessage  `json:"searchResult"`
}

// members counts the union members set, for the "exactly one" rule.
func (b *contentBlock) members() int {
	n := 0
	for _, set := range []bool{b.Text != nil, b.Image != nil, b.Document != nil, b.Video != nil, b.Audio != nil,
		b.ToolUse != nil, b.ToolResult != nil, b.GuardContent != nil, b.CachePoint != nil,
		b.ReasoningContent != nil, b.CitationsContent != nil, b.SearchResult != nil} {
		if set {
			n++
		}
	}
	return n
}

type systemBlock struct {
	Text         *string          `json:"text"`
	GuardContent json.RawMessage  `json:"guardContent"`
	CachePoint   *cachePointBlock `json:"cachePoint"`
}

type mediaSource struct {
	Bytes      []byte          `json:"bytes"`
	S3Location json.RawMessage `json:"s3Location"`
	Text       *string         `json:"text"`
	Content    []struct {
		Text string `json:"text"`
	} `json:"content"`
}

type mediaBlock struct {
	Format string      `json:"format"`
	Source mediaSource `json:"source"`
}

type documentBlock struct {
	Format string      `json:"format"`
	Name   string      `json:"name"`
	Source mediaSource `json:"source"`
}

type toolUseBlock struct {
	ToolUseID string          `json:"toolUseId"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
	Type      string          `json:"type,omitempty"`
}

type toolResultBlock struct {
	ToolUseID string              `json:"toolUseId"`
	Content   []toolResultContent `json:"content"`
	Status    string              `json:"status"`
	// Type names a server tool's result ("nova_code_interpreter_result"), which a caller echoes
	// back inside the assistant turn that ran the tool (test_bedrock_model_with_code_execution_tool.yaml).
	Type string `json:"type,omitempty"`
}

type toolResultContent struct {
	JSON     json.RawMessage `json:"json"`
	Text     *string         `json:"text"`
	Image    *mediaBlock     `json:"image"`
	Document *documentBlock  `json:"document"`
	Video    *mediaBlock     `json:"video"`
}

type cachePointBlock struct {
	Type string `json:"type"`
	TTL  string `json:"ttl,omitempty"`
}

type reasoningBlock struct {
	ReasoningText *struct {
		Text      string `json:"text"`
		Signature string `json:"signature,omitempty"`
	} `json:"reasoningText"`
	RedactedContent []byte `json:"redactedContent"`
}

type inferenceConfig struct {
	MaxTokens     *int     `json:"maxTokens"`
	Temperature   *float64 `json:"temperature"`
	TopP          *float64 `json:"topP"`
	StopSequences []string `json:"stopSequences"`
}

type toolConfig struct {
	Tools      []tool      `json:"tools"`
	ToolChoice *toolChoice `json:"toolChoice"`
}

type tool struct {
	ToolSpec *struct {
		Name        string `json:"name"`
		Description string `json:"description"`
		InputSchema struct {
			JSON json.RawMessage `json:"json"`
		} `json:"inputSchema"`
		Strict *bool `json:"strict"`
	} `json:"toolSpec"`
	SystemTool *struct {
		Name string `json:"name"`
	} `json:"systemTool"`
	CachePoint *cachePointBlock `json:"cachePoint"`
}

type toolChoice struct {
	Auto *struct{} `json:"auto"`
	Any  *struct{} `json:"any"`
	Tool *struct {
		Name string `json:"name"`
	} `json:"tool"`
}

type guardrailConfig struct {
	GuardrailIdentifier  string `json:"guardrailIdentifier"`
	GuardrailVersion     string `json:"guardrailVersion"`
	Trace                string `json:"trace"`
	StreamProcessingMode string `json:"streamProcessingMode"`
}

type performanceConfig struct {
	Latency string `json:"latency"`
}

type serviceTier struct {
	Type string `json:"type"`
}

type outputConfig struct {
	TextFormat *struct {
		Type      string `json:"type"`
		Structure struct {
			JSONSchema *struct {
				Name        string `json:"name"`
				Description string `json:"description"`
				Schema      string `json:"schema"`
			} `json:"jsonSchema"`
		} `json:"structure"`
	} `json:"textFormat"`
	Effort string `json:"effort"`
}

// The Converse response (bedrock-wire.md §2.3). Fields are in alphabetical order, as Bedrock writes them.
type converseResponse struct {
	AdditionalModelResponseFields map[string]any     `json:"additionalModelResponseFields,omitempty"`
	Metrics                       converseMetrics    `json:"metrics"`
	Output                        converseOutput     `json:"output"`
	PerformanceConfig             *performanceConfig `json:"performanceConfig,omitempty"`
	ServiceTier                   *serviceTier       `json:"serviceTier,omitempty"`
	StopReason                    string             `json:"stopReason"`
	Trace                         map[string]any     `json:"trace,omitempty"`
	Usage                         converseUsage      `json:"usage"`
}

type converseMetrics struct {
	LatencyMs int64 `json:"latencyMs"`
}

type converseOutput struct {
	Message outputMessage `json:"message"`
}

type outputMessage struct {
	Content []outputBlock `json:"content"`
	Role    string        `json:"role"`
}

type outputBlock struct {
	ReasoningContent *outputReasoning `json:"reasoningContent,omitempty"`
	Text             *string          `json:"text,omitempty"`
	ToolUse          *outputToolUse   `json:"toolUse,omitempty"`
}

type outputReasoning struct {
	ReasoningText   *outputReasoningText `json:"reasoningText,omitempty"`
	RedactedContent []byte               `json:"redactedContent,omitempty"`
}

type outputReasoningText struct {
	Signature string `json:"signature,omitempty"`
	Text      string `json:"text"`
}

type outputToolUse struct {
	Input     json.RawMessage `json:"input"`
	Name      string          `json:"name"`
	ToolUseID string          `json:"toolUseId"`
	// Type is "tool_use", or "server_tool_use" for a system tool's call. Recorded on every tool call
	// of a request that declares a system tool (test_bedrock_model_with_code_execution_tool.yaml),
	// absent from those of requests that do not (test_bedrock_model_structured_output.yaml).
	Type string `json:"type,omitempty"`
}

// converseUsage is TokenUsage. Claude responses, and others when cache points were sent, also carry
// the legacy *Count duplicates of the cache fields (recorded: test_bedrock_cache_write_and_read.yaml).
type converseUsage struct {
	// CacheDetails accompanies a cache write, one entry per TTL written, and is absent otherwise
	// (recorded: test_bedrock_cache_messages_with_document_as_last_content.yaml).
	CacheDetails              []cacheDetail `json:"cacheDetails,omitempty"`
	CacheReadInputTokenCount  *int          `json:"cacheReadInputTokenCount,omitempty"`
	CacheReadInputTokens      *int          `json:"cacheReadInputTokens,omitempty"`
	CacheWriteInputTokenCount *int          `json:"cacheWriteInputTokenCount,omitempty"`
	CacheWriteInputTokens     *int          `json:"cacheWriteInputTokens,omitempty"`
	InputTokens               int           `json:"inputTokens"`
	OutputTokens              int           `json:"outputTokens"`
	ServerToolUsage           struct{}      `json:"serverToolUsage"`
	TotalTokens               int           `json:"totalTokens"`
}

// cacheDetail is TokenUsage's CacheDetail: the tokens written to the prompt cache with one TTL.
type cacheDetail struct {
	InputTokens int    `json:"inputTokens"`
	TTL         string `json:"ttl"` // "5m" or "1h", as the cache point asked
}
