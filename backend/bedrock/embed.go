package bedrock

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/strata-gateway/strata/backend"
	"github.com/strata-gateway/strata/catalog"
)

// Embed implements [backend.Backend] with InvokeModel, in each embedding family's own body
// (bedrock-wire.md §4.2–4.4). Titan and Nova take one text per call; Cohere takes batches of up
// to min(96, MaxBatch). The calls run EmbedConcurrency at a time, the first failure cancels the
// rest, and vectors come back in input order. Usage is the sum of the calls' input tokens.
func (b *Backend) Embed(ctx context.Context, req *backend.EmbedRequest) (*backend.EmbedResponse, error) {
	e, err := b.embedder(req)
	if err != nil {
		return nil, fmt.Errorf("embed: %w", err)
	}
	if len(req.Inputs) == 0 {
		return &backend.EmbedResponse{Vectors: [][]float32{}}, nil
	}
	batches := e.batches(len(req.Inputs))
	resp := &backend.EmbedResponse{Vectors: make([][]float32, len(req.Inputs))}
	retry := req.Retry
	if retry == nil {
		retry = func(ctx context.Context, call func(context.Context) error) (int, error) { return 1, call(ctx) }
	}
	var tokens, calls atomic.Int64
	err = b.fanOut(ctx, req.ModelID, len(batches), func(ctx context.Context, i int) error {
		lo, hi := batches[i][0], batches[i][1]
		var (
			vecs [][]float32
			n    int64
		)
		made, err := retry(ctx, func(ctx context.Context) error {
			var err error
			vecs, n, err = e.call(ctx, req.Inputs[lo:hi])
			return err
		})
		calls.Add(int64(made))
		if err != nil {
			return err
		}
		if len(vecs) != hi-lo {
			return &backend.Error{Kind: backend.KindInternal, Model: req.ModelID, Region: b.region,
				Message: fmt.Sprintf("Bedrock returned %d vectors for %d texts", len(vecs), hi-lo)}
		}
		copy(resp.Vectors[lo:hi], vecs)
		tokens.Add(n)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("embed: %w", err)
	}
	if e.normalizeLocally {
		for _, v := range resp.Vectors {
			normalize(v)
		}
	}
	resp.Usage.Input = tokens.Load()
	resp.Calls = int(calls.Load())
	return resp, nil
}

// embedder is how one embedding model is called.
type embedder struct {
	// perCall is how many texts one upstream call takes.
	perCall int
	// call embeds texts in one InvokeModel and returns their vectors and input tokens.
	call func(ctx context.Context, texts []string) ([][]float32, int64, error)
	// normalizeLocally is set when the caller asked for unit vectors from a model that has no
	// such option.
	normalizeLocally bool
}

// batches splits n inputs into [lo, hi) ranges of at most perCall.
func (e *embedder) batches(n int) [][2]int {
	out := make([][2]int, 0, (n+e.perCall-1)/e.perCall)
	for lo := 0; lo < n; lo += e.perCall {
		out = append(out, [2]int{lo, min(lo+e.perCall, n)})
	}
	return out
}

type embedFamily int

const (
	familyTitan embedFamily = iota + 1
	familyCohere
	familyNova
)

// familyOf finds the embedding dialect from the catalog, or from the id for a model the catalog
// does not know yet.
func familyOf(id string, m *catalog.Model) embedFamily {
	if m != nil {
		switch m.Family {
		case catalog.FamilyTitanEmbed:
			return familyTitan
		case catalog.FamilyCohereEmbed:
			return familyCohere
		case catalog.FamilyNovaEmbed:
			return familyNova
		}
		return 0
	}
	switch {
	case strings.Contains(id, "titan-embed"):
		return familyTitan
	case strings.Contains(id, "cohere.embed"):
		return familyCohere
	case strings.Contains(id, "nova") && strings.Contains(id, "embed"):
		return familyNova
	}
	return 0
}

func (b *Backend) embedder(req *backend.EmbedRequest) (*embedder, error) {
	m := b.resolveModel(req.ModelID, req.Model)
	fam := familyOf(req.ModelID, m)
	if fam == 0 {
		if m == nil && strings.Contains(req.ModelID, ":application-inference-profile/") {
			// Only the profile's owner knows its model, and each embedding family has its own body.
			return nil, b.invalidf(req.ModelID, fmt.Sprintf("the embedding model behind application inference profile %s is unknown: give its catalog entry as the request's Model", req.ModelID))
		}
		return nil, b.invalidf(req.ModelID, fmt.Sprintf("%s is not an embedding model Strata can call", req.ModelID))
	}
	var emb *catalog.Embedding
	if m != nil {
		emb = m.Embedding
	}
	// tunable reports whether the model takes a dimension option: one with a single size does not
	// (Titan v1, Cohere v3), and refuses the key.
	tunable := emb == nil || len(emb.Dimensions) > 1
	dims := req.Dimensions
	if dims < 0 {
		return nil, b.invalidf(req.ModelID, fmt.Sprintf("dimensions %d is negative", dims))
	}
	if dims > 0 && emb != nil {
		if !slices.Contains(emb.Dimensions, dims) {
			return nil, b.invalidf(req.ModelID, fmt.Sprintf("%s returns vectors of %s dimensions, not %d", req.ModelID, joinInts(emb.Dimensions), dims))
		}
		if !tunable {
			dims = 0 // the only size there is: say nothing
		}
	}
	normalize := req.Normalize != nil && *req.Normalize
	e := &embedder{perCall: 1}
	switch fam {
	case familyTitan:
		e.call = b.titanCall(req.ModelID, dims, req.Normalize, tunable)
		e.normalizeLocally = normalize && !tunable // Titan v1 has no normalize option
	case familyCohere:
		e.perCall = 96
		if emb != nil && emb.MaxInputs > 0 {
			e.perCall = emb.MaxInputs
		}
		if req.MaxBatch > 0 {
			e.perCall = min(e.perCall, req.MaxBatch)
		}
		inputType := req.InputType
		if inputType == "" {
			inputType = "search_document"
		}
		e.call = b.cohereCall(req.ModelID, inputType, dims)
		e.normalizeLocally = normalize
	case familyNova:
		e.call = b.novaCall(req.ModelID, novaPurpose(req.InputType), dims)
		e.normalizeLocally = normalize
	}
	return e, nil
}

// titanCall embeds one text with Titan Text Embeddings (§4.2). v2 takes dimensions and
// normalize; v1 refuses both keys.
func (b *Backend) titanCall(modelID string, dims int, normalize *bool, tunable bool) func(context.Context, []string) ([][]float32, int64, error) {
	return func(ctx context.Context, texts []string) ([][]float32, int64, error) {
		body := map[string]any{"inputText": texts[0]}
		if tunable {
			if dims > 0 {
				body["dimensions"] = dims
			}
			if normalize != nil {
				body["normalize"] = *normalize
			}
		}
		raw, tokens, err := b.invoke(ctx, modelID, body)
		if err != nil {
			return nil, 0, err
		}
		var vec []float32
		var byType []byte
		err = b.decode(modelID, raw, func(key string, v []byte) (err error) {
			switch key {
			case "embedding":
				vec, err = parseVector(v)
			case "embeddingsByType":
				byType = v // read only when embedding is missing
			case "inputTextTokenCount":
				if tokens < 0 {
					err = json.Unmarshal(v, &tokens)
				}
			}
			return err
		})
		if err == nil && vec == nil && byType != nil {
			err = b.decode(modelID, byType, func(key string, v []byte) (err error) {
				if key == "float" {
					vec, err = parseVector(v)
				}
				return err
			})
		}
		if err != nil {
			return nil, 0, err
		}
		return [][]float32{vec}, max(tokens, 0), nil
	}
}

// cohereCall embeds a batch with Cohere Embed v3 or v4 (§4.3). v4 takes output_dimension.
func (b *Backend) cohereCall(modelID, inputType string, dims int) func(context.Context, []string) ([][]float32, int64, error) {
	return func(ctx context.Context, texts []string) ([][]float32, int64, error) {
		body := map[string]any{"texts": texts, "input_type": inputType}
		if dims > 0 {
			body["output_dimension"] = dims
		}
		raw, tokens, err := b.invoke(ctx, modelID, body)
		if err != nil {
			return nil, 0, err
		}
		// embeddings is a list of vectors (response_type embeddings_floats) or, with
		// embedding_types, an object of them by type (embeddings_by_type, §4.3).
		var vecs [][]float32
		err = b.decode(modelID, raw, func(key string, v []byte) (err error) {
			if key != "embeddings" {
				return nil
			}
			if len(v) > 0 && v[0] == '{' {
				return eachField(v, func(key string, v []byte) (err error) {
					if key == "float" {
						vecs, err = parseVectors(v)
					}
					return err
				})
			}
			vecs, err = parseVectors(v)
			return err
		})
		if err != nil {
			return nil, 0, err
		}
		return vecs, max(tokens, 0), nil
	}
}

// novaPurpose maps Cohere's input types, Strata's vocabulary, to Nova's embedding purposes.
func novaPurpose(inputType string) string {
	switch inputType {
	case "search_query":
		return "GENERIC_RETRIEVAL"
	case "classification":
		return "CLASSIFICATION"
	case "clustering":
		return "CLUSTERING"
	}
	return "GENERIC_INDEX"
}

// novaCall embeds one text with Amazon Nova multimodal embeddings (§4.4).
func (b *Backend) novaCall(modelID, purpose string, dims int) func(context.Context, []string) ([][]float32, int64, error) {
	return func(ctx context.Context, texts []string) ([][]float32, int64, error) {
		params := map[string]any{
			"embeddingPurpose": purpose,
			// NONE, as recorded: a text over the limit is an error, not silently cut.
			"text": map[string]any{"value": texts[0], "truncationMode": "NONE"},
		}
		if dims > 0 {
			params["embeddingDimension"] = dims
		}
		body := map[string]any{"taskType": "SINGLE_EMBEDDING", "singleEmbeddingParams": params}
		raw, tokens, err := b.invoke(ctx, modelID, body)
		if err != nil {
			return nil, 0, err
		}
		var vecs [][]float32
		err = b.decode(modelID, raw, func(key string, v []byte) error {
			if key != "embeddings" {
				return nil
			}
			return eachElement(v, func(item []byte) error {
				return eachField(item, func(key string, v []byte) error {
					if key != "embedding" {
						return nil
					}
					vec, err := parseVector(v)
					vecs = append(vecs, vec)
					return err
				})
			})
		})
		if err != nil {
			return nil, 0, err
		}
		if len(vecs) != 1 {
			return nil, 0, &backend.Error{Kind: backend.KindInternal, Model: modelID, Region: b.region,
				Message: fmt.Sprintf("Nova returned %d embeddings for one text", len(vecs))}
		}
		return vecs, max(tokens, 0), nil
	}
}

// invoke calls InvokeModel with a JSON body and returns the response body and the input token
// count from X-Amzn-Bedrock-Input-Token-Count (-1 when absent): Bedrock reports InvokeModel
// usage in unmodeled headers (bedrock-wire.md §0 item 12).
func (b *Backend) invoke(ctx context.Context, modelID string, body any) ([]byte, int64, error) {
	payload, err := json.Marshal(body)
	if err != nil {
		return nil, 0, &backend.Error{Kind: backend.KindInternal, Model: modelID, Region: b.region, Message: err.Error(), Err: err}
	}
	resp, err := b.post(ctx, modelID, opInvoke, payload)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, 0, b.toError(ctx, err, modelID)
	}
	tokens := int64(-1)
	if n, err := strconv.ParseInt(resp.Header.Get("X-Amzn-Bedrock-Input-Token-Count"), 10, 64); err == nil {
		tokens = n
	}
	return raw, tokens, nil
}

// decode walks the fields of an embedding reply with visit (eachField), and says what broke
// when the reply is not what the family sends.
func (b *Backend) decode(modelID string, raw []byte, visit func(key string, value []byte) error) error {
	if err := eachField(raw, visit); err != nil {
		return &backend.Error{Kind: backend.KindInternal, Model: modelID, Region: b.region,
			Message: "Bedrock's embedding response did not parse: " + err.Error(), Err: err}
	}
	return nil
}

// fanOut runs call for 0..n-1, at most b.concurrency at once. The first failure cancels the calls
// still running and is the one returned.
func (b *Backend) fanOut(ctx context.Context, modelID string, n int, call func(ctx context.Context, i int) error) error {
	if n == 1 {
		return call(ctx, 0)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
		sem   = make(chan struct{}, b.concurrency)
	)
	fail := func(err error) {
		once.Do(func() {
			first = err
			cancel()
		})
	}
	launched := 0
launch:
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			break launch
		}
		launched++
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := call(ctx, i); err != nil {
				fail(err)
			}
		}()
	}
	wg.Wait()
	if first == nil && launched < n {
		// The caller went away before every call was launched.
		first = &backend.Error{Kind: backend.KindCanceled, Message: "the call was canceled or its deadline passed", Model: modelID, Region: b.region, Err: ctx.Err()}
	}
	return first
}

// normalize scales v to unit length.
func normalize(v []float32) {
	var sum float64
	for _, x := range v {
		sum += float64(x) * float64(x)
	}
	if sum == 0 {
		return
	}
	inv := 1 / math.Sqrt(sum)
	for i := range v {
		v[i] = float32(float64(v[i]) * inv)
	}
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}
