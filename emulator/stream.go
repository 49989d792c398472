package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// padding is the alphabet Bedrock draws each event's "p" field from: a prefix of it, 2 to 61
// characters long, pads every real event (bedrock-wire.md §0 item 2).
const padding = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// errStreamCut ends a stream early because a fault said so.
var errStreamCut = errors.New("stream cut by an injected fault")

// eventWriter writes one response's event stream: AWS framing with both CRCs from the SDK's own
// encoder, the three headers in Bedrock's order, one flush per event, faults and pacing applied.
type eventWriter struct {
	ctx   context.Context
	w     http.ResponseWriter
	rc    *http.ResponseController
	enc   *eventstream.Encoder
	call  *call
	fault *Fault
	sent  int
	// pace is the wait before the next content event, set by the latency model.
	pace time.Duration
}

func (e *Emulator) newEventWriter(w http.ResponseWriter, r *http.Request, c *call) *eventWriter {
	h := w.Header()
	h.Set("Content-Type", "application/vnd.amazon.eventstream")
	h["x-amzn-RequestId"] = []string{c.requestID}
	return &eventWriter{ctx: r.Context(), w: w, rc: http.NewResponseController(w), enc: eventstream.NewEncoder(), call: c, fault: c.fault}
}

// start sends the status line and headers.
func (ew *eventWriter) start() error {
	ew.w.WriteHeader(http.StatusOK)
	return ew.rc.Flush()
}

// event sends one event whose JSON payload is fields plus the "p" pad.
func (ew *eventWriter) event(eventType string, fields map[string]any) error {
	if err := ew.beforeEvent(); err != nil {
		return err
	}
	fields["p"] = padding[:2+(ew.sent*7+len(eventType))%60]
	payload, err := json.Marshal(fields)
	if err != nil {
		return err
	}
	return ew.write(eventstream.Message{Headers: eventstream.Headers{
		{Name: ":event-type", Value: eventstream.StringValue(eventType)},
		{Name: ":content-type", Value: eventstream.StringValue("application/json")},
		{Name: ":message-type", Value: eventstream.StringValue("event")},
	}, Payload: payload})
}

// beforeEvent waits out the pacing and applies a cut fault once its count of events is reached.
func (ew *eventWriter) beforeEvent() error {
	if f := ew.fault; f != nil && f.CutAfter > 0 && ew.sent >= f.CutAfter {
		if f.Abort {
			// Resets the connection (HTTP/1.1) or the stream (HTTP/2) without a clean end.
			panic(http.ErrAbortHandler)
		}
		if apiErr := f.streamError(); apiErr != nil {
			ew.call.streamError = apiErr.code // counted in Stats under its code
			_ = ew.exception(apiErr)
		}
		return errStreamCut
	}
	if ew.pace > 0 {
		if err := sleep(ew.ctx, ew.pace); err != nil {
			return err
		}
		ew.pace = 0
	}
	return nil
}

// exception sends a modeled exception frame under its lowerCamel union member name (§3.4).
func (ew *eventWriter) exception(e *apiError) error {
	body := map[string]any{"message": e.message}
	for k, v := range e.extra {
		body[k] = v
	}
	if e.code == CodeModelStreamError {
		body["originalStatusCode"], body["originalMessage"] = 500, e.message
	}
	payload, _ := json.Marshal(body) // strings and numbers always marshal
	return ew.write(eventstream.Message{Headers: eventstream.Headers{
		{Name: ":exception-type", Value: eventstream.StringValue(streamExceptionType(e.code))},
		{Name: ":content-type", Value: eventstream.StringValue("application/json")},
		{Name: ":message-type", Value: eventstream.StringValue("exception")},
	}, Payload: payload})
}

func (ew *eventWriter) write(msg eventstream.Message) error {
	if err := ew.enc.Encode(ew.w, msg); err != nil {
		return err
	}
	ew.sent++
	return ew.rc.Flush()
}

// deltaGroup is how many pieces (about a token each) one delta event carries.
const deltaGroup = 3

// groups splits pieces into delta-sized runs.
func groups(pieces []string) [][]string {
	var out [][]string
	for len(pieces) > deltaGroup {
		out = append(out, pieces[:deltaGroup])
		pieces = pieces[deltaGroup:]
	}
	if len(pieces) > 0 {
		out = append(out, pieces)
	}
	return out
}

func joinPieces(p []string) string {
	n := 0
	for _, s := range p {
		n += len(s)
	}
	b := make([]byte, 0, n)
	for _, s := range p {
		b = append(b, s...)
	}
	return string(b)
}

// converseDelta is the delta of a Converse contentBlockDelta event (and of Nova's native stream)
// carrying text of a block of the given kind.
func converseDelta(kind blockKind, text string) map[string]any {
	switch kind {
	case blockReasoning:
		return map[string]any{"reasoningContent": map[string]any{"text": text}}
	case blockToolUse:
		return map[string]any{"toolUse": map[string]any{"input": text}}
	}
	return map[string]any{"text": text}
}

// pacer spreads the latency model over a stream: TTFT before the first content, then each
// delta's tokens at the configured rate.
type pacer struct {
	first bool
	ttft  time.Duration
	tps   float64
}

func (e *Emulator) newPacer(c *call) *pacer {
	p := &pacer{first: true, ttft: e.opts.TTFT, tps: e.opts.TokensPerSecond}
	if c.fault != nil {
		p.ttft += c.fault.TTFT
	}
	return p
}

// before returns the wait before a delta carrying text.
func (p *pacer) before(text string) time.Duration {
	d := time.Duration(0)
	if p.first {
		d, p.first = p.ttft, false
	}
	if p.tps > 0 {
		d += time.Duration(float64(max(1, countTokens(text))) / p.tps * float64(time.Second))
	}
	return d
}

// serveConverseStream implements POST /model/{id}/converse-stream.
func (e *Emulator) serveConverseStream(w http.ResponseWriter, r *http.Request, c *call) *apiError {
	req, apiErr := decodeConverse(c.body)
	if apiErr != nil {
		return apiErr
	}
	t, apiErr := e.converseTurn(c.model, req, true)
	if apiErr != nil {
		return apiErr
	}
	rep := e.generate(t, c.fault)
	rep.usage = mergeUsage(e.settleCache(t), rep.usage)
	ew := e.newEventWriter(w, r, c)
	pace := e.newPacer(c)
	_ = e.writeConverseEvents(ew, pace, req, c, rep) // a write error means the client went away
	return nil
}

func (e *Emulator) writeConverseEvents(ew *eventWriter, pace *pacer, req *converseRequest, c *call, rep reply) error {
	if err := ew.start(); err != nil {
		return err
	}
	if err := ew.event("messageStart", map[string]any{"role": "assistant"}); err != nil {
		return err
	}
	for i := range rep.blocks {
		b := &rep.blocks[i]
		if b.kind == blockToolUse {
			tu := map[string]any{"name": b.toolName, "toolUseId": b.toolID}
			if b.toolType != "" {
				tu["type"] = b.toolType
			}
			start := map[string]any{"toolUse": tu}
			if err := ew.event("contentBlockStart", map[string]any{"contentBlockIndex": i, "start": start}); err != nil {
				return err
			}
		}
		pieces := b.pieces
		if b.kind == blockToolUse && b.text() == "{}" {
			// A call without arguments streams no input at all, only its start and stop: Bedrock
			// sends no toolUse.input delta (spring-projects/spring-ai#3618, vercel/ai#10859).
			pieces = nil
		}
		for _, g := range groups(pieces) {
			text := joinPieces(g)
			delta := converseDelta(b.kind, text)
			ew.pace = pace.before(text)
			if err := ew.event("contentBlockDelta", map[string]any{"contentBlockIndex": i, "delta": delta}); err != nil {
				return err
			}
		}
		if b.kind == blockRedacted {
			// Redacted thinking arrives whole, in one delta (bedrock-wire.md §3.2).
			delta := map[string]any{"reasoningContent": map[string]any{"redactedContent": b.redacted}}
			if err := ew.event("contentBlockDelta", map[string]any{"contentBlockIndex": i, "delta": delta}); err != nil {
				return err
			}
		}
		if b.signature != "" {
			delta := map[string]any{"reasoningContent": map[string]any{"signature": b.signature}}
			if err := ew.event("contentBlockDelta", map[string]any{"contentBlockIndex": i, "delta": delta}); err != nil {
				return err
			}
		}
		if err := ew.event("contentBlockStop", map[string]any{"contentBlockIndex": i}); err != nil {
			return err
		}
	}
	stop := map[string]any{"stopReason": rep.stopReason}
	if rep.stopSequence != "" && slices.Contains(req.AdditionalModelResponseFieldPaths, "/stop_sequence") {
		stop["additionalModelResponseFields"] = map[string]any{"stop_sequence": rep.stopSequence}
	}
	if err := ew.event("messageStop", stop); err != nil {
		return err
	}
	meta := map[string]any{
		"metrics": map[string]any{"latencyMs": max(1, e.now().Sub(c.start).Milliseconds())},
		"usage":   converseUsageOf(rep.usage),
	}
	if req.PerformanceConfig != nil {
		meta["performanceConfig"] = req.PerformanceConfig
	}
	if req.ServiceTier != nil {
		meta["serviceTier"] = req.ServiceTier
	}
	if rep.trace != nil {
		meta["trace"] = rep.trace
	}
	return ew.event("metadata", meta)
}
