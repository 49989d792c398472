// Package backend defines what Strata needs from a model provider: chat, streaming chat and
// embeddings in provider-neutral types, and errors that say whether retrying can help. The
// Bedrock implementation lives in backend/bedrock.
package backend

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/strata-gateway/strata/catalog"
)

// Backend is a model provider.
type Backend interface {
	// Chat sends a conversation and returns the whole reply.
	Chat(ctx context.Context, req *ChatRequest) (*ChatResponse, error)
	// ChatStream sends a conversation and returns the reply as a stream of events. Canceling ctx
	// cancels the upstream call.
	ChatStream(ctx context.Context, req *ChatRequest) (Stream, error)
	// Embed returns one vector per input, in order.
	Embed(ctx context.Context, req *EmbedRequest) (*EmbedResponse, error)
	// CountTokens counts the input tokens of a chat request without running the model, exactly
	// where the provider can, else as an estimate.
	CountTokens(ctx context.Context, req *ChatRequest) (TokenCount, error)
	// ModelOf finds the catalog model behind an id the catalog cannot place on its own (an
	// application inference profile), asking the provider; nil, without error, for an id that
	// needs no asking or a model the catalog does not know.
	ModelOf(ctx context.Context, modelID string) (*catalog.Model, error)
	// Probe checks that the provider answers and that modelID exists there, without running it
	// unless invoke is true (then a 1-token call).
	Probe(ctx context.Context, modelID string, invoke bool) error
}

// TokenCount is a request's input tokens.
type TokenCount struct {
	Input int64
	// Exact is false for an estimate.
	Exact bool
}

// Stream is a reply in progress. Recv returns the next event; after the end event it returns
// io.EOF. A stream that ends without its end event returns an *Error of kind KindTruncated,
// never io.EOF: a cut stream must not pass for a complete one.
type Stream interface {
	Recv() (Event, error)
	// Warnings say what the backend changed or dropped to make the request valid, as
	// ChatResponse.Warnings does for Chat; they are known before the first event.
	Warnings() []string
	// Close releases the stream; it is safe to call at any time and more than once.
	Close() error
}

// Role is a message's author as providers see it: system text travels separately.
type Role string

// The roles of a conversation.
const (
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
)

// Message is one turn.
type Message struct {
	Role  Role
	Parts []Part
}

// PartKind says which field of a Part is set.
type PartKind int

// The kinds of content a message carries.
const (
	PartText PartKind = iota + 1
	PartImage
	PartDocument
	PartToolCall
	PartToolResult
	PartReasoning
	// PartCachePoint marks the end of a prompt prefix to cache; CacheTTL is its lifetime.
	PartCachePoint
)

// Part is one content block.
type Part struct {
	Kind PartKind
	// Text is the text of a PartText.
	Text string
	// Format and Data are an image's or document's encoding and bytes; Name names a document.
	Format string
	Data   []byte
	Name   string
	// ToolCall is set for PartToolCall.
	ToolCall *ToolCall
	// ToolResult is set for PartToolResult.
	ToolResult *ToolResult
	// Reasoning is set for PartReasoning.
	Reasoning *Reasoning
	// CacheTTL is a PartCachePoint's lifetime ("5m", "1h"), or "" for the provider's default.
	CacheTTL string
}

// ToolCall is a call the model made.
type ToolCall struct {
	ID        string
	Name      string
	Arguments map[string]any
}

// ToolResult answers a tool call.
type ToolResult struct {
	ID      string
	Content string
	// JSON is the output as a JSON object, beside or instead of Content.
	JSON    map[string]any
	IsError bool
}

// Reasoning is a model's thinking block, kept whole so it can be sent back.
type Reasoning struct {
	Text      string
	Signature string
	Redacted  []byte
}

// Effort is how hard a reasoning model should think.
type Effort string

// The reasoning efforts; EffortNone (the zero value) is off.
const (
	EffortNone   Effort = ""
	EffortLow    Effort = "low"
	EffortMedium Effort = "medium"
	EffortHigh   Effort = "high"
)

// Tool is a function the model may call.
type Tool struct {
	Name        string
	Description string
	// Schema is the JSON Schema of the arguments.
	Schema map[string]any
	// CachePoint places a prompt-cache checkpoint after this tool.
	CachePoint bool
}

// ToolChoiceMode is how the model chooses tools.
type ToolChoiceMode int

// The tool choices.
const (
	ToolChoiceAuto ToolChoiceMode = iota
	ToolChoiceAny
	ToolChoiceNone
	ToolChoiceTool
)

// ToolChoice says whether and which tool the model must call.
type ToolChoice struct {
	Mode ToolChoiceMode
	// Name is the tool to call with ToolChoiceTool.
	Name string
}

// ChatRequest is a conversation to continue, with the model already resolved.
type ChatRequest struct {
	// ModelID is what to call: a Bedrock id, profile id or ARN.
	ModelID string
	// Region is the region to call, when not the backend's own ("" for it): a fallback to the
	// same model elsewhere.
	Region string
	// Model is the catalog's entry for ModelID; nil for a model the catalog does not know.
	Model *catalog.Model
	// System is the system prompt: text parts, and cache points between them.
	System      []Part
	Messages    []Message
	MaxTokens   *int
	Temperature *float64
	TopP        *float64
	Stop        []string
	Effort      Effort
	// ReasoningBudget overrides the thinking budget Effort maps to, where the model takes one.
	ReasoningBudget int
	Tools           []Tool
	ToolChoice      ToolChoice
	Metadata        map[string]string
	// Format asks for a JSON reply; the zero value is text.
	Format ResponseFormat
	// AutoCache places cache points after the tools and the system prompt when they are long
	// enough for the model to cache.
	AutoCache bool
	// TopK samples from the k most likely tokens, where the model family takes it.
	TopK *int
	// ServiceTier is the provider's processing tier (default, priority, flex); "" leaves it.
	ServiceTier string
	// LatencyOptimized asks for latency-optimized inference.
	LatencyOptimized bool
	// Guardrail applies a guardrail to the call.
	Guardrail *Guardrail
	// AdditionalFields are sent as the model's native request fields, over the backend's own.
	AdditionalFields map[string]any
}

// Guardrail names a provider guardrail.
type Guardrail struct {
	ID, Version string
	Trace       bool
}

// FormatKind is the kind of reply a request asks for.
type FormatKind int

// The reply formats.
const (
	FormatText FormatKind = iota
	FormatJSONObject
	FormatJSONSchema
)

// ResponseFormat asks for a JSON reply. A backend delivers it as text parts holding the JSON,
// however it obtained it; validating the reply is the caller's job.
type ResponseFormat struct {
	Kind FormatKind
	// Name names the schema (Bedrock needs one); Schema is the JSON Schema, for FormatJSONSchema.
	Name   string
	Schema map[string]any
}

// StopReason says why the model stopped.
type StopReason string

// The stop reasons Bedrock reports.
const (
	StopEndTurn             StopReason = "end_turn"
	StopMaxTokens           StopReason = "max_tokens"
	StopSequence            StopReason = "stop_sequence"
	StopToolUse             StopReason = "tool_use"
	StopContentFiltered     StopReason = "content_filtered"
	StopGuardrailIntervened StopReason = "guardrail_intervened"
)

// Usage counts a call's tokens. Input excludes cached tokens.
type Usage struct {
	Input, Output, CacheRead, CacheWrite int64
	// CacheWrite1h is the part of CacheWrite written with a one-hour TTL, which costs more than a
	// five-minute write (Bedrock's usage.cacheDetails says which TTL each write had).
	CacheWrite1h int64
}

// Total is every token the call counted.
func (u Usage) Total() int64 { return u.Input + u.Output + u.CacheRead + u.CacheWrite }

// ChatResponse is a whole reply.
type ChatResponse struct {
	Parts      []Part
	StopReason StopReason
	Usage      Usage
	// ServiceTier is the processing tier the provider says it served the call at, or "".
	ServiceTier string
	// GuardrailSummary says why a guardrail intervened, when one did.
	GuardrailSummary string
	// Warnings say what the backend changed or dropped to make the request valid.
	Warnings []string
}

// EventKind says which fields of an Event are set.
type EventKind int

// The events of a streamed reply.
const (
	// EventText carries Text.
	EventText EventKind = iota + 1
	// EventReasoning carries reasoning Text.
	EventReasoning
	// EventReasoningSignature carries the reasoning block's Signature.
	EventReasoningSignature
	// EventToolCallStart opens tool call Index with ToolID and ToolName.
	EventToolCallStart
	// EventToolCallArgs carries the next Text of tool call Index's arguments JSON.
	EventToolCallArgs
	// EventEnd closes the reply with StopReason and Usage.
	EventEnd
	// EventReasoningRedacted carries an encrypted reasoning block in Redacted.
	EventReasoningRedacted
)

// Event is one piece of a streamed reply.
type Event struct {
	Kind       EventKind
	Text       string
	Signature  string
	Index      int
	ToolID     string
	ToolName   string
	StopReason StopReason
	Usage      Usage
	// Redacted is an EventReasoningRedacted's encrypted reasoning.
	Redacted []byte
	// ServiceTier is the end event's processing tier, as ChatResponse.ServiceTier.
	ServiceTier string
	// GuardrailSummary is the end event's, as ChatResponse.GuardrailSummary.
	GuardrailSummary string
}

// EmbedRequest asks for vectors.
type EmbedRequest struct {
	ModelID    string
	Model      *catalog.Model
	Inputs     []string
	Dimensions int
	// Normalize nil leaves the model's default.
	Normalize *bool
	// InputType is Cohere's input_type (search_document, search_query, classification, clustering).
	InputType string
	// MaxBatch caps the texts per upstream call for models that take batches (EMBEDDING_MAX_STR_NUM).
	MaxBatch int
	// Retry, when set, runs each upstream call and retries it as it sees fit, returning the calls
	// made, so a fan-out retries the one call that failed rather than the whole request.
	Retry func(ctx context.Context, call func(context.Context) error) (int, error)
}

// EmbedResponse holds one vector per input, in order.
type EmbedResponse struct {
	Vectors [][]float32
	Usage   Usage
	// Calls is how many upstream calls were made, retries included.
	Calls int
}

// Kind classifies a backend error by what the caller should do about it.
type Kind int

// The error kinds. Retryable ones are marked.
const (
	KindInternal      Kind = iota // an unexpected failure
	KindInvalid                   // the request is wrong: fix it
	KindUnknownModel              // the model id names nothing the provider serves
	KindAccessDenied              // credentials lack permission
	KindNotFound                  // a resource does not exist
	KindThrottled                 // retryable: over a quota or rate
	KindModelNotReady             // retryable: the model is warming up
	KindTimeout                   // retryable: the model took too long
	KindUnavailable               // retryable: 5xx, connection reset, model error
	KindTruncated                 // retryable before output: the stream ended without its end
	KindCanceled                  // the caller went away or its deadline passed
	KindQuotaExceeded             // over an account quota that waiting does not fix
)

// Error is a provider failure with what is known about it. Its message never carries secrets.
type Error struct {
	Kind Kind
	// Code is the provider's error code (ThrottlingException, ...), when it sent one.
	Code string
	// Message is the provider's message, or Strata's description.
	Message string
	// Model and Region say where the call went.
	Model, Region string
	// RequestID is the provider's request id.
	RequestID string
	// HTTPStatus is the provider's HTTP status, or 0.
	HTTPStatus int
	// RetryAfter is the provider's hint of when to retry, or 0.
	RetryAfter time.Duration
	// Err is the underlying error.
	Err error
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	if e.Code != "" {
		return fmt.Sprintf("%s: %s: %s", e.Model, e.Code, msg)
	}
	return fmt.Sprintf("%s: %s", e.Model, msg)
}

func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether the same request may succeed if sent again.
func (e *Error) Retryable() bool {
	switch e.Kind {
	case KindThrottled, KindModelNotReady, KindTimeout, KindUnavailable, KindTruncated:
		return true
	}
	return false
}

// AsError returns err's *Error, if it has one.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
