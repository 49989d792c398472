package bedrock

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/strata-gateway/strata/backend"
	"github.com/strata-gateway/strata/emulator"
)

func texts(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("text number %d about topic %d", i, i%7)
	}
	return out
}

func norm(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

// TestEmbedOrderAndBatching: vectors come back in input order, equal to the vector of each text
// embedded alone, in as many upstream calls as the model's batch limit needs.
func TestEmbedOrderAndBatching(t *testing.T) {
	tests := []struct {
		name      string
		req       backend.EmbedRequest
		wantCalls int
		wantDims  int
	}{
		{"titan v2 fans out", backend.EmbedRequest{ModelID: titanV2, Inputs: texts(20)}, 20, 1024},
		{"titan v2 dimensions", backend.EmbedRequest{ModelID: titanV2, Inputs: texts(3), Dimensions: 256, Normalize: ptr(true)}, 3, 256},
		{"titan v1", backend.EmbedRequest{ModelID: titanV1, Inputs: texts(3), Dimensions: 1536}, 3, 1536},
		{"cohere v3 batches of 50", backend.EmbedRequest{ModelID: cohereV3, Inputs: texts(130), MaxBatch: 50}, 3, 1024},
		{"cohere v3 batches of 96", backend.EmbedRequest{ModelID: cohereV3, Inputs: texts(130)}, 2, 1024},
		{"cohere v4 dimensions, by type", backend.EmbedRequest{ModelID: cohereV4, Inputs: texts(5), Dimensions: 512, InputType: "search_query"}, 1, 512},
		{"cohere v4 profile", backend.EmbedRequest{ModelID: "us." + cohereV4, Inputs: texts(2)}, 1, 1536},
		{"nova", backend.EmbedRequest{ModelID: novaEmbed, Inputs: texts(4), Dimensions: 256}, 4, 256},
		{"nova query", backend.EmbedRequest{ModelID: novaEmbed, Inputs: texts(2), InputType: "search_query"}, 2, 3072},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			ctx := callCtx(t)
			resp, err := h.b.Embed(ctx, &tt.req)
			if err != nil {
				t.Fatalf("Embed: %v", err)
			}
			if resp.Calls != tt.wantCalls {
				t.Errorf("calls %d, want %d", resp.Calls, tt.wantCalls)
			}
			// The emulator counts a request once its answer is written: wait for the count.
			waitFor(t, "the emulator's count", func() bool { return h.emu.Stats().Count(emulator.OpInvoke, "ok") >= int64(tt.wantCalls) })
			if got := h.emu.Stats().Count(emulator.OpInvoke, "ok"); got != int64(tt.wantCalls) {
				t.Errorf("the emulator served %d invocations, want %d", got, tt.wantCalls)
			}
			if len(resp.Vectors) != len(tt.req.Inputs) {
				t.Fatalf("%d vectors for %d inputs", len(resp.Vectors), len(tt.req.Inputs))
			}
			if resp.Usage.Input <= 0 {
				t.Errorf("usage %+v", resp.Usage)
			}
			for i, v := range resp.Vectors {
				if len(v) != tt.wantDims {
					t.Fatalf("vector %d has %d dimensions, want %d", i, len(v), tt.wantDims)
				}
			}
			// Order: each vector is its own text's.
			for _, i := range []int{0, len(tt.req.Inputs) / 2, len(tt.req.Inputs) - 1} {
				one := tt.req
				one.Inputs = []string{tt.req.Inputs[i]}
				alone, err := h.b.Embed(ctx, &one)
				if err != nil {
					t.Fatalf("Embed %d alone: %v", i, err)
				}
				if !slices.Equal(alone.Vectors[0], resp.Vectors[i]) {
					t.Errorf("vector %d differs from the text embedded alone", i)
				}
			}
			if tt.req.Normalize != nil && *tt.req.Normalize {
				if n := norm(resp.Vectors[0]); math.Abs(n-1) > 1e-3 {
					t.Errorf("|v| = %v, want 1", n)
				}
			}
		})
	}
}

func TestEmbedLocalNormalize(t *testing.T) {
	// Titan v1 has no normalize option and returns long vectors; asked for unit vectors, the
	// adapter scales them.
	h := newHarness(t, nil)
	raw, err := h.b.Embed(callCtx(t), &backend.EmbedRequest{ModelID: titanV1, Inputs: []string{"hello"}})
	if err != nil {
		t.Fatal(err)
	}
	if n := norm(raw.Vectors[0]); n < 2 {
		t.Fatalf("Titan v1's vector has |v| = %v; the test expects an unnormalized one", n)
	}
	unit, err := h.b.Embed(callCtx(t), &backend.EmbedRequest{ModelID: titanV1, Inputs: []string{"hello"}, Normalize: ptr(true)})
	if err != nil {
		t.Fatal(err)
	}
	if n := norm(unit.Vectors[0]); math.Abs(n-1) > 1e-3 {
		t.Errorf("|v| = %v, want 1", n)
	}
}

func TestEmbedErrors(t *testing.T) {
	tests := []struct {
		name     string
		req      backend.EmbedRequest
		faults   []emulator.Fault
		wantKind backend.Kind
		wantMax  int64 // upstream calls at most
	}{
		{"not an embedding model", backend.EmbedRequest{ModelID: novaMicro, Inputs: []string{"a"}}, nil, backend.KindInvalid, 0},
		{"unknown dimensions", backend.EmbedRequest{ModelID: titanV2, Inputs: []string{"a"}, Dimensions: 100}, nil, backend.KindInvalid, 0},
		{"one throttled call fails the request", backend.EmbedRequest{ModelID: titanV2, Inputs: texts(40)},
			[]emulator.Fault{{Operation: emulator.OpInvoke, Error: emulator.CodeThrottling, Every: 5}}, backend.KindThrottled, 40},
		{"cohere batch refused", backend.EmbedRequest{ModelID: cohereV3, Inputs: texts(10)},
			[]emulator.Fault{{Operation: emulator.OpInvoke, Error: emulator.CodeModelTimeout}}, backend.KindTimeout, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, func(eo *emulator.Options, _ *Options) { eo.Faults = tt.faults })
			_, err := h.b.Embed(callCtx(t), &tt.req)
			mustKind(t, err, tt.wantKind)
			if n := h.emu.Stats().Total(emulator.OpInvoke); n > tt.wantMax {
				t.Errorf("%d upstream calls, want at most %d", n, tt.wantMax)
			}
		})
	}
}

func TestEmbedEmpty(t *testing.T) {
	h := newHarness(t, nil)
	resp, err := h.b.Embed(callCtx(t), &backend.EmbedRequest{ModelID: titanV2})
	if err != nil || len(resp.Vectors) != 0 || resp.Calls != 0 {
		t.Fatalf("%+v, %v", resp, err)
	}
}
