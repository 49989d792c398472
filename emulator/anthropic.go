package emulator

import (
	"encoding/base64"
	"encoding/json"
	"strings"
)

// anthropicRequest is an Anthropic Messages body as Bedrock's InvokeModel takes it (bedrock-wire.md §4.1).
type anthropicRequest struct {
	AnthropicVersion string             `json:"anthropic_version"`
	MaxTokens        *int               `json:"max_tokens"`
	System           json.RawMessage    `json:"system"`
	Messages         []anthropicMessage `json:"messages"`
	Temperature      *float64           `json:"temperature"`
	TopP             *float64           `json:"top_p"`
	TopK             *float64           `json:"top_k"`
	StopSequences    []string           `json:"stop_sequences"`
	Tools            []anthropicTool    `json:"tools"`
	ToolChoice       *struct {
		Type string `json:"type"`
		Name string `json:"name"`
	} `json:"tool_choice"`
	Thinking      map[string]any `json:"thinking"`
	AnthropicBeta []string       `json:"anthropic_beta"`
	OutputConfig  map[string]any `json:"output_config"`
}

type anthropicMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

type anthropicBlock struct {
	Type         string           `json:"type"`
	Text         string           `json:"text"`
	Source       *anthropicSource `json:"source"`
	ID           string           `json:"id"`
	Name         string           `json:"name"`
	Input        json.RawMessage  `json:"input"`
	ToolUseID    string           `json:"tool_use_id"`
	Content      json.RawMessage  `json:"content"`
	IsError      bool             `json:"is_error"`
	Thinking     string           `json:"thinking"`
	Signature    string           `json:"signature"`
	Data         string           `json:"data"`
	Title        string           `json:"title"`
	CacheControl *struct {
		Type string `json:"type"`
		TTL  string `json:"ttl"`
	} `json:"cache_control"`
}

type anthropicSource struct {
	Type      string `json:"type"`
	MediaType string `json:"media_type"`
	Data      string `json:"data"`
}

type anthropicTool struct {
	Name         string          `json:"name"`
	Description  string          `json:"description"`
	InputSchema  json.RawMessage `json:"input_schema"`
	CacheControl *struct {
		Type string `json:"type"`
		TTL  string `json:"ttl"`
	} `json:"cache_control"`
}

// malformed words a schema violation of an InvokeModel body as Bedrock does.
func malformed(detail string) *apiError {
	return validationf("Malformed input request: %s, please reformat your input and try again.", detail)
}

// toConverse maps an Anthropic body onto the Converse request it means, so one set of rules
// validates both; cache_control marks become cache points after the block that carries them.
func (a *anthropicRequest) toConverse() (*converseRequest, *apiError) {
	if a.AnthropicVersion == "" {
		return nil, malformed("#: required key [anthropic_version] not found")
	}
	if a.AnthropicVersion != "bedrock-2023-05-31" {
		return nil, malformed("#/anthropic_version: " + a.AnthropicVersion + " is not a valid enum value")
	}
	if a.MaxTokens == nil {
		return nil, malformed("#: required key [max_tokens] not found")
	}
	if a.Messages == nil {
		return nil, malformed("#: required key [messages] not found")
	}
	req := &converseRequest{
		InferenceConfig:              &inferenceConfig{MaxTokens: a.MaxTokens, Temperature: a.Temperature, TopP: a.TopP, StopSequences: a.StopSequences},
		AdditionalModelRequestFields: map[string]any{},
	}
	if a.TopK != nil {
		req.AdditionalModelRequestFields["top_k"] = *a.TopK
	}
	if a.Thinking != nil {
		req.AdditionalModelRequestFields["thinking"] = a.Thinking
	}
	if a.OutputConfig != nil {
		req.AdditionalModelRequestFields["output_config"] = a.OutputConfig
	}
	if len(a.System) > 0 {
		var s string
		if json.Unmarshal(a.System, &s) == nil {
			req.System = append(req.System, systemBlock{Text: &s})
		} else {
			var blocks []anthropicBlock
			if err := json.Unmarshal(a.System, &blocks); err != nil {
				return nil, malformed("#/system: expected type: String or JSONArray")
			}
			for _, b := range blocks {
				text := b.Text
				req.System = append(req.System, systemBlock{Text: &text})
				if b.CacheControl != nil {
					req.System = append(req.System, systemBlock{CachePoint: anthropicCachePoint(b.CacheControl.TTL)})
				}
			}
		}
	}
	for i, m := range a.Messages {
		msg, err := m.toConverse(i)
		if err != nil {
			return nil, err
		}
		req.Messages = append(req.Messages, msg)
	}
	if len(a.Tools) > 0 {
		tc := &toolConfig{}
		for _, t := range a.Tools {
			var tl tool
			tl.ToolSpec = &struct {
				Name        string `json:"name"`
				Description string `json:"description"`
				InputSchema struct {
					JSON json.RawMessage `json:"json"`
				} `json:"inputSchema"`
				Strict *bool `json:"strict"`
			}{Name: t.Name, Description: t.Description}
			tl.ToolSpec.InputSchema.JSON = t.InputSchema
			tc.Tools = append(tc.Tools, tl)
			if t.CacheControl != nil {
				tc.Tools = append(tc.Tools, tool{CachePoint: anthropicCachePoint(t.CacheControl.TTL)})
			}
		}
		if ch := a.ToolChoice; ch != nil {
			switch ch.Type {
			case "auto":
				tc.ToolChoice = &toolChoice{Auto: &struct{}{}}
			case "any":
				tc.ToolChoice = &toolChoice{Any: &struct{}{}}
			case "tool":
				tc.ToolChoice = &toolChoice{Tool: &struct {
					Name string `json:"name"`
				}{Name: ch.Name}}
			case "none":
				// No Converse equivalent: handled by the caller, which drops the tools' use.
			default:
				return nil, malformed("#/tool_choice/type: " + ch.Type + " is not a valid enum value")
			}
		}
		req.ToolConfig = tc
	}
	return req, nil
}

func anthropicCachePoint(ttl string) *cachePointBlock {
	return &cachePointBlock{Type: "default", TTL: ttl}
}

func (m anthropicMessage) toConverse(i int) (message, *apiError) {
	msg := message{Role: m.Role}
	var s string
	if json.Unmarshal(m.Content, &s) == nil {
		msg.Content = []contentBlock{{Text: &s}}
		return msg, nil
	}
	var blocks []anthropicBlock
	if err := json.Unmarshal(m.Content, &blocks); err != nil {
		return msg, malformed("#/messages/" + itoa(i) + "/content: expected type: String or JSONArray")
	}
	for _, b := range blocks {
		cb, err := b.toConverse()
		if err != nil {
			return msg, err
		}
		msg.Content = append(msg.Content, cb)
		if b.CacheControl != nil {
			msg.Content = append(msg.Content, contentBlock{CachePoint: anthropicCachePoint(b.CacheControl.TTL)})
		}
	}
	return msg, nil
}

func (b anthropicBlock) toConverse() (contentBlock, *apiError) {
	switch b.Type {
	case "text":
		text := b.Text
		return contentBlock{Text: &text}, nil
	case "image", "document":
		if b.Source == nil {
			return contentBlock{}, malformed("#: required key [source] not found")
		}
		data, err := base64.StdEncoding.DecodeString(b.Source.Data)
		if err != nil && b.Source.Type == "base64" {
			return contentBlock{}, malformed("#/source/data: the data is not valid base64")
		}
		format := strings.TrimPrefix(strings.TrimPrefix(b.Source.MediaType, "image/"), "application/")
		if b.Type == "image" {
			return contentBlock{Image: &mediaBlock{Format: format, Source: mediaSource{Bytes: data}}}, nil
		}
		if b.Source.Type == "text" {
			text := b.Source.Data
			return contentBlock{Document: &documentBlock{Format: "txt", Name: documentName(b.Title), Source: mediaSource{Text: &text}}}, nil
		}
		return contentBlock{Document: &documentBlock{Format: format, Name: documentName(b.Title), Source: mediaSource{Bytes: data}}}, nil
	case "tool_use":
		return contentBlock{ToolUse: &toolUseBlock{ToolUseID: b.ID, Name: b.Name, Input: b.Input}}, nil
	case "tool_result":
		tr := &toolResultBlock{ToolUseID: b.ToolUseID, Status: "success"}
		if b.IsError {
			tr.Status = "error"
		}
		var s string
		if json.Unmarshal(b.Content, &s) == nil {
			tr.Content = []toolResultContent{{Text: &s}}
		} else {
			var inner []anthropicBlock
			_ = json.Unmarshal(b.Content, &inner) // absent or malformed content counts as empty
			for _, ib := range inner {
				text := ib.Text
				tr.Content = append(tr.Content, toolResultContent{Text: &text})
			}
		}
		return contentBlock{ToolResult: tr}, nil
	case "thinking":
		rb := &reasoningBlock{}
		rb.ReasoningText = &struct {
			Text      string `json:"text"`
			Signature string `json:"signature,omitempty"`
		}{Text: b.Thinking, Signature: b.Signature}
		return contentBlock{ReasoningContent: rb}, nil
	case "redacted_thinking":
		return contentBlock{ReasoningContent: &reasoningBlock{RedactedContent: []byte(b.Data)}}, nil
	}
	return contentBlock{}, malformed("#/type: " + b.Type + " is not a valid enum value")
}

func documentName(title string) string {
	if title == "" {
		return "document"
	}
	return title
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

// anthropicModelName is the model name Claude puts in its responses: the id without provider and version.
func anthropicModelName(id string) string {
	name := strings.TrimPrefix(id, "anthropic.")
	if i := strings.LastIndex(name, "-v"); i > 0 && strings.Contains(name[i:], ":") {
		name = name[:i]
	}
	return name
}

// anthropicContent renders reply blocks as Claude's content list.
func anthropicContent(blocks []replyBlock) []map[string]any {
	out := make([]map[string]any, 0, len(blocks))
	for i := range blocks {
		b := &blocks[i]
		switch b.kind {
		case blockReasoning:
			out = append(out, map[string]any{"type": "thinking", "thinking": b.text(), "signature": b.signature})
		case blockRedacted:
			out = append(out, map[string]any{"type": "redacted_thinking", "data": string(b.redacted)})
		case blockToolUse:
			out = append(out, map[string]any{"type": "tool_use", "id": anthropicToolID(b.toolID), "name": b.toolName, "input": json.RawMessage(b.text())})
		default:
			out = append(out, map[string]any{"type": "text", "text": b.text()})
		}
	}
	return out
}

// anthropicToolID turns a Converse tool-use id into the form Claude's native API uses.
func anthropicToolID(id string) string {
	return "toolu_bdrk_01" + strings.TrimPrefix(id, "tooluse_")
}

func anthropicUsage(u tokenUsage) map[string]any {
	return map[string]any{
		"input_tokens":                u.input,
		"output_tokens":               u.output,
		"cache_creation_input_tokens": u.cacheWrite,
		"cache_read_input_tokens":     u.cacheRead,
	}
}
