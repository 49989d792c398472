package bedrock

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strata-gateway/strata/backend"
)

// streamReadBuffer sizes the buffer frames are decoded from: a ConverseStream frame is ~100-300
// bytes (§3.2), and the decoder reads a frame in several small pieces that should not each reach
// the connection.
const streamReadBuffer = 2048

// ChatStream implements [backend.Backend] with ConverseStream. Events are decoded from the
// response body on the caller's goroutine as Recv asks for them, one frame at a time: nothing is
// read ahead, so each event reaches the caller as soon as it arrives. The stream's end event comes
// once both messageStop and metadata have.
func (b *Backend) ChatStream(ctx context.Context, req *backend.ChatRequest) (backend.Stream, error) {
	p, err := b.converseParams(req)
	if err != nil {
		return nil, fmt.Errorf("converse-stream: %w", err)
	}
	payload, err := json.Marshal(&p.body)
	if err != nil {
		return nil, fmt.Errorf("converse-stream: %w", b.internal(req.ModelID, "encode the request", err))
	}
	// The stream owns a context of its own so that Close cancels the upstream request whatever
	// the caller does with ctx.
	sctx, cancel := context.WithCancel(ctx)
	resp, err := b.postIn(sctx, req.Region, req.ModelID, opConverseStream, payload)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("converse-stream: %w", err)
	}
	return &stream{
		b:         b,
		ctx:       sctx,
		cancel:    cancel,
		body:      resp.Body,
		frames:    frameReader{r: bufio.NewReaderSize(resp.Body, streamReadBuffer)},
		modelID:   req.ModelID,
		requestID: requestID(resp.Header),
		warnings:  p.warnings,
		format:    formatStream{tool: p.formatTool, block: -1},
	}, nil
}

// stream is a ConverseStream reply in progress. Recv is called from one goroutine; Close may be
// called from any, at any time, more than once.
type stream struct {
	b         *Backend
	ctx       context.Context
	cancel    context.CancelFunc
	body      io.ReadCloser
	frames    frameReader
	modelID   string
	requestID string
	warnings  []string
	format    formatStream

	// Recv's state.
	event       streamPayload // the last frame's decoded payload, reused for the next
	tools       []int         // content block index of each tool call, in order
	toolArgs    []bool        // whether tool call i has had an argument fragment
	stopReason  string
	sawStop     bool
	usage       backend.Usage
	serviceTier string
	trace       []byte
	sawMeta     bool
	received    int   // upstream frames seen
	ended       bool  // the end event was returned
	final       error // what every later Recv returns

	closedByCaller atomic.Bool
	releaseOnce    sync.Once
	// endSeen is ended for Close, which may run on another goroutine; drainMu keeps the trailer's
	// two readers (Recv after the end, and Close) apart.
	endSeen atomic.Bool
	drainMu sync.Mutex
	drained bool
}

// formatStream is a response format's forced tool call (responseFormat) in a stream: its
// argument fragments are the reply's text.
type formatStream struct {
	tool  string // the tool's name, or "" when the request has no such format
	block int    // its content block index once started, else -1
	args  bool   // whether the call has had an argument fragment
}

// Warnings implements [backend.Stream].
func (s *stream) Warnings() []string { return s.warnings }

// trailerWait bounds how long the end of the body is waited for after the end event.
const trailerWait = 100 * time.Millisecond

// maxTrailer bounds what is read after the end event so that the connection can be reused:
// Bedrock sends nothing after metadata.
const maxTrailer = 64 << 10

// Recv implements [backend.Stream].
func (s *stream) Recv() (backend.Event, error) {
	if s.final != nil {
		return backend.Event{}, s.final
	}
	if s.ended {
		// Read the body to its end so its connection goes back to the pool, then release.
		s.drainTrailer()
		return backend.Event{}, s.finish(io.EOF)
	}
	for {
		f, err := s.frames.next()
		if err != nil {
			return backend.Event{}, s.finish(s.cutError(err))
		}
		s.received++
		ev, ok, failed := s.translate(f)
		if failed != nil {
			return backend.Event{}, s.finish(s.wrap(failed))
		}
		if ok {
			return ev, nil
		}
	}
}

// translate maps one frame (bedrock-wire.md §3.2, §3.4) to at most one backend event, or to the
// error an exception frame carries.
func (s *stream) translate(f frame) (backend.Event, bool, *backend.Error) {
	switch string(f.header(":message-type")) {
	case "event":
	case "exception":
		return backend.Event{}, false, s.exception(string(f.header(":exception-type")), f.payload)
	case "error":
		return backend.Event{}, false, s.streamError(string(f.header(":error-code")), string(f.header(":error-message")))
	default:
		return backend.Event{}, false, s.streamError("", "a frame without :message-type")
	}
	kind := f.header(":event-type")
	switch string(kind) {
	case "contentBlockStart", "contentBlockDelta", "contentBlockStop", "messageStop", "metadata":
	default:
		// messageStart, unknown events: nothing to forward.
		return backend.Event{}, false, nil
	}
	ev := &s.event
	*ev = streamPayload{}
	if err := json.Unmarshal(f.payload, ev); err != nil {
		return backend.Event{}, false, s.streamError("", fmt.Sprintf("a %s event that is not JSON: %v", kind, err))
	}
	switch string(kind) {
	case "contentBlockStart":
		if ev.Start != nil && ev.Start.ToolUse != nil && s.format.tool != "" && ev.Start.ToolUse.Name == s.format.tool {
			s.format.block = ev.ContentBlockIndex // the reply itself, streamed as text
			return backend.Event{}, false, nil
		}
		if ev.Start != nil && ev.Start.ToolUse != nil {
			return backend.Event{Kind: backend.EventToolCallStart, Index: s.toolIndex(ev.ContentBlockIndex),
				ToolID: ev.Start.ToolUse.ToolUseID, ToolName: ev.Start.ToolUse.Name}, true, nil
		}
	case "contentBlockDelta":
		d := ev.Delta
		switch {
		case d == nil:
		case d.Text != nil && s.format.tool != "":
			// Text beside a response format's forced call is not part of the reply (formatReply).
		case d.Text != nil:
			return backend.Event{Kind: backend.EventText, Text: *d.Text}, true, nil
		case d.ToolUse != nil && s.format.block >= 0 && ev.ContentBlockIndex == s.format.block:
			s.format.args = s.format.args || strings.TrimSpace(d.ToolUse.Input) != ""
			return backend.Event{Kind: backend.EventText, Text: d.ToolUse.Input}, true, nil
		case d.ToolUse != nil:
			i := s.toolIndex(ev.ContentBlockIndex)
			s.toolArgs[i] = s.toolArgs[i] || strings.TrimSpace(d.ToolUse.Input) != ""
			return backend.Event{Kind: backend.EventToolCallArgs, Index: i, Text: d.ToolUse.Input}, true, nil
		case d.ReasoningContent != nil:
			r := d.ReasoningContent
			switch {
			case r.Text != nil:
				return backend.Event{Kind: backend.EventReasoning, Text: *r.Text}, true, nil
			case r.Signature != nil:
				return backend.Event{Kind: backend.EventReasoningSignature, Signature: *r.Signature}, true, nil
			case len(r.RedactedContent) > 0:
				return backend.Event{Kind: backend.EventReasoningRedacted, Redacted: r.RedactedContent}, true, nil
			}
		}
	case "contentBlockStop":
		// A call of a tool without arguments streams no toolUse.input at all (only its start and
		// stop; spring-projects/spring-ai#3618, vercel/ai#10859): its arguments are {}, sent here
		// so that a call's fragments always join into a JSON object.
		if s.format.tool != "" && s.format.block >= 0 && ev.ContentBlockIndex == s.format.block && !s.format.args {
			s.format.args = true
			return backend.Event{Kind: backend.EventText, Text: "{}"}, true, nil
		}
		if i, ok := s.toolAt(ev.ContentBlockIndex); ok && !s.toolArgs[i] {
			s.toolArgs[i] = true
			return backend.Event{Kind: backend.EventToolCallArgs, Index: i, Text: "{}"}, true, nil
		}
	case "messageStop":
		s.stopReason, s.sawStop = ev.StopReason, true
		if s.format.block >= 0 && s.stopReason == string(backend.StopToolUse) {
			s.stopReason = string(backend.StopEndTurn)
		}
		ev, ok := s.end()
		return ev, ok, nil
	case "metadata":
		s.usage, s.sawMeta = usageOf(ev.Usage), true
		if ev.ServiceTier != nil {
			s.serviceTier = ev.ServiceTier.Type
		}
		s.trace = append(s.trace[:0], ev.Trace...)
		ev, ok := s.end()
		return ev, ok, nil
	}
	return backend.Event{}, false, nil
}

// exception is the error an exception frame carries (§3.4): its :exception-type is the code in
// lowerCamel case (throttlingException), its payload {"message": ...}.
func (s *stream) exception(code string, payload []byte) *backend.Error {
	var body struct {
		Message string `json:"message"`
	}
	_ = json.Unmarshal(payload, &body) // without a message the code speaks alone
	if code != "" {
		code = string(code[0]&^0x20) + code[1:] // ASCII upper case: throttlingException → ThrottlingException
	}
	e := s.streamError(code, body.Message)
	return e
}

// streamError is a failure Bedrock reported inside the stream.
func (s *stream) streamError(code, message string) *backend.Error {
	e := &backend.Error{Code: code, Message: message, Model: s.modelID, Region: s.b.region, RequestID: s.requestID}
	e.Kind = kindOf(code, message, 0)
	if e.Kind == backend.KindInternal {
		// A failure without a known code after the stream opened: the stream is cut, which a
		// retry before any output can fix.
		e.Kind = backend.KindTruncated
	}
	if e.Message == "" {
		e.Message = "Bedrock ended the stream with an error it did not describe"
	}
	return e
}

// end returns the end event once both messageStop and metadata have arrived, in either order.
func (s *stream) end() (backend.Event, bool) {
	if !s.sawStop || !s.sawMeta || s.ended {
		return backend.Event{}, false
	}
	s.ended = true
	s.endSeen.Store(true)
	stop := backend.StopReason(s.stopReason)
	return backend.Event{Kind: backend.EventEnd, StopReason: stop, Usage: s.usage, ServiceTier: s.serviceTier,
		GuardrailSummary: guardrailSummary(stop, s.trace)}, true
}

// toolIndex numbers tool calls from 0 in the order their blocks appear; Bedrock's content block
// index counts text and reasoning blocks too.
func (s *stream) toolIndex(block int) int {
	if i, ok := s.toolAt(block); ok {
		return i
	}
	s.tools = append(s.tools, block)
	s.toolArgs = append(s.toolArgs, false)
	return len(s.tools) - 1
}

// toolAt is the tool call number of a content block, if the block is a tool call.
func (s *stream) toolAt(block int) (int, bool) {
	for i, b := range s.tools {
		if b == block {
			return i, true
		}
	}
	return 0, false
}

// cutError says why the frames ran out before the end event.
func (s *stream) cutError(err error) error {
	switch {
	case s.closedByCaller.Load():
		return s.wrap(&backend.Error{Kind: backend.KindCanceled, Message: "the stream was closed", Model: s.modelID, Region: s.b.region})
	case s.ctx.Err() != nil:
		return s.wrap(s.b.toError(s.ctx, err, s.modelID))
	case errors.Is(err, io.EOF):
		// The connection ended between frames: without messageStop and metadata the stream is
		// cut, never a success (the SDK would take it for one, bedrock-wire.md §0 item 4).
		return s.wrap(&backend.Error{
			Kind:       backend.KindTruncated,
			Message:    fmt.Sprintf("the stream ended after %d events without messageStop and metadata", s.received),
			Model:      s.modelID,
			Region:     s.b.region,
			RequestID:  s.requestID,
			HTTPStatus: http.StatusOK,
		})
	}
	// A connection lost mid-frame, a frame that fails its checksum: the stream is cut.
	return s.wrap(&backend.Error{
		Kind:      backend.KindTruncated,
		Message:   fmt.Sprintf("the stream was cut after %d events: %s", s.received, rootMessage(err)),
		Model:     s.modelID,
		Region:    s.b.region,
		RequestID: s.requestID,
		Err:       err,
	})
}

func (s *stream) wrap(e *backend.Error) error { return fmt.Errorf("converse-stream: %w", e) }

// finish remembers the stream's last word and releases it.
func (s *stream) finish(err error) error {
	s.final = err
	s.release()
	return err
}

// drainTrailer reads what follows the end event, once, so the connection can be reused.
func (s *stream) drainTrailer() {
	s.drainMu.Lock()
	defer s.drainMu.Unlock()
	if !s.drained {
		s.drained = true
		// Bedrock ends the body after metadata; one that does not is given up on (the cancel
		// drops the connection), so neither Recv nor Close can hang here.
		giveUp := time.AfterFunc(trailerWait, s.cancel)
		defer giveUp.Stop()
		_, _ = io.Copy(io.Discard, io.LimitReader(s.frames.r, maxTrailer))
	}
}

// Close implements [backend.Stream]: it cancels the upstream request (the connection is dropped,
// so Bedrock stops generating), which also ends a Recv blocked on the next frame. A stream read to
// io.EOF has already released everything, and its connection went back to the pool.
func (s *stream) Close() error {
	s.closedByCaller.Store(true)
	if s.endSeen.Load() {
		// The caller stopped at the end event: read what is left so the connection goes back
		// to the pool, rather than being dropped by the cancel below.
		s.drainTrailer()
	}
	s.release()
	return nil
}

func (s *stream) release() {
	s.releaseOnce.Do(func() {
		s.cancel()
		_ = s.body.Close() // its error is the stream's, already reported by Recv or moot
	})
}
