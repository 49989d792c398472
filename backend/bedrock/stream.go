package bedrock

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/schemas"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go/transport/http/protocol/restjson1"

	"github.com/strata-gateway/strata/backend"
)

// ownEventStreamCodec gives one ConverseStream call its own protocol object, and with it its own
// event-stream codec.
//
// In bedrockruntime v1.63.12 / smithy-go v1.28.9 the client's restJson1 protocol holds one
// eventstream.Codec whose DeserializeEventMessage writes the codec's scratch fields (payloadBuf,
// the lazily built decoder) on every frame, from each open stream's reader goroutine: two
// concurrent streams on one client are a data race that -race reports (aws/smithy-go#714, fix
// proposed in #716). The writes are benign today (the buffer stays nil, the decoder is stateless),
// but a gateway runs many streams at once and its CI runs -race. Options are copied per call, so
// replacing Protocol here leaves the one shared client, its transport and its credentials cache
// untouched; building a protocol is two small allocations.
func ownEventStreamCodec(o *bedrockruntime.Options) {
	o.Protocol = restjson1.New(schemas.AmazonBedrockFrontendService)
}

// ChatStream implements [backend.Backend] with ConverseStream. Events are returned as they arrive;
// the stream's end event comes once both messageStop and metadata have. The stream also has a
// `Warnings() []string` method, what ChatResponse.Warnings is for Chat (backend.Event has no
// place for them).
func (b *Backend) ChatStream(ctx context.Context, req *backend.ChatRequest) (backend.Stream, error) {
	p, err := b.converseParams(req)
	if err != nil {
		return nil, fmt.Errorf("converse-stream: %w", err)
	}
	// The stream owns a context of its own so that Close cancels the upstream request whatever
	// the caller does with ctx.
	sctx, cancel := context.WithCancel(ctx)
	out, err := b.runtime.ConverseStream(sctx, p.streamInput(), ownEventStreamCodec)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("converse-stream: %w", b.toError(ctx, err, req.ModelID))
	}
	s := &stream{
		b:        b,
		ctx:      sctx,
		cancel:   cancel,
		es:       out.GetStream(),
		modelID:  req.ModelID,
		warnings: p.warnings,
		tools:    map[int32]int{},
	}
	s.requestID, _ = awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
	s.events = s.es.Events()
	return s, nil
}

// stream is a ConverseStream reply in progress. Recv is called from one goroutine; Close may be
// called from any, at any time, more than once.
type stream struct {
	b         *Backend
	ctx       context.Context
	cancel    context.CancelFunc
	es        *bedrockruntime.ConverseStreamEventStream
	events    <-chan types.ConverseStreamOutput
	modelID   string
	requestID string
	warnings  []string

	// Recv's state.
	tools      map[int32]int // content block index → tool call index
	nextTool   int
	stopReason types.StopReason
	sawStop    bool
	usage      *types.TokenUsage
	sawMeta    bool
	received   int   // upstream events seen
	ended      bool  // the end event was returned
	final      error // what every later Recv returns

	closedByCaller atomic.Bool
	releaseOnce    sync.Once
}

// Warnings says what the backend changed or dropped to make the request valid, as
// backend.ChatResponse.Warnings does for Chat.
func (s *stream) Warnings() []string { return s.warnings }

// Recv implements [backend.Stream].
func (s *stream) Recv() (backend.Event, error) {
	if s.final != nil {
		return backend.Event{}, s.final
	}
	if s.ended {
		// Read what is left (nothing, after metadata) so the response body ends cleanly and its
		// connection goes back to the pool, then release the stream.
		for range s.events {
		}
		return backend.Event{}, s.finish(io.EOF)
	}
	for ev := range s.events {
		s.received++
		if out, ok := s.translate(ev); ok {
			return out, nil
		}
	}
	return backend.Event{}, s.finish(s.cutError())
}

// translate maps one ConverseStream event (bedrock-wire.md §3.2) to at most one backend event.
func (s *stream) translate(ev types.ConverseStreamOutput) (backend.Event, bool) {
	switch v := ev.(type) {
	case *types.ConverseStreamOutputMemberContentBlockStart:
		if start, ok := v.Value.Start.(*types.ContentBlockStartMemberToolUse); ok {
			i := s.toolIndex(v.Value.ContentBlockIndex)
			return backend.Event{Kind: backend.EventToolCallStart, Index: i,
				ToolID: aws.ToString(start.Value.ToolUseId), ToolName: aws.ToString(start.Value.Name)}, true
		}
	case *types.ConverseStreamOutputMemberContentBlockDelta:
		switch d := v.Value.Delta.(type) {
		case *types.ContentBlockDeltaMemberText:
			return backend.Event{Kind: backend.EventText, Text: d.Value}, true
		case *types.ContentBlockDeltaMemberToolUse:
			return backend.Event{Kind: backend.EventToolCallArgs, Index: s.toolIndex(v.Value.ContentBlockIndex), Text: aws.ToString(d.Value.Input)}, true
		case *types.ContentBlockDeltaMemberReasoningContent:
			switch r := d.Value.(type) {
			case *types.ReasoningContentBlockDeltaMemberText:
				return backend.Event{Kind: backend.EventReasoning, Text: r.Value}, true
			case *types.ReasoningContentBlockDeltaMemberSignature:
				return backend.Event{Kind: backend.EventReasoningSignature, Signature: r.Value}, true
			}
			// redactedContent: backend.Event has no field for it (reported as a contract gap).
		}
	case *types.ConverseStreamOutputMemberMessageStop:
		s.stopReason, s.sawStop = v.Value.StopReason, true
		return s.end()
	case *types.ConverseStreamOutputMemberMetadata:
		s.usage, s.sawMeta = v.Value.Usage, true
		return s.end()
	}
	// messageStart, contentBlockStop, unknown events: nothing to forward.
	return backend.Event{}, false
}

// end returns the end event once both messageStop and metadata have arrived, in either order.
func (s *stream) end() (backend.Event, bool) {
	if !s.sawStop || !s.sawMeta || s.ended {
		return backend.Event{}, false
	}
	s.ended = true
	return backend.Event{Kind: backend.EventEnd, StopReason: backend.StopReason(s.stopReason), Usage: usageOf(s.usage)}, true
}

// toolIndex numbers tool calls from 0 in the order their blocks appear; Bedrock's content block
// index counts text and reasoning blocks too.
func (s *stream) toolIndex(block *int32) int {
	var key int32 = -1
	if block != nil {
		key = *block
	}
	if i, ok := s.tools[key]; ok {
		return i
	}
	i := s.nextTool
	s.tools[key] = i
	s.nextTool++
	return i
}

// cutError says why the events ran out before the end event.
func (s *stream) cutError() error {
	if s.closedByCaller.Load() {
		return s.wrap(&backend.Error{Kind: backend.KindCanceled, Message: "the stream was closed", Model: s.modelID, Region: s.b.region})
	}
	if err := s.es.Err(); err != nil || s.ctx.Err() != nil {
		if err == nil {
			err = s.ctx.Err()
		}
		e := s.b.toError(s.ctx, err, s.modelID)
		if e.Kind == backend.KindInternal && s.ctx.Err() == nil {
			// A transport failure mid-stream ("http2: client connection lost") is a cut stream,
			// not a bug of ours: UNAVAILABLE, and retryable before any output.
			e.Kind = backend.KindTruncated
		}
		if e.RequestID == "" {
			e.RequestID = s.requestID
		}
		return s.wrap(e)
	}
	// The SDK ends a stream whose connection dropped as if it were complete (bedrock-wire.md §0
	// item 4): without messageStop and metadata it is cut, never a success.
	return s.wrap(&backend.Error{
		Kind:      backend.KindTruncated,
		Message:   fmt.Sprintf("the stream ended after %d events without messageStop and metadata", s.received),
		Model:     s.modelID,
		Region:    s.b.region,
		RequestID: s.requestID,
	})
}

func (s *stream) wrap(e *backend.Error) error { return fmt.Errorf("converse-stream: %w", e) }

// finish remembers the stream's last word and releases it.
func (s *stream) finish(err error) error {
	s.final = err
	s.release()
	return err
}

// Close implements [backend.Stream]: it cancels the upstream request (the connection is dropped,
// so Bedrock stops generating) and waits until the SDK has stopped delivering events; the SDK's
// reader goroutines end with the cancelled request. A stream read to io.EOF has already released
// everything, and its connection went back to the pool.
func (s *stream) Close() error {
	s.closedByCaller.Store(true)
	s.release()
	return nil
}

func (s *stream) release() {
	s.releaseOnce.Do(func() {
		s.cancel()
		_ = s.es.Close() // its error is the stream's, already reported by Recv or moot
		// Drain: the SDK's pipe goroutine closes the channel once it has stopped.
		for range s.es.Events() {
		}
	})
}
