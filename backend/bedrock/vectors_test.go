package bedrock

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

func TestEachField(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		want    map[string]string
		wantErr string
	}{
		{name: "fields in order", raw: ` { "a" : [1, 2] , "b":{"x":"}]"} ,"c":"q\"}" , "d":null,"e":-1.5e3}`,
			want: map[string]string{"a": "[1, 2]", "b": `{"x":"}]"}`, "c": `"q\"}"`, "d": "null", "e": "-1.5e3"}},
		{name: "empty object", raw: "{}", want: map[string]string{}},
		{name: "escaped key", raw: `{"emb\u0065dding":[1]}`, want: map[string]string{"embedding": "[1]"}},
		{name: "not an object", raw: `[1]`, wantErr: "not a JSON object"},
		{name: "unclosed object", raw: `{"a":[1,2]`, wantErr: "',' or '}' expected"},
		{name: "unclosed array", raw: `{"a":[1,2`, wantErr: "not closed"},
		{name: "unclosed string", raw: `{"a":"x}`, wantErr: "not closed"},
		{name: "missing colon", raw: `{"a" 1}`, wantErr: "':' expected"},
		{name: "missing comma", raw: `{"a":1 "b":2}`, wantErr: "',' or '}' expected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := map[string]string{}
			err := eachField([]byte(tt.raw), func(k string, v []byte) error {
				got[k] = string(v)
				return nil
			})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("fields %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseVector(t *testing.T) {
	tests := []struct {
		raw     string
		want    []float32
		wantErr bool
	}{
		{raw: `[]`, want: []float32{}},
		{raw: ` [ 0.5 ,-1,2e-3, 1E2 ] `, want: []float32{0.5, -1, 0.002, 100}},
		{raw: `[NaN]`, wantErr: true},
		{raw: `[Infinity]`, wantErr: true},
		{raw: `["1"]`, wantErr: true},
		{raw: `[null]`, wantErr: true},
		{raw: `[1,]`, wantErr: true},
		{raw: `{"a":1}`, wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseVector([]byte(tt.raw))
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: error %v, want error %v", tt.raw, err, tt.wantErr)
			continue
		}
		if err == nil && !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.raw, got, tt.want)
		}
	}
}

// titanReply is a Titan v2 reply as Bedrock writes it: the vector twice, and the token count.
func titanReply(dims int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	vec := make([]float32, dims)
	for i := range vec {
		vec[i] = float32(r.NormFloat64() / 30)
	}
	raw, _ := json.Marshal(map[string]any{"embedding": vec, "embeddingsByType": map[string]any{"float": vec}, "inputTextTokenCount": 7})
	return raw
}

// TestParseVectorMatchesEncodingJSON: the fast path reads the same float32s encoding/json does.
func TestParseVectorMatchesEncodingJSON(t *testing.T) {
	raw := titanReply(1024)
	var want struct {
		Embedding []float32 `json:"embedding"`
	}
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	var got []float32
	err := eachField(raw, func(k string, v []byte) (err error) {
		if k == "embedding" {
			got, err = parseVector(v)
		}
		return err
	})
	if err != nil || !reflect.DeepEqual(got, want.Embedding) {
		t.Fatalf("parseVector: %v; equal to encoding/json's: %v", err, reflect.DeepEqual(got, want.Embedding))
	}
}

// BenchmarkTitanReplyDecode decodes a 1,024-dimension Titan v2 reply side by side: (a) with
// encoding/json into the struct the adapter used, (b) with eachField and parseVector.
func BenchmarkTitanReplyDecode(b *testing.B) {
	raw := titanReply(1024)
	b.Run("a_encoding_json", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		b.ReportAllocs()
		for b.Loop() {
			var out struct {
				Embedding        []float32 `json:"embedding"`
				EmbeddingsByType struct {
					Float []float32 `json:"float"`
				} `json:"embeddingsByType"`
				InputTextTokenCount *int64 `json:"inputTextTokenCount"`
			}
			if err := json.Unmarshal(raw, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("b_fields", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		b.ReportAllocs()
		for b.Loop() {
			var vec []float32
			err := eachField(raw, func(k string, v []byte) (err error) {
				if k == "embedding" {
					vec, err = parseVector(v)
				}
				return err
			})
			if err != nil || len(vec) != 1024 {
				b.Fatal(fmt.Sprint(err, len(vec)))
			}
		}
	})
}

// TestDecodeConverseMatchesEncodingJSON: the reflection-free reply decoder reads what
// encoding/json reads from the same replies, escapes and unknown members included.
func TestDecodeConverseMatchesEncodingJSON(t *testing.T) {
	escaped := []byte(`{"metrics":{"latencyMs":1},"output":{"message":{"content":[{"text":"line\nbreak \"quoted\" caf\u00e9 \ud83d\ude00"},{"citationsContent":{"x":[1]}}],"role":"assistant"}},"stopReason":"max_tokens","usage":{"inputTokens":3,"outputTokens":4,"totalTokens":7,"cacheReadInputTokens":5,"cacheWriteInputTokens":6}}`)
	for name, body := range map[string][]byte{"text": benchReplyText, "toolUse": benchReplyToolUse, "reasoning": benchReplyReasoning, "escapes": escaped} {
		var want converseResponse
		if err := json.Unmarshal(body, &want); err != nil {
			t.Fatal(err)
		}
		got, err := decodeConverse(body)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want.Output.Message.Role = "assistant"
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", name, got, want)
		}
	}
	for _, bad := range []string{`[]`, `{"usage":{"inputTokens":"x"}}`, `{"output":{"message":{"content":[{"text":1}]}}}`} {
		if _, err := decodeConverse([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}
