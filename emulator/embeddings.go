package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode"

	"github.com/strata-gateway/strata/catalog"
)

// embedVector returns a deterministic unit vector for text: a sum of one pseudo-random direction
// per word plus one for the whole text. The same text always gives the same vector, different
// texts differ, and texts that share words point in similar directions, as real embeddings do.
func (e *Emulator) embedVector(m *catalog.Model, text string, dims int) []float64 {
	v := make([]float64, dims)
	add := func(key string, weight float64) {
		rng := seededRand(e.opts.Seed, []byte(m.ID), []byte(key))
		for i := range v {
			v[i] += weight * rng.NormFloat64()
		}
	}
	for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		add("w:"+w, 1)
	}
	add("t:"+text, 0.5)
	normalize(v)
	return v
}

func normalize(v []float64) {
	var sum float64
	for _, x := range v {
		sum += x * x
	}
	if sum == 0 {
		return
	}
	inv := 1 / math.Sqrt(sum)
	for i := range v {
		v[i] *= inv
	}
}

// decodeStrict reads a model body, refusing keys the model does not take, as Bedrock's schema
// check does ("extraneous key [x] is not permitted").
func decodeStrict(body []byte, v any) *apiError {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		msg := err.Error()
		if field, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
			return malformed("extraneous key [" + strings.Trim(field, `"`) + "] is not permitted")
		}
		return malformed(jsonProblem(err))
	}
	return nil
}

func (e *Emulator) invokeEmbedding(c *call) (invokeResult, *apiError) {
	switch c.model.Family {
	case catalog.FamilyTitanEmbed:
		return e.embedTitan(c)
	case catalog.FamilyCohereEmbed:
		return e.embedCohere(c)
	default:
		return e.embedNova(c)
	}
}

// embedTitan answers Titan Text Embeddings v1 and v2 (bedrock-wire.md §4.2).
func (e *Emulator) embedTitan(c *call) (invokeResult, *apiError) {
	m := c.model
	v2 := len(m.Embedding.Dimensions) > 1
	var req struct {
		InputText      *string  `json:"inputText"`
		Dimensions     *int     `json:"dimensions"`
		Normalize      *bool    `json:"normalize"`
		EmbeddingTypes []string `json:"embeddingTypes"`
	}
	if v2 {
		if err := decodeStrict(c.body, &req); err != nil {
			return invokeResult{}, err
		}
	} else {
		var v1 struct {
			InputText *string `json:"inputText"`
		}
		if err := decodeStrict(c.body, &v1); err != nil {
			return invokeResult{}, err
		}
		req.InputText = v1.InputText
	}
	if req.InputText == nil {
		return invokeResult{}, malformed("#: required key [inputText] not found")
	}
	if *req.InputText == "" {
		return invokeResult{}, malformed("#/inputText: expected minLength: 1, actual: 0")
	}
	if m.Embedding.MaxInputChars > 0 && len(*req.InputText) > m.Embedding.MaxInputChars {
		return invokeResult{}, malformed(fmt.Sprintf("#/inputText: expected maxLength: %d, actual: %d", m.Embedding.MaxInputChars, len(*req.InputText)))
	}
	dims := m.Embedding.DefaultDimension
	if req.Dimensions != nil {
		if !slices.Contains(m.Embedding.Dimensions, *req.Dimensions) {
			return invokeResult{}, malformed(fmt.Sprintf("#/dimensions: %d is not a valid enum value", *req.Dimensions))
		}
		dims = *req.Dimensions
	}
	types := req.EmbeddingTypes
	if len(types) == 0 {
		types = []string{"float"}
	}
	for _, t := range types {
		if t != "float" && t != "binary" {
			return invokeResult{}, malformed(fmt.Sprintf("#/embeddingTypes/0: %s is not a valid enum value", t))
		}
	}
	tokens := countTokens(*req.InputText)
	if tokens > m.ContextWindow {
		return invokeResult{}, validationf("400 Bad Request: Too many input tokens. Max input tokens: %d, request input token count: %d ", m.ContextWindow, tokens)
	}
	vec := e.embedVector(m, *req.InputText, dims)
	// v2 answers a unit vector whatever normalize says: the recording of normalize:false has
	// |v| = 1.0000000 (TestBedrock.test_titan_v2_with_normalize_false.yaml). v1 has no such option
	// and never normalizes: its recorded vector has |v| = 18.70, in bfloat16 steps
	// (TestBedrock.test_titan_v1_minimal.yaml).
	if !v2 {
		titanV1Magnitude(e.opts.Seed, *req.InputText, vec)
	}
	body := map[string]any{"inputTextTokenCount": tokens}
	if slices.Contains(types, "float") {
		body["embedding"] = vec
	}
	if v2 {
		byType := map[string]any{}
		if slices.Contains(types, "float") {
			byType["float"] = vec
		}
		if slices.Contains(types, "binary") {
			byType["binary"] = binarize(vec)
		}
		body["embeddingsByType"] = byType
	}
	return invokeResult{body: body, usage: tokenUsage{input: tokens}}, nil
}

// titanV1Magnitude gives a unit vector the length and precision of a Titan v1 embedding: a norm
// between 16 and 22 that depends on the text (the recording's is 18.70 for "Hello, world!"), each
// value rounded to bfloat16 as v1's are (0.1416015625, 1.0078125, ...).
func titanV1Magnitude(seed uint64, text string, v []float64) {
	scale := 16 + 6*seededRand(seed, []byte("titan-v1-norm"), []byte(text)).Float64()
	for i, x := range v {
		bits := math.Float32bits(float32(x * scale))
		v[i] = float64(math.Float32frombits((bits + 0x8000) &^ 0xffff))
	}
}

func binarize(v []float64) []int {
	out := make([]int, len(v))
	for i, x := range v {
		if x > 0 {
			out[i] = 1
		}
	}
	return out
}

// cohereMaxChars is Cohere Embed's per-text limit on Bedrock.
const cohereMaxChars = 2048

// embedCohere answers Cohere Embed v3 and v4 (bedrock-wire.md §4.3).
func (e *Emulator) embedCohere(c *call) (invokeResult, *apiError) {
	m := c.model
	v4 := strings.Contains(m.ID, "embed-v4")
	var req struct {
		Texts           []string `json:"texts"`
		Images          []string `json:"images"`
		Inputs          []any    `json:"inputs"`
		InputType       string   `json:"input_type"`
		Truncate        string   `json:"truncate"`
		EmbeddingTypes  []string `json:"embedding_types"`
		OutputDimension *int     `json:"output_dimension"`
		MaxTokens       *int     `json:"max_tokens"`
	}
	if err := decodeStrict(c.body, &req); err != nil {
		return invokeResult{}, err
	}
	if !v4 && (req.OutputDimension != nil || req.MaxTokens != nil || req.Inputs != nil) {
		key := "output_dimension"
		if req.MaxTokens != nil {
			key = "max_tokens"
		} else if req.Inputs != nil {
			key = "inputs"
		}
		return invokeResult{}, malformed("extraneous key [" + key + "] is not permitted")
	}
	if req.InputType == "" {
		return invokeResult{}, malformed("#: required key [input_type] not found")
	}
	if !slices.Contains([]string{"search_document", "search_query", "classification", "clustering"}, req.InputType) {
		return invokeResult{}, malformed("#/input_type: " + req.InputType + " is not a valid enum value")
	}
	if req.Truncate != "" && !slices.Contains([]string{"NONE", "START", "END"}, req.Truncate) {
		return invokeResult{}, malformed("#/truncate: " + req.Truncate + " is not a valid enum value")
	}
	inputs := req.Texts
	if len(inputs) == 0 {
		inputs = req.Images
	}
	if len(inputs) == 0 {
		return invokeResult{}, malformed("#: required key [texts] not found")
	}
	if len(inputs) > m.Embedding.MaxInputs {
		return invokeResult{}, malformed(fmt.Sprintf("#/texts: expected maxItems: %d, actual: %d", m.Embedding.MaxInputs, len(inputs)))
	}
	dims := m.Embedding.DefaultDimension
	if req.OutputDimension != nil {
		if !slices.Contains(m.Embedding.Dimensions, *req.OutputDimension) {
			return invokeResult{}, malformed(fmt.Sprintf("#/output_dimension: %d is not a valid enum value", *req.OutputDimension))
		}
		dims = *req.OutputDimension
	}
	types := req.EmbeddingTypes
	for _, t := range types {
		if !slices.Contains([]string{"float", "int8", "uint8", "binary", "ubinary"}, t) {
			return invokeResult{}, malformed("#/embedding_types: " + t + " is not a valid enum value")
		}
	}
	tokens := 0
	vectors := make([][]float64, len(inputs))
	for i, text := range inputs {
		if req.Texts != nil && len(text) > cohereMaxChars && (req.Truncate == "NONE") {
			return invokeResult{}, malformed(fmt.Sprintf("#/texts/%d: expected maxLength: %d, actual: %d", i, cohereMaxChars, len(text)))
		}
		tokens += countTokens(text)
		vectors[i] = e.embedVector(m, text, dims)
	}
	echo := inputs
	if req.Texts != nil && strings.Contains(m.ID, "english") {
		// embed-english-v3 echoes its texts lower-cased; multilingual keeps case (recorded).
		echo = make([]string, len(inputs))
		for i, t := range inputs {
			echo[i] = strings.ToLower(t)
		}
	}
	body := map[string]any{
		"id":    newRequestID(),
		"texts": echo,
	}
	if req.Texts == nil {
		body["texts"] = []string{}
	}
	if len(types) == 0 && !v4 {
		body["response_type"], body["embeddings"] = "embeddings_floats", vectors
	} else {
		if len(types) == 0 {
			types = []string{"float"}
		}
		byType := map[string]any{}
		for _, t := range types {
			byType[t] = quantize(vectors, t)
		}
		body["response_type"], body["embeddings"] = "embeddings_by_type", byType
	}
	return invokeResult{body: body, usage: tokenUsage{input: tokens}}, nil
}

// quantize renders vectors in one of Cohere's embedding types.
func quantize(vectors [][]float64, typ string) any {
	if typ == "float" {
		return vectors
	}
	out := make([][]int, len(vectors))
	for i, v := range vectors {
		switch typ {
		case "int8", "uint8":
			q := make([]int, len(v))
			for j, x := range v {
				s := int(math.Round(x * 127 * math.Sqrt(float64(len(v))) / 4))
				s = max(-128, min(127, s))
				if typ == "uint8" {
					s += 128
				}
				q[j] = s
			}
			out[i] = q
		default: // binary, ubinary: one bit a dimension, packed 8 to a byte
			q := make([]int, (len(v)+7)/8)
			for j, x := range v {
				if x > 0 {
					q[j/8] |= 1 << (7 - j%8)
				}
			}
			if typ == "binary" {
				for j := range q {
					q[j] -= 128
				}
			}
			out[i] = q
		}
	}
	return out
}

// embedNova answers Amazon Nova multimodal embeddings for text (bedrock-wire.md §4.4).
func (e *Emulator) embedNova(c *call) (invokeResult, *apiError) {
	m := c.model
	var req struct {
		SchemaVersion         string `json:"schemaVersion"`
		TaskType              string `json:"taskType"`
		SingleEmbeddingParams *struct {
			EmbeddingPurpose   string `json:"embeddingPurpose"`
			EmbeddingDimension *int   `json:"embeddingDimension"`
			Text               *struct {
				Value          string `json:"value"`
				TruncationMode string `json:"truncationMode"`
			} `json:"text"`
			Image json.RawMessage `json:"image"`
			Audio json.RawMessage `json:"audio"`
			Video json.RawMessage `json:"video"`
		} `json:"singleEmbeddingParams"`
	}
	if err := decodeStrict(c.body, &req); err != nil {
		return invokeResult{}, err
	}
	if req.TaskType != "SINGLE_EMBEDDING" {
		return invokeResult{}, malformed("#/taskType: " + req.TaskType + " is not a valid enum value (the emulator serves SINGLE_EMBEDDING)")
	}
	p := req.SingleEmbeddingParams
	if p == nil {
		return invokeResult{}, malformed("#: required key [singleEmbeddingParams] not found")
	}
	if p.Text == nil || p.Text.Value == "" {
		return invokeResult{}, malformed("#/singleEmbeddingParams: a text value is required (the emulator embeds text)")
	}
	if p.EmbeddingPurpose == "" {
		return invokeResult{}, malformed("#/singleEmbeddingParams: required key [embeddingPurpose] not found")
	}
	dims := m.Embedding.DefaultDimension
	if p.EmbeddingDimension != nil {
		if !slices.Contains(m.Embedding.Dimensions, *p.EmbeddingDimension) {
			return invokeResult{}, malformed(fmt.Sprintf("#/singleEmbeddingParams/embeddingDimension: %d is not a valid enum value", *p.EmbeddingDimension))
		}
		dims = *p.EmbeddingDimension
	}
	tokens := countTokens(p.Text.Value)
	body := map[string]any{"embeddings": []map[string]any{{
		"embedding":     e.embedVector(m, p.Text.Value, dims),
		"embeddingType": "TEXT",
	}}}
	return invokeResult{body: body, usage: tokenUsage{input: tokens}}, nil
}
