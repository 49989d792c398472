package bedrock

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/strata-gateway/strata/backend"
	"github.com/strata-gateway/strata/catalog"
	"github.com/strata-gateway/strata/emulator"
	"github.com/strata-gateway/strata/internal/corpus"
)

// The replay tests serve every recorded Bedrock answer in ../shared/bedrock-corpus to the adapter
// (not the bare SDK) and check that what comes out of it is what the recording says: text,
// reasoning, tool calls, stop reason, usage, vectors, errors. The expectations are read from the
// recorded bytes independently of the adapter's own parsing.

// replayBackend points a backend at a Replayer serving one cassette.
func replayBackend(t *testing.T, r *corpus.Replayer) *Backend {
	t.Helper()
	srv, err := emulator.Listen("127.0.0.1:0", r, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	hc := NewHTTPClient(PoolOptions{})
	t.Cleanup(hc.CloseIdleConnections)
	b, err := New(Options{Endpoint: srv.URL, HTTPClient: hc, Catalog: testCatalog(t),
		Credentials: credentials.NewStaticCredentialsProvider(testKeyID, testSecret, "")})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReplayCorpus(t *testing.T) {
	counts := map[string]int{}
	for _, c := range corpus.ForTest(t) {
		t.Run(c.Name, func(t *testing.T) {
			r := corpus.NewReplayer(c)
			b := replayBackend(t, r)
			for _, in := range c.Interactions {
				var what string
				switch {
				case in.Response.Status != http.StatusOK:
					what = "error"
				default:
					what = string(in.Request.Operation)
				}
				counts[what]++
				replayOne(t, b, c.Name, in)
			}
			if misses := r.Misses(); len(misses) > 0 {
				t.Errorf("requests the recording could not answer: %q", misses)
			}
		})
	}
	t.Logf("replayed through the adapter: %v", counts)
	for _, op := range []string{"converse", "converse-stream", "invoke", "count-tokens", "error"} {
		if counts[op] == 0 {
			t.Errorf("no %s interaction replayed", op)
		}
	}
}

func replayOne(t *testing.T, b *Backend, cassette string, in corpus.Interaction) {
	t.Helper()
	where := cassette + "#" + strconv.Itoa(in.Index)
	chat := &backend.ChatRequest{ModelID: in.Request.ModelID, Messages: []backend.Message{userText("replay")}}
	if in.Response.Status != http.StatusOK {
		var err error
		switch in.Request.Operation {
		case corpus.OpConverseStream:
			var s backend.Stream
			if s, err = b.ChatStream(callCtx(t), chat); err == nil {
				s.Close()
			}
		case corpus.OpInvoke:
			_, err = b.Embed(callCtx(t), &backend.EmbedRequest{ModelID: in.Request.ModelID, Inputs: []string{"replay"}})
		case corpus.OpCountTokens:
			_, err = b.CountTokens(callCtx(t), chat)
		default:
			_, err = b.Chat(callCtx(t), chat)
		}
		checkReplayError(t, where, err, cassette, in)
		return
	}
	switch in.Request.Operation {
	case corpus.OpCountTokens:
		got, err := b.CountTokens(callCtx(t), chat)
		if err != nil {
			t.Fatalf("%s: CountTokens: %v", where, err)
		}
		var want struct {
			InputTokens int64 `json:"inputTokens"`
		}
		if err := json.Unmarshal(in.Response.Body, &want); err != nil {
			t.Fatalf("%s: recorded body: %v", where, err)
		}
		if !got.Exact || got.Input != want.InputTokens {
			t.Errorf("%s: count %+v, recorded %d (exact)", where, got, want.InputTokens)
		}
	case corpus.OpConverse:
		resp, err := b.Chat(callCtx(t), chat)
		if err != nil {
			t.Fatalf("%s: Chat: %v", where, err)
		}
		want := expectConverse(t, where, in.Response.Body)
		got := reply{stop: resp.StopReason, usage: resp.Usage}
		for _, p := range resp.Parts {
			got.add(p)
		}
		want.compare(t, where, got)
	case corpus.OpConverseStream:
		s, err := b.ChatStream(callCtx(t), chat)
		if err != nil {
			t.Fatalf("%s: ChatStream: %v", where, err)
		}
		defer s.Close()
		j, err := drain(t, s)
		want, complete := expectStream(t, where, in.Response.Body)
		if !complete {
			mustKind(t, err, backend.KindTruncated)
			return
		}
		if err != nil {
			t.Fatalf("%s: stream: %v", where, err)
		}
		got := reply{text: j.text, reasoning: j.reasoning, signature: j.signature, stop: j.end.StopReason, usage: j.end.Usage}
		for i := range j.toolIDs {
			var args map[string]any
			if err := json.Unmarshal([]byte(j.toolArgs[i]), &args); err != nil {
				t.Fatalf("%s: tool call %d: fragments %q do not join into JSON: %v", where, i, j.toolArgs[i], err)
			}
			got.tools = append(got.tools, toolCall{j.toolIDs[i], j.toolNames[i], args})
		}
		want.compare(t, where, got)
	case corpus.OpInvoke:
		n := 1
		var req struct {
			Texts []string `json:"texts"`
		}
		if json.Unmarshal(in.Request.Body, &req) == nil && len(req.Texts) > 0 {
			n = len(req.Texts)
		}
		inputs := make([]string, n)
		for i := range inputs {
			inputs[i] = "replay " + strconv.Itoa(i)
		}
		resp, err := b.Embed(callCtx(t), &backend.EmbedRequest{ModelID: in.Request.ModelID, Model: embedModelFor(t, in), Inputs: inputs})
		if err != nil {
			t.Fatalf("%s: Embed: %v", where, err)
		}
		wantLens := expectVectors(t, where, in.Response.Body)
		var gotLens []int
		for _, v := range resp.Vectors {
			gotLens = append(gotLens, len(v))
		}
		if !reflect.DeepEqual(gotLens, wantLens) {
			t.Errorf("%s: vector lengths %v, recorded %v", where, gotLens, wantLens)
		}
		if want, _ := strconv.ParseInt(in.Response.Headers.Get("X-Amzn-Bedrock-Input-Token-Count"), 10, 64); resp.Usage.Input != want {
			t.Errorf("%s: input tokens %d, recorded %d", where, resp.Usage.Input, want)
		}
		if resp.Calls != 1 {
			t.Errorf("%s: %d calls for one recorded interaction", where, resp.Calls)
		}
	default:
		t.Fatalf("%s: no adapter operation for %s", where, in.Request.Operation)
	}
}

// embedModelFor names the catalog model behind an application inference profile, which only its
// owner knows (the service passes it in EmbedRequest.Model); the recorded body's shape tells.
func embedModelFor(t *testing.T, in corpus.Interaction) *catalog.Model {
	t.Helper()
	if !strings.Contains(in.Request.ModelID, ":application-inference-profile/") {
		return nil
	}
	id := ""
	switch body := string(in.Request.Body); {
	case strings.Contains(body, `"inputText"`):
		id = titanV2
	case strings.Contains(body, `"texts"`):
		id = cohereV4
	case strings.Contains(body, `"taskType"`):
		id = novaEmbed
	}
	m, ok := testCatalog(t).Model(id)
	if !ok {
		t.Fatalf("no catalog model for the recorded body %s", in.Request.Body)
	}
	return m
}

func checkReplayError(t *testing.T, where string, err error, cassette string, in corpus.Interaction) {
	t.Helper()
	var body struct {
		Message string `json:"message"`
	}
	_ = json.Unmarshal(in.Response.Body, &body)
	wantKind := kindForStatus(in.Response.Status)
	if body.Message == msgInvalidModel {
		wantKind = backend.KindUnknownModel
	}
	be := mustKind(t, err, wantKind)
	if be.Code != corpus.ErrorTypeForStatus(in.Response.Status) || be.HTTPStatus != in.Response.Status || be.Message != body.Message {
		t.Errorf("%s: code %q status %d message %q, recorded %d %q", where, be.Code, be.HTTPStatus, be.Message, in.Response.Status, body.Message)
	}
	if want := corpus.RequestID(cassette, in); be.RequestID != want {
		t.Errorf("%s: request id %q, want %q", where, be.RequestID, want)
	}
}

// TestReplayErrorWithoutErrorType: the recorder stripped X-Amzn-ErrorType, so a verbatim replay
// carries no error code (the SDK would say UnknownError); the adapter still classifies the error
// by its status and keeps Bedrock's message (§5.4).
func TestReplayErrorWithoutErrorType(t *testing.T) {
	for _, c := range corpus.ForTest(t) {
		for _, in := range c.Interactions {
			if in.Response.Status == http.StatusOK || in.Request.Operation != corpus.OpConverse {
				continue
			}
			t.Run(c.Name, func(t *testing.T) {
				r := corpus.NewReplayer(c)
				r.Verbatim = true
				b := replayBackend(t, r)
				_, err := b.Chat(callCtx(t), &backend.ChatRequest{ModelID: in.Request.ModelID, Messages: []backend.Message{userText("replay")}})
				be := mustKind(t, err, backend.KindUnknownModel)
				if be.Code != "" || be.HTTPStatus != in.Response.Status || be.Message != msgInvalidModel {
					t.Errorf("code %q status %d message %q", be.Code, be.HTTPStatus, be.Message)
				}
			})
		}
	}
}

// reply is a chat answer in comparable form.
type reply struct {
	text, reasoning, signature string
	redacted                   bool
	tools                      []toolCall
	stop                       backend.StopReason
	usage                      backend.Usage
}

type toolCall struct {
	id, name string
	args     map[string]any
}

func (r *reply) add(p backend.Part) {
	switch p.Kind {
	case backend.PartText:
		r.text += p.Text
	case backend.PartReasoning:
		r.reasoning += p.Reasoning.Text
		r.signature += p.Reasoning.Signature
		r.redacted = r.redacted || len(p.Reasoning.Redacted) > 0
	case backend.PartToolCall:
		r.tools = append(r.tools, toolCall{p.ToolCall.ID, p.ToolCall.Name, p.ToolCall.Arguments})
	}
}

func (want reply) compare(t *testing.T, where string, got reply) {
	t.Helper()
	if got.text != want.text {
		t.Errorf("%s: text\n got %q\nwant %q", where, got.text, want.text)
	}
	if got.reasoning != want.reasoning || got.signature != want.signature || got.redacted != want.redacted {
		t.Errorf("%s: reasoning %q sig %q redacted %v, recorded %q sig %q redacted %v", where, got.reasoning, got.signature, got.redacted, want.reasoning, want.signature, want.redacted)
	}
	if !reflect.DeepEqual(got.tools, want.tools) {
		t.Errorf("%s: tool calls %+v, recorded %+v", where, got.tools, want.tools)
	}
	if got.stop != want.stop || got.usage != want.usage {
		t.Errorf("%s: stop %q usage %+v, recorded %q %+v", where, got.stop, got.usage, want.stop, want.usage)
	}
}

type recordedUsage struct {
	InputTokens           int64 `json:"inputTokens"`
	OutputTokens          int64 `json:"outputTokens"`
	CacheReadInputTokens  int64 `json:"cacheReadInputTokens"`
	CacheWriteInputTokens int64 `json:"cacheWriteInputTokens"`
}

func (u recordedUsage) usage() backend.Usage {
	return backend.Usage{Input: u.InputTokens, Output: u.OutputTokens, CacheRead: u.CacheReadInputTokens, CacheWrite: u.CacheWriteInputTokens}
}

func expectConverse(t *testing.T, where string, body []byte) reply {
	t.Helper()
	var w struct {
		Output struct {
			Message struct {
				Content []struct {
					Text    *string `json:"text"`
					ToolUse *struct {
						ToolUseID string          `json:"toolUseId"`
						Name      string          `json:"name"`
						Input     json.RawMessage `json:"input"`
					} `json:"toolUse"`
					ReasoningContent *struct {
						ReasoningText *struct {
							Text      string `json:"text"`
							Signature string `json:"signature"`
						} `json:"reasoningText"`
						RedactedContent []byte `json:"redactedContent"`
					} `json:"reasoningContent"`
				} `json:"content"`
			} `json:"message"`
		} `json:"output"`
		StopReason string        `json:"stopReason"`
		Usage      recordedUsage `json:"usage"`
	}
	if err := json.Unmarshal(body, &w); err != nil {
		t.Fatalf("%s: recorded body: %v", where, err)
	}
	r := reply{stop: backend.StopReason(w.StopReason), usage: w.Usage.usage()}
	for _, b := range w.Output.Message.Content {
		switch {
		case b.Text != nil:
			r.text += *b.Text
		case b.ToolUse != nil:
			var args map[string]any
			if err := json.Unmarshal(b.ToolUse.Input, &args); err != nil {
				t.Fatalf("%s: recorded tool input: %v", where, err)
			}
			if args == nil {
				args = map[string]any{}
			}
			r.tools = append(r.tools, toolCall{b.ToolUse.ToolUseID, b.ToolUse.Name, args})
		case b.ReasoningContent != nil && b.ReasoningContent.ReasoningText != nil:
			r.reasoning += b.ReasoningContent.ReasoningText.Text
			r.signature += b.ReasoningContent.ReasoningText.Signature
		case b.ReasoningContent != nil:
			r.redacted = len(b.ReasoningContent.RedactedContent) > 0
		}
	}
	return r
}

// expectStream reads a recorded ConverseStream body frame by frame; complete reports whether it
// has both messageStop and metadata.
func expectStream(t *testing.T, where string, body []byte) (reply, bool) {
	t.Helper()
	msgs, err := corpus.DecodeStream(body)
	if err != nil {
		t.Fatalf("%s: recorded stream: %v", where, err)
	}
	var r reply
	args := map[int]*strings.Builder{}
	var order []int
	sawStop, sawMeta := false, false
	for _, m := range msgs {
		var ev struct {
			ContentBlockIndex int `json:"contentBlockIndex"`
			Start             struct {
				ToolUse *struct {
					ToolUseID string `json:"toolUseId"`
					Name      string `json:"name"`
				} `json:"toolUse"`
			} `json:"start"`
			Delta struct {
				Text             *string `json:"text"`
				ReasoningContent *struct {
					Text      string `json:"text"`
					Signature string `json:"signature"`
				} `json:"reasoningContent"`
				ToolUse *struct {
					Input string `json:"input"`
				} `json:"toolUse"`
			} `json:"delta"`
			StopReason string         `json:"stopReason"`
			Usage      *recordedUsage `json:"usage"`
		}
		if err := json.Unmarshal(m.Payload, &ev); err != nil {
			t.Fatalf("%s: recorded event: %v", where, err)
		}
		switch corpus.HeaderString(m, ":event-type") {
		case "contentBlockStart":
			if tu := ev.Start.ToolUse; tu != nil {
				r.tools = append(r.tools, toolCall{id: tu.ToolUseID, name: tu.Name})
				args[ev.ContentBlockIndex] = &strings.Builder{}
				order = append(order, ev.ContentBlockIndex)
			}
		case "contentBlockDelta":
			switch d := ev.Delta; {
			case d.Text != nil:
				r.text += *d.Text
			case d.ReasoningContent != nil:
				r.reasoning += d.ReasoningContent.Text
				r.signature += d.ReasoningContent.Signature
			case d.ToolUse != nil:
				args[ev.ContentBlockIndex].WriteString(d.ToolUse.Input)
			}
		case "messageStop":
			r.stop, sawStop = backend.StopReason(ev.StopReason), true
		case "metadata":
			if ev.Usage != nil {
				r.usage = ev.Usage.usage()
			}
			sawMeta = true
		}
	}
	for i, block := range order {
		if err := json.Unmarshal([]byte(args[block].String()), &r.tools[i].args); err != nil {
			t.Fatalf("%s: recorded tool input %q: %v", where, args[block].String(), err)
		}
	}
	return r, sawStop && sawMeta
}

// expectVectors returns the lengths of the vectors in a recorded embedding response, whichever
// family's shape it has (bedrock-wire.md §4.2–4.4).
func expectVectors(t *testing.T, where string, body []byte) []int {
	t.Helper()
	var w struct {
		Embedding  []float64       `json:"embedding"`  // Titan
		Embeddings json.RawMessage `json:"embeddings"` // Cohere (list or by type), Nova (objects)
	}
	if err := json.Unmarshal(body, &w); err != nil {
		t.Fatalf("%s: recorded body: %v", where, err)
	}
	if w.Embedding != nil {
		return []int{len(w.Embedding)}
	}
	var floats [][]float64
	var err error
	switch s := strings.TrimLeft(string(w.Embeddings), " \t\r\n"); {
	case strings.HasPrefix(s, "{"): // Cohere embeddings_by_type
		var byType struct {
			Float [][]float64 `json:"float"`
		}
		err = json.Unmarshal(w.Embeddings, &byType)
		floats = byType.Float
	case strings.HasPrefix(strings.TrimLeft(s[min(1, len(s)):], " \t\r\n"), "{"): // Nova: a list of objects
		var nova []struct {
			Embedding []float64 `json:"embedding"`
		}
		err = json.Unmarshal(w.Embeddings, &nova)
		for _, n := range nova {
			floats = append(floats, n.Embedding)
		}
	default: // Cohere embeddings_floats
		err = json.Unmarshal(w.Embeddings, &floats)
	}
	if err != nil || len(floats) == 0 {
		t.Fatalf("%s: no vectors in the recorded body: %v", where, err)
	}
	var lens []int
	for _, f := range floats {
		lens = append(lens, len(f))
	}
	return lens
}
