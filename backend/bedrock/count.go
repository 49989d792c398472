package bedrock

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/strata-gateway/strata/backend"
)

// countTokensRequest is CountTokens' body (bedrock-wire.md §2.4): the Converse members that
// count, under input.converse.
type countTokensRequest struct {
	Input struct {
		Converse struct {
			Messages                     []wireMessage     `json:"messages"`
			System                       []wireSystemBlock `json:"system,omitempty"`
			ToolConfig                   *wireToolConfig   `json:"toolConfig,omitempty"`
			AdditionalModelRequestFields map[string]any    `json:"additionalModelRequestFields,omitempty"`
		} `json:"converse"`
	} `json:"input"`
}

// CountTokens implements [backend.Backend]. Bedrock's CountTokens takes foundation model ids
// only (§2.4), so a profile or ARN is counted against the model behind it; a model the catalog
// says the operation does not accept gets an estimate, and one the catalog does not know is tried.
func (b *Backend) CountTokens(ctx context.Context, req *backend.ChatRequest) (backend.TokenCount, error) {
	p, err := b.converseParams(req)
	if err != nil {
		return backend.TokenCount{}, fmt.Errorf("count-tokens: %w", err)
	}
	m := b.resolveModel(req.ModelID, req.Model)
	if m != nil && !m.CountTokens {
		return backend.TokenCount{Input: estimateTokens(p)}, nil
	}
	base := baseModelID(req.ModelID)
	if m != nil {
		base = m.ID
	}
	var body countTokensRequest
	c := &body.Input.Converse
	c.Messages, c.System, c.ToolConfig, c.AdditionalModelRequestFields = p.body.Messages, p.body.System, p.body.ToolConfig, p.body.AdditionalModelRequestFields
	payload, err := json.Marshal(&body)
	if err != nil {
		return backend.TokenCount{}, fmt.Errorf("count-tokens: %w", b.internal(req.ModelID, "encode the request", err))
	}
	resp, err := b.postIn(ctx, req.Region, base, opCountTokens, payload)
	if e, ok := backend.AsError(err); ok && m == nil && e.Kind == backend.KindInvalid {
		// A model the catalog does not know, which Bedrock does not count for: estimate. An id
		// Bedrock does not know at all stays an error (KindUnknownModel).
		return backend.TokenCount{Input: estimateTokens(p)}, nil
	}
	if err != nil {
		return backend.TokenCount{}, fmt.Errorf("count-tokens: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return backend.TokenCount{}, fmt.Errorf("count-tokens: %w", b.toError(ctx, err, req.ModelID))
	}
	var out struct {
		InputTokens *int64 `json:"inputTokens"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || out.InputTokens == nil {
		if err == nil {
			err = fmt.Errorf("no inputTokens in %q", raw)
		}
		return backend.TokenCount{}, fmt.Errorf("count-tokens: %w", b.internal(req.ModelID, "Bedrock's reply did not parse", err))
	}
	return backend.TokenCount{Input: *out.InputTokens, Exact: true}, nil
}

// charsPerToken is the estimate's ratio: about four characters of English a token, the rule of
// thumb Anthropic and OpenAI both give.
const charsPerToken = 4

// estimateTokens guesses a request's input tokens from the size of what it sends: its text,
// tool schemas and arguments, a few tokens per message for the roles, and images and documents
// by their size.
func estimateTokens(p *converseParams) int64 {
	chars := 0
	for _, s := range p.body.System {
		if s.Text != nil {
			chars += utf8.RuneCountInString(*s.Text)
		}
	}
	if p.body.ToolConfig != nil {
		raw, _ := json.Marshal(p.body.ToolConfig) // built from decoded JSON: always encodes
		chars += len(raw)
	}
	tokens := int64(0)
	for _, m := range p.body.Messages {
		tokens += 4 // role and turn markers
		for _, block := range m.Content {
			switch {
			case block.Text != nil:
				chars += utf8.RuneCountInString(*block.Text)
			case block.ToolUse != nil:
				raw, _ := json.Marshal(block.ToolUse)
				chars += len(raw)
			case block.ToolResult != nil:
				raw, _ := json.Marshal(block.ToolResult.Content) // built from decoded JSON: always encodes
				chars += len(raw)
			case block.ReasoningContent != nil && block.ReasoningContent.ReasoningText != nil:
				chars += utf8.RuneCountInString(block.ReasoningContent.ReasoningText.Text)
			case block.Image != nil:
				tokens += int64(len(block.Image.Source.Bytes) / 750) // a rough guess from the encoded size (Claude counts pixels/750)
			case block.Document != nil:
				chars += len(block.Document.Source.Bytes)
			}
		}
	}
	return tokens + int64((chars+charsPerToken-1)/charsPerToken)
}
