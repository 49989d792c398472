package bedrock

import (
	"encoding/json"
	"strconv"
)

// The Converse wire shapes (bedrock-wire.md §2 and §3.2), as encoding/json reads and writes them.
//
// Strata sends Converse and ConverseStream over its own request path (transport.go) rather than
// through the SDK's client: the SDK's per-call middleware stack was most of Strata's own cost
// (BENCHMARKS.md). Every union is a struct of pointers with omitempty, so exactly one key is
// written, as Bedrock requires (§2.2); unknown keys in replies are ignored, as the SDK does.

// converseRequest is the body of Converse and ConverseStream (§2.1).
type converseRequest struct {
	Messages                     []wireMessage     `json:"messages"`
	System                       []wireSystemBlock `json:"system,omitempty"`
	InferenceConfig              *wireInference    `json:"inferenceConfig,omitempty"`
	ToolConfig                   *wireToolConfig   `json:"toolConfig,omitempty"`
	AdditionalModelRequestFields map[string]any    `json:"additionalModelRequestFields,omitempty"`
	RequestMetadata              map[string]string `json:"requestMetadata,omitempty"`
	OutputConfig                 *wireOutputConfig `json:"outputConfig,omitempty"`
	GuardrailConfig              *wireGuardrail    `json:"guardrailConfig,omitempty"`
	PerformanceConfig            *wireLatency      `json:"performanceConfig,omitempty"`
	ServiceTier                  *wireServiceTier  `json:"serviceTier,omitempty"`
}

// wireGuardrail is guardrailConfig; trace is "enabled" or "disabled".
type wireGuardrail struct {
	GuardrailIdentifier string `json:"guardrailIdentifier"`
	GuardrailVersion    string `json:"guardrailVersion"`
	Trace               string `json:"trace,omitempty"`
}

// wireLatency is performanceConfig: {"latency": "standard" | "optimized"}.
type wireLatency struct {
	Latency string `json:"latency"`
}

// wireServiceTier is serviceTier: {"type": "priority" | "default" | "flex" | "reserved"}.
type wireServiceTier struct {
	Type string `json:"type"`
}

// wireOutputConfig is structured output (§2.1): the reply is a text block holding JSON that
// matches the schema, which travels as a JSON string.
type wireOutputConfig struct {
	TextFormat wireTextFormat `json:"textFormat"`
}

type wireTextFormat struct {
	Type      string `json:"type"` // json_schema, the only one
	Structure struct {
		JSONSchema wireJSONSchema `json:"jsonSchema"`
	} `json:"structure"`
}

type wireJSONSchema struct {
	Name   string `json:"name"`
	Schema string `json:"schema"`
}

type wireMessage struct {
	Role    string      `json:"role"`
	Content []wireBlock `json:"content"`
}

// wireSystemBlock is a system block: a text, or a cache point (§2.2).
type wireSystemBlock struct {
	Text       *string         `json:"text,omitempty"`
	CachePoint *wireCachePoint `json:"cachePoint,omitempty"`
}

// wireCachePoint is {"type": "default"}, with a TTL where the model offers a choice.
type wireCachePoint struct {
	Type string `json:"type"`
	TTL  string `json:"ttl,omitempty"`
}

// wireBlock is a content block (§2.2): exactly one member is set.
type wireBlock struct {
	Text             *string         `json:"text,omitempty"`
	Image            *wireImage      `json:"image,omitempty"`
	Document         *wireDocument   `json:"document,omitempty"`
	ToolUse          *wireToolUse    `json:"toolUse,omitempty"`
	ToolResult       *wireToolResult `json:"toolResult,omitempty"`
	ReasoningContent *wireReasoning  `json:"reasoningContent,omitempty"`
	CachePoint       *wireCachePoint `json:"cachePoint,omitempty"`
}

type wireImage struct {
	Format string     `json:"format"`
	Source wireSource `json:"source"`
}

type wireDocument struct {
	Format string     `json:"format"`
	Name   string     `json:"name"`
	Source wireSource `json:"source"`
}

// wireSource carries bytes, which encoding/json writes as standard base64, a Smithy blob's form.
type wireSource struct {
	Bytes []byte `json:"bytes"`
}

// wireToolUse is a tool call. Input is a JSON object; decoded, it holds plain JSON values
// (numbers as float64).
type wireToolUse struct {
	ToolUseID string `json:"toolUseId"`
	Name      string `json:"name"`
	Input     any    `json:"input"`
}

type wireToolResult struct {
	ToolUseID string                  `json:"toolUseId"`
	Content   []wireToolResultContent `json:"content"`
	Status    string                  `json:"status,omitempty"`
}

// wireToolResultContent is a tool result block: a text or a JSON value.
type wireToolResultContent struct {
	Text *string `json:"text,omitempty"`
	JSON any     `json:"json,omitempty"`
}

// wireReasoning is a reasoningContent block: a thinking text with its signature, or redacted bytes.
type wireReasoning struct {
	ReasoningText   *wireReasoningText `json:"reasoningText,omitempty"`
	RedactedContent []byte             `json:"redactedContent,omitempty"`
}

type wireReasoningText struct {
	Text      string `json:"text"`
	Signature string `json:"signature,omitempty"`
}

// wireInference is inferenceConfig. Temperature and topP are floats on the wire that the SDK
// models as float32; Strata sends the same digits the SDK would ("0.7", not "0.699999988").
type wireInference struct {
	MaxTokens     *int     `json:"maxTokens,omitempty"`
	Temperature   *float32 `json:"temperature,omitempty"`
	TopP          *float32 `json:"topP,omitempty"`
	StopSequences []string `json:"stopSequences,omitempty"`
}

type wireToolConfig struct {
	Tools      []wireTool      `json:"tools"`
	ToolChoice *wireToolChoice `json:"toolChoice,omitempty"`
}

// wireTool is a tool list entry: a tool, or a cache point after the tools before it.
type wireTool struct {
	ToolSpec   *wireToolSpec   `json:"toolSpec,omitempty"`
	CachePoint *wireCachePoint `json:"cachePoint,omitempty"`
}

type wireToolSpec struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	InputSchema wireInputSchema `json:"inputSchema"`
}

type wireInputSchema struct {
	JSON any `json:"json"`
}

// wireToolChoice is a union: {"auto":{}}, {"any":{}} or {"tool":{"name":...}}.
type wireToolChoice struct {
	Auto *struct{}      `json:"auto,omitempty"`
	Any  *struct{}      `json:"any,omitempty"`
	Tool *wireNamedTool `json:"tool,omitempty"`
}

type wireNamedTool struct {
	Name string `json:"name"`
}

// converseResponse is Converse's reply (§2.3). Only what Strata uses is decoded.
type converseResponse struct {
	Output struct {
		Message *wireMessage `json:"message"`
	} `json:"output"`
	StopReason string     `json:"stopReason"`
	Usage      *wireUsage `json:"usage"`
	// ServiceTier echoes the tier that served the call (§2.3): {"type": "flex"}.
	ServiceTier *wireServiceTier `json:"serviceTier"`
	// Trace is the guardrail trace, when one was asked for.
	Trace json.RawMessage `json:"trace"`
}

// wireUsage is TokenUsage; inputTokens already exclude cached tokens (§2.3).
type wireUsage struct {
	InputTokens           int64 `json:"inputTokens"`
	OutputTokens          int64 `json:"outputTokens"`
	CacheReadInputTokens  int64 `json:"cacheReadInputTokens"`
	CacheWriteInputTokens int64 `json:"cacheWriteInputTokens"`
	// CacheDetails splits a cache write by TTL: [{"inputTokens": N, "ttl": "5m" | "1h"}].
	CacheDetails []wireCacheDetail `json:"cacheDetails"`
}

type wireCacheDetail struct {
	InputTokens int64  `json:"inputTokens"`
	TTL         string `json:"ttl"`
}

// streamPayload is the JSON of any ConverseStream event (§3.2); which fields are set depends on
// the frame's :event-type.
type streamPayload struct {
	ContentBlockIndex int         `json:"contentBlockIndex"`
	Start             *blockStart `json:"start"`
	Delta             *blockDelta `json:"delta"`
	StopReason        string      `json:"stopReason"`
	Usage             *wireUsage  `json:"usage"`
	// ServiceTier is metadata's echo of the tier that served the call.
	ServiceTier *wireServiceTier `json:"serviceTier"`
	// Trace is metadata's guardrail trace, when one was asked for.
	Trace json.RawMessage `json:"trace"`
	// Message is an exception frame's text.
	Message string `json:"message"`
}

type blockStart struct {
	ToolUse *struct {
		ToolUseID string `json:"toolUseId"`
		Name      string `json:"name"`
	} `json:"toolUse"`
}

type blockDelta struct {
	Text    *string `json:"text"`
	ToolUse *struct {
		Input string `json:"input"`
	} `json:"toolUse"`
	ReasoningContent *struct {
		Text            *string `json:"text"`
		Signature       *string `json:"signature"`
		RedactedContent []byte  `json:"redactedContent"`
	} `json:"reasoningContent"`
}

// decodeConverse reads a Converse reply (§2.3) without reflection for what every reply has (the
// text blocks, stop reason and usage); tool calls and reasoning blocks, rarer, go through
// encoding/json. encoding/json on the whole reply was 15% of Strata's CPU at saturation, half of
// it growing the stack of the goroutine that ran it (BENCHMARKS.md).
func decodeConverse(raw []byte) (out converseResponse, err error) {
	err = eachField(raw, func(key string, v []byte) error {
		switch key {
		case "output":
			return eachField(v, func(key string, v []byte) error {
				if key != "message" {
					return nil
				}
				msg := &wireMessage{Role: "assistant"}
				out.Output.Message = msg
				return eachField(v, func(key string, v []byte) error {
					if key != "content" {
						return nil
					}
					return eachElement(v, func(v []byte) error {
						block, err := decodeBlock(v)
						msg.Content = append(msg.Content, block)
						return err
					})
				})
			})
		case "stopReason":
			s, err := jsonString(v)
			out.StopReason = s
			return err
		case "usage":
			out.Usage = &wireUsage{}
			return decodeUsage(v, out.Usage)
		case "serviceTier":
			out.ServiceTier = &wireServiceTier{}
			return json.Unmarshal(v, out.ServiceTier)
		case "trace":
			out.Trace = append(json.RawMessage(nil), v...) // v is the pooled reply buffer's
		}
		return nil
	})
	return out, err
}

// decodeBlock reads one content block of a reply.
func decodeBlock(raw []byte) (block wireBlock, err error) {
	err = eachField(raw, func(key string, v []byte) error {
		switch key {
		case "text":
			s, err := jsonString(v)
			block.Text = &s
			return err
		case "toolUse":
			block.ToolUse = &wireToolUse{}
			return json.Unmarshal(v, block.ToolUse)
		case "reasoningContent":
			block.ReasoningContent = &wireReasoning{}
			return json.Unmarshal(v, block.ReasoningContent)
		}
		return nil // citations, images, ...: no part for them
	})
	return block, err
}

// decodeUsage reads TokenUsage's counts.
func decodeUsage(raw []byte, u *wireUsage) error {
	return eachField(raw, func(key string, v []byte) error {
		var dst *int64
		switch key {
		case "inputTokens":
			dst = &u.InputTokens
		case "outputTokens":
			dst = &u.OutputTokens
		case "cacheReadInputTokens":
			dst = &u.CacheReadInputTokens
		case "cacheWriteInputTokens":
			dst = &u.CacheWriteInputTokens
		case "cacheDetails":
			return json.Unmarshal(v, &u.CacheDetails)
		default:
			return nil
		}
		n, err := strconv.ParseInt(string(v), 10, 64)
		*dst = n
		return err
	})
}
