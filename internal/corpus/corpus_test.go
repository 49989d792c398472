package corpus

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"gopkg.in/yaml.v3"
)

// loadAll loads the corpus once per test binary; the tests only read it.
var loadAll = sync.OnceValues(func() ([]Cassette, error) {
	dir, err := Dir()
	if err != nil {
		return nil, err
	}
	return Load(dir)
})

func mustLoad(t *testing.T) []Cassette {
	t.Helper()
	cs, err := loadAll()
	if err != nil {
		t.Fatalf("load corpus: %v", err) // the corpus is part of CI's checkout: fail, never skip
	}
	return cs
}

func byName(t *testing.T, name string) Cassette {
	t.Helper()
	for _, c := range mustLoad(t) {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("cassette %q not in corpus", name)
	return Cassette{}
}

func TestDirFrom(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	mkdir := func(parts ...string) string {
		p := filepath.Join(append([]string{root}, parts...)...)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	touch := func(parts ...string) {
		if err := os.WriteFile(filepath.Join(append([]string{root}, parts...)...), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// CI layout: ci/repo is the clone, ci/shared its sibling.
	mkdir("ci", "repo", "internal", "corpus")
	touch("ci", "repo", "go.mod")
	ciCorpus := mkdir("ci", "shared", "bedrock-corpus")
	// shared/ inside the repository.
	mkdir("inrepo", "internal", "corpus")
	touch("inrepo", "go.mod")
	inCorpus := mkdir("inrepo", "shared", "bedrock-corpus")
	// A corpus two levels above the module root is not the repository's.
	mkdir("far", "shared", "bedrock-corpus")
	mkdir("far", "x", "repo", "internal")
	touch("far", "x", "repo", "go.mod")

	tests := []struct {
		name    string
		start   []string
		env     map[string]string
		want    string
		wantErr string
	}{
		{name: "sibling of the clone", start: []string{"ci", "repo", "internal", "corpus"}, want: ciCorpus},
		{name: "from the module root", start: []string{"ci", "repo"}, want: ciCorpus},
		{name: "inside the repository", start: []string{"inrepo", "internal", "corpus"}, want: inCorpus},
		{name: "env wins", start: []string{"ci", "repo"}, env: map[string]string{EnvDir: inCorpus}, want: inCorpus},
		{name: "env not a directory", start: []string{"ci", "repo"}, env: map[string]string{EnvDir: filepath.Join(root, "nope")}, wantErr: "is not a directory"},
		{name: "too far above the module root", start: []string{"far", "x", "repo", "internal"}, wantErr: "not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := dirFrom(filepath.Join(append([]string{root}, tt.start...)...), func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("dirFrom() = %q, %v; want error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("dirFrom() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestLoadCounts(t *testing.T) {
	t.Parallel()
	cs := mustLoad(t)
	cassettes := map[string]int{}
	ops := map[Operation]int{}
	var errs, skipped, reserialized, streams int
	for _, c := range cs {
		cassettes[strings.Split(c.Name, "/")[0]]++
		skipped += len(c.Skipped)
		if len(c.Interactions) == 0 {
			t.Errorf("%s: no Bedrock interactions", c.Name)
		}
		for _, in := range c.Interactions {
			ops[in.Request.Operation]++
			if in.Response.Status >= 400 {
				errs++
			}
			if in.Response.Reserialized {
				reserialized++
			}
			if in.Response.IsEventStream {
				streams++
			}
			if in.Request.ModelID == "" || len(in.Response.Body) == 0 {
				t.Errorf("%s#%d: model %q, %d body bytes", c.Name, in.Index, in.Request.ModelID, len(in.Response.Body))
			}
		}
	}
	// Pinned so that a change to the corpus is noticed and the replay tests' coverage is known.
	wantCassettes := map[string]int{"converse": 60, "embeddings": 23}
	wantOps := map[Operation]int{OpConverse: 70, OpConverseStream: 3, OpInvoke: 23, OpCountTokens: 6}
	if !equalMaps(cassettes, wantCassettes) {
		t.Errorf("cassettes per folder = %v, want %v", cassettes, wantCassettes)
	}
	if !equalMaps(ops, wantOps) {
		t.Errorf("interactions per operation = %v, want %v", ops, wantOps)
	}
	if errs != 2 || skipped != 3 || streams != 3 || reserialized != 93 {
		t.Errorf("errors %d, skipped %d, streams %d, reserialized %d; want 2, 3, 3, 93", errs, skipped, streams, reserialized)
	}
}

func equalMaps[K comparable](a, b map[K]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestLoadKnownCassettes(t *testing.T) {
	t.Parallel()

	t.Run("plain converse", func(t *testing.T) {
		c := byName(t, "converse/test_bedrock_model")
		if len(c.Interactions) != 1 || len(c.Skipped) != 0 {
			t.Fatalf("interactions %d, skipped %v", len(c.Interactions), c.Skipped)
		}
		in := c.Interactions[0]
		rq := in.Request
		if rq.Method != "POST" || rq.Path != "/model/us.amazon.nova-micro-v1%3A0/converse" ||
			rq.ModelID != "us.amazon.nova-micro-v1:0" || rq.Operation != OpConverse {
			t.Errorf("request = %s %s model %q op %q", rq.Method, rq.Path, rq.ModelID, rq.Operation)
		}
		// !!binary header values are decoded.
		if got := rq.Headers.Get("Content-Type"); got != "application/json" {
			t.Errorf("request Content-Type = %q", got)
		}
		if got := rq.Headers.Get("Amz-Sdk-Request"); got != "attempt=1" {
			t.Errorf("request Amz-Sdk-Request = %q", got)
		}
		if got := rq.Headers.Get("Amz-Sdk-Invocation-Id"); got != "dd15b582-198c-45fa-9ef6-81ecb3fe15c6" {
			t.Errorf("request Amz-Sdk-Invocation-Id = %q", got)
		}
		wantReq := `{"messages": [{"role": "user", "content": [{"text": "Hello!"}]}], "system": [{"text": "You are a chatbot."}], "inferenceConfig": {}}`
		if string(rq.Body) != wantReq {
			t.Errorf("request body = %s", rq.Body)
		}
		rs := in.Response
		wantResp := `{"metrics":{"latencyMs":268},"output":{"message":{"content":[{"text":"Hello! How can I assist you today? Whether you have questions, need information, or just want to chat, I'm here to help."}],"role":"assistant"}},"stopReason":"end_turn","usage":{"inputTokens":7,"outputTokens":30,"totalTokens":37}}`
		if rs.Status != 200 || !rs.Reserialized || rs.IsEventStream || string(rs.Body) != wantResp {
			t.Errorf("response = %d reserialized=%v stream=%v %s", rs.Status, rs.Reserialized, rs.IsEventStream, rs.Body)
		}
		// Where the service's body was compact, the rebuilt body has its exact length.
		if got := rs.Headers.Get("Content-Length"); got != "300" || len(rs.Body) != 300 {
			t.Errorf("recorded Content-Length %s, rebuilt body %d bytes", got, len(rs.Body))
		}
	})

	t.Run("error", func(t *testing.T) {
		in := byName(t, "converse/test_bedrock_error").Interactions[0]
		if in.Response.Status != 400 || string(in.Response.Body) != `{"message":"The provided model identifier is invalid."}` {
			t.Errorf("response = %d %s", in.Response.Status, in.Response.Body)
		}
		if in.Response.Headers.Get("X-Amzn-Errortype") != "" {
			t.Errorf("recorder kept X-Amzn-ErrorType; the replayer's derivation may be unnecessary")
		}
		if in.Request.ModelID != "us.does-not-exist-model-v1:0" {
			t.Errorf("model = %q", in.Request.ModelID)
		}
	})

	t.Run("ARN model id", func(t *testing.T) {
		rq := byName(t, "converse/test_bedrock_inference_profile_converse").Interactions[0].Request
		want := "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/mi1dadi0g15f"
		if rq.ModelID != want || rq.Path != "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aapplication-inference-profile%2Fmi1dadi0g15f/converse" {
			t.Errorf("model %q path %q", rq.ModelID, rq.Path)
		}
	})

	t.Run("event stream", func(t *testing.T) {
		rs := byName(t, "converse/test_bedrock_model_stream").Interactions[0].Response
		if !rs.IsEventStream || rs.Reserialized {
			t.Fatalf("stream=%v reserialized=%v", rs.IsEventStream, rs.Reserialized)
		}
		// First frame per bedrock-wire.md §3.1: 143 bytes, 82 bytes of headers, prelude CRC.
		wantPrelude := []byte{0x00, 0x00, 0x00, 0x8f, 0x00, 0x00, 0x00, 0x52, 0xd3, 0xf1, 0xc8, 0xf2, 0x0b, ':', 'e', 'v'}
		if !bytes.HasPrefix(rs.Body, wantPrelude) {
			t.Errorf("body starts % x", rs.Body[:16])
		}
	})

	t.Run("raw string body with request id", func(t *testing.T) {
		c := byName(t, "converse/test_bedrock_thinking_high_qwen_variant")
		rs := c.Interactions[1].Response
		if rs.Reserialized || !json.Valid(rs.Body) || !bytes.HasPrefix(rs.Body, []byte(`{"metrics": {"latencyMs": 1673}`)) {
			t.Errorf("body = %.60s (reserialized=%v)", rs.Body, rs.Reserialized)
		}
		if got := rs.Headers.Get("X-Amzn-Requestid"); got != "8ea72997-1d7d-4c2a-bae0-1ccb1b1e76de" {
			t.Errorf("recorded request id = %q", got)
		}
		if got := RequestID(c.Name, c.Interactions[1]); got != "8ea72997-1d7d-4c2a-bae0-1ccb1b1e76de" {
			t.Errorf("RequestID() = %q, want the recorded one", got)
		}
	})

	t.Run("embedding keeps number spelling and token headers", func(t *testing.T) {
		in := byName(t, "embeddings/TestBedrock.test_titan_v2_minimal").Interactions[0]
		if in.Request.Operation != OpInvoke || string(in.Request.Body) != `{"inputText": "Hello, world!", "normalize": true}` {
			t.Errorf("request %q %s", in.Request.Operation, in.Request.Body)
		}
		if !bytes.HasPrefix(in.Response.Body, []byte(`{"embedding":[-0.05289186164736748,0.11532749980688095,`)) {
			t.Errorf("body starts %.60s", in.Response.Body)
		}
		var body struct {
			Embedding           []float64 `json:"embedding"`
			InputTextTokenCount int       `json:"inputTextTokenCount"`
		}
		if err := json.Unmarshal(in.Response.Body, &body); err != nil || len(body.Embedding) != 1024 || body.InputTextTokenCount != 5 {
			t.Errorf("body: %v, %d floats, %d tokens", err, len(body.Embedding), body.InputTextTokenCount)
		}
		h := in.Response.Headers
		if h.Get("X-Amzn-Bedrock-Input-Token-Count") != "5" || h.Get("X-Amzn-Bedrock-Invocation-Latency") != "93" ||
			h.Get("X-Amzn-Bedrock-Output-Token-Count") != "" {
			t.Errorf("token headers = %v", h)
		}
	})

	t.Run("other hosts skipped", func(t *testing.T) {
		c := byName(t, "converse/test_document_url_input")
		if len(c.Skipped) != 1 || !strings.HasPrefix(c.Skipped[0], "https://www.w3.org/") {
			t.Errorf("skipped = %v", c.Skipped)
		}
		if len(c.Interactions) != 1 || c.Interactions[0].Index != 1 || c.Interactions[0].Request.ModelID != "anthropic.claude-v2" {
			t.Errorf("interactions = %+v", c.Interactions)
		}
	})
}

// TestLoadStreamFrames checks every recorded event-stream body frame by frame: length prelude,
// both CRCs, and the framing facts the emulator copies (bedrock-wire.md §0 items 1-2, §3.2).
func TestLoadStreamFrames(t *testing.T) {
	t.Parallel()
	for _, c := range mustLoad(t) {
		for _, in := range c.Interactions {
			if !in.Response.IsEventStream {
				continue
			}
			frames, err := Frames(in.Response.Body)
			if err != nil {
				t.Errorf("%s#%d: %v", c.Name, in.Index, err)
				continue
			}
			for i, f := range frames {
				total := binary.BigEndian.Uint32(f[0:4])
				if int(total) != len(f) || binary.BigEndian.Uint32(f[8:12]) != crc32.ChecksumIEEE(f[0:8]) {
					t.Errorf("%s#%d frame %d: bad prelude % x", c.Name, in.Index, i, f[:12])
				}
			}
			msgs, err := DecodeStream(in.Response.Body)
			if err != nil {
				t.Errorf("%s#%d: %v", c.Name, in.Index, err)
				continue
			}
			if len(msgs) != len(frames) || len(msgs) < 3 {
				t.Errorf("%s#%d: %d messages, %d frames", c.Name, in.Index, len(msgs), len(frames))
				continue
			}
			if first, last := HeaderString(msgs[0], ":event-type"), HeaderString(msgs[len(msgs)-1], ":event-type"); first != "messageStart" || last != "metadata" {
				t.Errorf("%s#%d: first %q, last %q", c.Name, in.Index, first, last)
			}
			for i, m := range msgs {
				var names []string
				for _, h := range m.Headers {
					names = append(names, h.Name)
				}
				if strings.Join(names, ",") != ":event-type,:content-type,:message-type" ||
					HeaderString(m, ":message-type") != "event" || HeaderString(m, ":content-type") != "application/json" {
					t.Errorf("%s#%d frame %d: headers %v", c.Name, in.Index, i, m.Headers)
				}
				var pad struct {
					P string `json:"p"`
				}
				if err := json.Unmarshal(m.Payload, &pad); err != nil || pad.P == "" ||
					!strings.HasPrefix("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", pad.P) {
					t.Errorf("%s#%d frame %d: pad %q (%v)", c.Name, in.Index, i, pad.P, err)
				}
			}
		}
	}
}

func TestWriteJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		yaml string
		want string
	}{
		{name: "order kept", yaml: "b: 1\na: 2\n", want: `{"b":1,"a":2}`},
		{name: "number spelling kept", yaml: "x: 7006652.0\ny: -0.05289186164736748\nz: 1.0e-05\n", want: `{"x":7006652.0,"y":-0.05289186164736748,"z":1.0e-05}`},
		{name: "yaml-only numbers normalised", yaml: "x: 0x10\ny: +3\n", want: `{"x":16,"y":3}`},
		{name: "scalars", yaml: "t: true\nf: false\nn: null\ne: {}\nl: []\n", want: `{"t":true,"f":false,"n":null,"e":{},"l":[]}`},
		{name: "strings not html escaped", yaml: "s: \"<thinking> a & b </thinking>\"\nu: 30°C\n", want: `{"s":"<thinking> a & b </thinking>","u":"30°C"}`},
		{name: "quoted and unresolved scalars stay strings", yaml: "d: '2022-01-01'\nts: 2022-01-01\nn: '12'\n", want: `{"d":"2022-01-01","ts":"2022-01-01","n":"12"}`},
		{name: "block string", yaml: "s: |\n  two\n  lines\n", want: `{"s":"two\nlines\n"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var n yaml.Node
			if err := yaml.Unmarshal([]byte(tt.yaml), &n); err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := writeJSON(&buf, &n); err != nil {
				t.Fatal(err)
			}
			if buf.String() != tt.want {
				t.Errorf("writeJSON = %s, want %s", buf.String(), tt.want)
			}
		})
	}
}

func TestErrorTypeForStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status int
		want   string
	}{
		{400, "ValidationException"},
		{403, "AccessDeniedException"},
		{404, "ResourceNotFoundException"},
		{408, "ModelTimeoutException"},
		{424, "ModelErrorException"},
		{429, "ThrottlingException"},
		{500, "InternalServerException"},
		{503, "ServiceUnavailableException"},
		{200, ""},
		{502, ""},
	}
	for _, tt := range tests {
		if got := ErrorTypeForStatus(tt.status); got != tt.want {
			t.Errorf("ErrorTypeForStatus(%d) = %q, want %q", tt.status, got, tt.want)
		}
	}
	if got := ErrorTypeHeader("ThrottlingException"); got != "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/" {
		t.Errorf("ErrorTypeHeader = %q", got)
	}
}
