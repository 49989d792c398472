package server

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/strata-gateway/strata/emulator"
	stratav1 "github.com/strata-gateway/strata/gen/strata/v1"
)

func texts(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("document number %d is about topic %d", i, i%7)
	}
	return out
}

func TestEmbed(t *testing.T) {
	t.Parallel()
	h := startStrata(t, map[string]string{"EMBEDDING_MAX_STR_NUM": "50"})
	tests := []struct {
		name       string
		model      string
		inputs     int
		dimensions *int32
		inputType  stratav1.InputType
		wantDims   int
		wantCalls  int64 // InvokeModel calls for the batch
	}{
		// Titan takes one text per call: 20 inputs fan out to 20 calls.
		{name: "titan fan-out", model: titanEmbed, inputs: 20, wantDims: 1024, wantCalls: 20},
		{name: "titan dimensions", model: titanEmbed, inputs: 3, dimensions: ptr[int32](256), wantDims: 256, wantCalls: 3},
		// Cohere takes batches: 130 inputs at EMBEDDING_MAX_STR_NUM=50 are 50 + 50 + 30.
		{name: "cohere batching", model: cohereEmbed, inputs: 130, inputType: stratav1.InputType_INPUT_TYPE_SEARCH_DOCUMENT, wantDims: 1024, wantCalls: 3},
		{name: "cohere v4 dimensions", model: "us.cohere.embed-v4:0", inputs: 60, dimensions: ptr[int32](512), wantDims: 512, wantCalls: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Not parallel: the call count is read from the emulator's shared counters.
			inputs := texts(tt.inputs)
			before := settledStats(t, h.emu).Total(emulator.OpInvoke)
			resp, err := h.client.Embed(t.Context(), &stratav1.EmbedRequest{Model: tt.model, Inputs: inputs, Dimensions: tt.dimensions, InputType: tt.inputType})
			if err != nil {
				t.Fatalf("Embed: %v", err)
			}
			if calls := settledStats(t, h.emu).Total(emulator.OpInvoke) - before; calls != tt.wantCalls {
				t.Errorf("InvokeModel calls = %d, want %d; emulator stats %v; calls:\n%s", calls, tt.wantCalls, h.emu.Stats().Requests, strings.Join(h.finishedCalls("Embed"), ""))
			}
			if resp.GetModel() != tt.model {
				t.Errorf("model = %q, want %q", resp.GetModel(), tt.model)
			}
			if len(resp.GetEmbeddings()) != len(inputs) {
				t.Fatalf("%d embeddings for %d inputs", len(resp.GetEmbeddings()), len(inputs))
			}
			u := resp.GetUsage()
			if u.GetInputTokens() <= 0 || u.GetTotalTokens() != u.GetInputTokens() {
				t.Errorf("usage = %v, want input tokens only", u)
			}
			wantCost(t, tt.model, u, resp.GetCostUsd())
			// Order is kept: each vector is the one the same text gets on its own.
			for i, in := range inputs {
				got := resp.GetEmbeddings()[i].GetValues()
				if len(got) != tt.wantDims {
					t.Fatalf("embedding %d has %d dimensions, want %d", i, len(got), tt.wantDims)
				}
				if i%10 != 0 && i != len(inputs)-1 && i != 49 && i != 50 {
					continue // a sample, batch edges included, keeps the test quick
				}
				one, err := h.client.Embed(t.Context(), &stratav1.EmbedRequest{Model: tt.model, Inputs: []string{in}, Dimensions: tt.dimensions, InputType: tt.inputType})
				if err != nil {
					t.Fatalf("Embed(%q): %v", in, err)
				}
				if !slices.Equal(got, one.GetEmbeddings()[0].GetValues()) {
					t.Errorf("embedding %d differs from the vector of %q embedded alone: order lost", i, in)
				}
			}
			if slices.Equal(resp.GetEmbeddings()[0].GetValues(), resp.GetEmbeddings()[1].GetValues()) {
				t.Error("different texts got the same vector")
			}
		})
	}
}

func TestEmbedNormalize(t *testing.T) {
	t.Parallel()
	h := startStrata(t, nil)
	for _, model := range []string{titanEmbed, cohereEmbed} {
		t.Run(model, func(t *testing.T) {
			t.Parallel()
			resp, err := h.client.Embed(t.Context(), &stratav1.EmbedRequest{Model: model, Inputs: texts(2), Normalize: ptr(true)})
			if err != nil {
				t.Fatalf("Embed: %v", err)
			}
			for i, e := range resp.GetEmbeddings() {
				var sum float64
				for _, v := range e.GetValues() {
					sum += float64(v) * float64(v)
				}
				if math.Abs(math.Sqrt(sum)-1) > 1e-3 {
					t.Errorf("embedding %d has norm %v, want 1", i, math.Sqrt(sum))
				}
			}
		})
	}
}

func TestEmbedDefaultModel(t *testing.T) {
	t.Parallel()
	h := startStrata(t, map[string]string{
		"EMBEDDING_MODEL": "bedrock/" + titanEmbed,
		"CHAT_MODEL_MAP":  `{"vectors": {"model": "` + cohereEmbed + `"}}`,
	})
	tests := []struct {
		tag, model, want string
	}{
		{want: titanEmbed},
		{tag: "rag.vectors", want: cohereEmbed},
		{tag: "rag.vectors", model: titanEmbed, want: titanEmbed},
	}
	for _, tt := range tests {
		resp, err := h.client.Embed(t.Context(), &stratav1.EmbedRequest{Tag: tt.tag, Model: tt.model, Inputs: []string{"hello"}})
		if err != nil {
			t.Fatalf("Embed(tag %q, model %q): %v", tt.tag, tt.model, err)
		}
		if resp.GetModel() != tt.want {
			t.Errorf("Embed(tag %q, model %q) used %s, want %s", tt.tag, tt.model, resp.GetModel(), tt.want)
		}
	}
}

// TestEmbedRetriesOnlyTheFailedCall: in a Titan fan-out, a throttled call is retried alone; the
// texts already embedded are not sent again.
func TestEmbedRetriesOnlyTheFailedCall(t *testing.T) {
	t.Parallel()
	h := startStrata(t, map[string]string{"MAX_RETRY": "3", "STRATA_EMBED_CONCURRENCY": "1"})
	if err := h.emu.SetFaults(emulator.Fault{Operation: emulator.OpInvoke, Error: emulator.CodeThrottling, Every: 19, Times: 1}); err != nil {
		t.Fatal(err)
	}
	inputs := make([]string, 20)
	for i := range inputs {
		inputs[i] = "text number " + string(rune('a'+i))
	}
	before := settledStats(t, h.emu)
	resp, err := h.client.Embed(t.Context(), &stratav1.EmbedRequest{Inputs: inputs})
	if err != nil {
		t.Fatalf("Embed: %v", err)
	}
	if len(resp.GetEmbeddings()) != len(inputs) {
		t.Fatalf("%d vectors for %d inputs", len(resp.GetEmbeddings()), len(inputs))
	}
	after := settledStats(t, h.emu)
	ok := after.Count(emulator.OpInvoke, "ok") - before.Count(emulator.OpInvoke, "ok")
	throttled := after.Count(emulator.OpInvoke, emulator.CodeThrottling) - before.Count(emulator.OpInvoke, emulator.CodeThrottling)
	if ok != 20 || throttled != 1 {
		t.Errorf("upstream calls: %d ok and %d throttled, want 20 and 1 (only the failed call retried)", ok, throttled)
	}
}
