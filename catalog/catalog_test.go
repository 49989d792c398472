package catalog_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strata-gateway/strata/internal/corpus"

	"github.com/strata-gateway/strata/catalog"
)

func mustLoad(t *testing.T) *catalog.Catalog {
	t.Helper()
	c, err := catalog.Load()
	if err != nil {
		t.Fatalf("Load() error = %v", err)
	}
	return c
}

func TestLoad(t *testing.T) {
	t.Parallel()
	c := mustLoad(t)

	models := c.Models()
	// The catalog is meant to cover the mainstream Bedrock models, not a handful of stubs.
	if len(models) < 35 {
		t.Errorf("Load() has %d models, want at least 35", len(models))
	}
	seen := make(map[string]bool, len(models))
	for i := range models {
		id := models[i].ID
		if seen[id] {
			t.Errorf("model %s is listed twice", id)
		}
		seen[id] = true
		got, ok := c.Model(id)
		if !ok || got.ID != id {
			t.Errorf("Model(%q) = %v, %v; want the entry itself", id, got, ok)
		}
	}
	if _, ok := c.Model(""); ok {
		t.Error(`Model("") found a model`)
	}
}

// TestModelsJSONStrict decodes models.json with unknown fields disallowed: Parse ignores them, so a
// misspelt key ("on_demnd") would otherwise silently fall back to its zero value.
func TestModelsJSONStrict(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("models.json")
	if err != nil {
		t.Fatalf("read models.json: %v", err)
	}
	var file struct {
		PricesAsOf   string          `json:"prices_as_of"`
		PricesSource string          `json:"prices_source"`
		Models       []catalog.Model `json:"models"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&file); err != nil {
		t.Fatalf("models.json has a field the Model struct does not know: %v", err)
	}
	c, err := catalog.Parse(data)
	if err != nil {
		t.Fatalf("Parse(models.json) error = %v", err)
	}
	if got, want := len(c.Models()), len(mustLoad(t).Models()); got != want {
		t.Errorf("Parse(models.json) has %d models, the embedded catalog %d", got, want)
	}
}

func TestResolve(t *testing.T) {
	t.Parallel()
	c := mustLoad(t)

	tests := []struct {
		name         string
		id           string
		wantErr      bool
		wantKind     catalog.IDKind
		wantModel    string
		wantProfile  string
		wantRegion   string
		wantApp      string
		wantResource string
	}{
		// Bare foundation ids.
		{name: "bare on-demand id", id: "amazon.nova-micro-v1:0", wantKind: catalog.KindFoundation, wantModel: "amazon.nova-micro-v1:0"},
		{name: "bare id without colon version", id: "anthropic.claude-sonnet-4-6", wantKind: catalog.KindFoundation, wantModel: "anthropic.claude-sonnet-4-6"},
		// Resolve names the model; whether Bedrock serves it on demand is Model.OnDemand's business.
		{name: "bare id of a profile-only model", id: "anthropic.claude-sonnet-4-5-20250929-v1:0", wantKind: catalog.KindFoundation, wantModel: "anthropic.claude-sonnet-4-5-20250929-v1:0"},
		{name: "bare embedding id", id: "cohere.embed-v4:0", wantKind: catalog.KindFoundation, wantModel: "cohere.embed-v4:0"},

		// System-defined cross-Region inference profiles.
		{name: "us profile", id: "us.anthropic.claude-sonnet-4-5-20250929-v1:0", wantKind: catalog.KindProfile, wantModel: "anthropic.claude-sonnet-4-5-20250929-v1:0", wantProfile: "us"},
		{name: "eu profile", id: "eu.amazon.nova-micro-v1:0", wantKind: catalog.KindProfile, wantModel: "amazon.nova-micro-v1:0", wantProfile: "eu"},
		{name: "global profile", id: "global.anthropic.claude-sonnet-4-6", wantKind: catalog.KindProfile, wantModel: "anthropic.claude-sonnet-4-6", wantProfile: "global"},
		{name: "jp profile", id: "jp.amazon.nova-2-lite-v1:0", wantKind: catalog.KindProfile, wantModel: "amazon.nova-2-lite-v1:0", wantProfile: "jp"},
		{name: "us-gov profile with a dash", id: "us-gov.anthropic.claude-sonnet-4-5-20250929-v1:0", wantKind: catalog.KindProfile, wantModel: "anthropic.claude-sonnet-4-5-20250929-v1:0", wantProfile: "us-gov"},
		{name: "us profile of an embedding model", id: "us.cohere.embed-v4:0", wantKind: catalog.KindProfile, wantModel: "cohere.embed-v4:0", wantProfile: "us"},
		{name: "global profile the model lacks", id: "global.amazon.nova-micro-v1:0", wantErr: true},
		{name: "eu profile the model lacks", id: "eu.deepseek.r1-v1:0", wantErr: true},
		{name: "profile of an in-Region-only model", id: "us.moonshot.kimi-k2-thinking", wantErr: true},
		{name: "unknown profile prefix", id: "xx.amazon.nova-micro-v1:0", wantErr: true},
		{name: "upper-case profile prefix", id: "US.amazon.nova-micro-v1:0", wantErr: true},
		{name: "doubled profile prefix", id: "us.us.amazon.nova-micro-v1:0", wantErr: true},
		{name: "profile prefix alone", id: "us.", wantErr: true},

		// Foundation-model ARNs.
		{name: "foundation-model ARN", id: "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0", wantKind: catalog.KindFoundationARN, wantModel: "amazon.nova-micro-v1:0", wantRegion: "us-east-1"},
		{name: "foundation-model ARN in GovCloud", id: "arn:aws-us-gov:bedrock:us-gov-west-1::foundation-model/amazon.titan-embed-text-v2:0", wantKind: catalog.KindFoundationARN, wantModel: "amazon.titan-embed-text-v2:0", wantRegion: "us-gov-west-1"},
		{name: "foundation-model ARN with an account", id: "arn:aws:bedrock:us-east-1:123456789012:foundation-model/amazon.nova-micro-v1:0", wantErr: true},
		{name: "foundation-model ARN naming a profile", id: "arn:aws:bedrock:us-east-1::foundation-model/us.amazon.nova-micro-v1:0", wantErr: true},
		{name: "foundation-model ARN of an unknown model", id: "arn:aws:bedrock:us-east-1::foundation-model/does-not-exist-model-v1:0", wantErr: true},

		// Inference-profile ARNs.
		{name: "inference-profile ARN", id: "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-20250514-v1:0", wantKind: catalog.KindProfileARN, wantModel: "anthropic.claude-sonnet-4-20250514-v1:0", wantProfile: "us", wantRegion: "us-east-1"},
		{name: "global inference-profile ARN", id: "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/global.cohere.embed-v4:0", wantKind: catalog.KindProfileARN, wantModel: "cohere.embed-v4:0", wantProfile: "global", wantRegion: "eu-west-1"},
		{name: "inference-profile ARN naming a bare id", id: "arn:aws:bedrock:us-east-1:123456789012:inference-profile/amazon.nova-micro-v1:0", wantErr: true},
		{name: "inference-profile ARN without an account", id: "arn:aws:bedrock:us-east-1::inference-profile/us.amazon.nova-micro-v1:0", wantErr: true},
		{name: "inference-profile ARN of a profile the model lacks", id: "arn:aws:bedrock:us-east-1:123456789012:inference-profile/global.amazon.nova-micro-v1:0", wantErr: true},

		// Application inference profiles: the ids recorded in the corpus.
		{name: "application-inference-profile ARN", id: "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/mi1dadi0g15f", wantKind: catalog.KindApplicationProfileARN, wantRegion: "us-east-1", wantApp: "mi1dadi0g15f"},
		{name: "application-inference-profile ARN for embeddings", id: "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/otnfa2ysixqd", wantKind: catalog.KindApplicationProfileARN, wantRegion: "us-east-1", wantApp: "otnfa2ysixqd"},
		{name: "application-inference-profile ARN without an account", id: "arn:aws:bedrock:us-east-1::application-inference-profile/mi1dadi0g15f", wantErr: true},
		{name: "application-inference-profile ARN without a name", id: "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/", wantErr: true},

		// Provisioned Throughput and custom models: their model is the control plane's to say.
		{name: "provisioned-model ARN", id: "arn:aws:bedrock:us-west-2:123456789012:provisioned-model/pt1a2b3c4d5e", wantKind: catalog.KindProvisionedARN, wantRegion: "us-west-2", wantResource: "pt1a2b3c4d5e"},
		{name: "provisioned-model ARN without an account", id: "arn:aws:bedrock:us-west-2::provisioned-model/pt1a2b3c4d5e", wantErr: true},
		{name: "custom-model ARN", id: "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-micro-v1:0:128k/a1b2c3d4e5f6", wantKind: catalog.KindCustomModelARN, wantRegion: "us-east-1", wantResource: "amazon.nova-micro-v1:0:128k/a1b2c3d4e5f6"},
		{name: "custom-model ARN without a name", id: "arn:aws:bedrock:us-east-1:123456789012:custom-model/", wantErr: true},

		// Malformed ARNs.
		{name: "arn prefix alone", id: "arn:", wantErr: true},
		{name: "too few ARN parts", id: "arn:aws:bedrock:us-east-1", wantErr: true},
		{name: "other service", id: "arn:aws:s3:us-east-1::foundation-model/amazon.nova-micro-v1:0", wantErr: true},
		{name: "other partition", id: "arn:gcp:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0", wantErr: true},
		{name: "empty region", id: "arn:aws:bedrock::123456789012:inference-profile/us.amazon.nova-micro-v1:0", wantErr: true},
		{name: "resource without a slash", id: "arn:aws:bedrock:us-east-1::foundation-model", wantErr: true},
		{name: "resource with an empty name", id: "arn:aws:bedrock:us-east-1::foundation-model/", wantErr: true},
		{name: "unsupported resource type", id: "arn:aws:bedrock:us-east-1:123456789012:imported-model/abc123", wantErr: true},

		// Unknown ids, as recorded in the corpus's 400 "The provided model identifier is invalid.".
		{name: "unknown bare id", id: "does-not-exist-model-v1:0", wantErr: true},
		{name: "unknown profile id", id: "us.does-not-exist-model-v1:0", wantErr: true},
		{name: "wrong case", id: "Amazon.Nova-Micro-V1:0", wantErr: true},
		{name: "surrounding space", id: " amazon.nova-micro-v1:0", wantErr: true},
		{name: "empty string", id: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := c.Resolve(tt.id)
			if tt.wantErr {
				if !errors.Is(err, catalog.ErrUnknownModel) {
					t.Fatalf("Resolve(%q) error = %v, want ErrUnknownModel", tt.id, err)
				}
				if got != (catalog.Resolution{}) {
					t.Errorf("Resolve(%q) = %+v alongside an error, want the zero Resolution", tt.id, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve(%q) error = %v", tt.id, err)
			}
			if got.Kind != tt.wantKind {
				t.Errorf("Kind = %v, want %v", got.Kind, tt.wantKind)
			}
			gotModel := ""
			if got.Model != nil {
				gotModel = got.Model.ID
			}
			if gotModel != tt.wantModel {
				t.Errorf("Model = %q, want %q", gotModel, tt.wantModel)
			}
			if got.Profile != tt.wantProfile {
				t.Errorf("Profile = %q, want %q", got.Profile, tt.wantProfile)
			}
			if got.Region != tt.wantRegion {
				t.Errorf("Region = %q, want %q", got.Region, tt.wantRegion)
			}
			if got.ApplicationProfile != tt.wantApp {
				t.Errorf("ApplicationProfile = %q, want %q", got.ApplicationProfile, tt.wantApp)
			}
			if got.Resource != tt.wantResource {
				t.Errorf("Resource = %q, want %q", got.Resource, tt.wantResource)
			}
		})
	}
}

// TestResolveCorpus resolves every model identifier the recorded Bedrock corpus called: each must be known,
// except the ids the recordings show Bedrock rejecting as invalid. The corpus is part of CI's checkout, so
// its absence fails the test.
func TestResolveCorpus(t *testing.T) {
	t.Parallel()
	cassettes := corpus.ForTest(t)
	ids := make(map[string]bool)
	for _, cas := range cassettes {
		for _, in := range cas.Interactions {
			if in.Request.Operation != corpus.OpOther {
				ids[in.Request.ModelID] = true
			}
		}
	}
	if len(ids) == 0 {
		t.Fatal("found no model identifiers in the corpus")
	}
	c := mustLoad(t)
	for id := range ids {
		_, err := c.Resolve(id)
		wantErr := strings.Contains(id, "does-not-exist")
		if gotErr := err != nil; gotErr != wantErr {
			t.Errorf("Resolve(%q) error = %v, want error %v", id, err, wantErr)
		}
	}
}

// TestRecordedFacts pins catalog values that the corpus recordings or Bedrock's documentation show.
func TestRecordedFacts(t *testing.T) {
	t.Parallel()
	c := mustLoad(t)

	tests := []struct {
		id            string
		onDemand      bool
		profile       string // a profile the model must carry; "" for none required
		reasoning     catalog.Reasoning
		countTokens   bool
		structured    bool
		dimension     int // a vector size the recordings returned, for embedding models
		defaultDim    int
		maxInputs     int
		wantEmbedding bool
	}{
		// Converse by bare id succeeded in the recordings.
		{id: "openai.gpt-oss-120b-1:0", onDemand: true, reasoning: catalog.ReasoningEffort, structured: true},
		{id: "qwen.qwen3-32b-v1:0", onDemand: true, reasoning: catalog.ReasoningQwen, structured: true},
		{id: "moonshot.kimi-k2-thinking", onDemand: true, reasoning: catalog.ReasoningAlways, structured: true},
		{id: "zai.glm-4.7-flash", onDemand: true, structured: true}, // outputConfig.textFormat json_schema recorded
		{id: "anthropic.claude-v2", onDemand: true},
		// Served only through inference profiles; the recordings call them with us.
		{id: "anthropic.claude-sonnet-4-20250514-v1:0", profile: "us", reasoning: catalog.ReasoningBudget, countTokens: true},
		{id: "anthropic.claude-sonnet-4-5-20250929-v1:0", profile: "us", reasoning: catalog.ReasoningBudget, countTokens: true, structured: true},
		{id: "anthropic.claude-sonnet-4-6", profile: "us", reasoning: catalog.ReasoningAdaptive, countTokens: true, structured: true},
		{id: "anthropic.claude-3-7-sonnet-20250219-v1:0", profile: "us", reasoning: catalog.ReasoningBudget, countTokens: true},
		{id: "amazon.nova-2-lite-v1:0", profile: "us", reasoning: catalog.ReasoningNova},
		{id: "deepseek.r1-v1:0", profile: "us", reasoning: catalog.ReasoningAlways},
		{id: "meta.llama4-maverick-17b-instruct-v1:0", profile: "us"},
		{id: "mistral.pixtral-large-2502-v1:0", profile: "us"},
		{id: "writer.palmyra-x4-v1:0", profile: "us"},
		{id: "amazon.nova-premier-v1:0", profile: "us"},
		{id: "anthropic.claude-opus-4-6-v1", profile: "global", reasoning: catalog.ReasoningAdaptive, countTokens: true, structured: true},
		{id: "anthropic.claude-haiku-4-5-20251001-v1:0", onDemand: true, profile: "global", reasoning: catalog.ReasoningBudget, countTokens: true, structured: true},
		// On demand and through a profile.
		{id: "amazon.nova-micro-v1:0", onDemand: true, profile: "us"},
		{id: "amazon.nova-lite-v1:0", onDemand: true, profile: "us"},
		{id: "amazon.nova-pro-v1:0", onDemand: true, profile: "us"},
		// Embeddings, with the vector sizes the recordings returned.
		{id: "amazon.titan-embed-text-v1", onDemand: true, wantEmbedding: true, dimension: 1536, defaultDim: 1536, maxInputs: 1},
		{id: "amazon.titan-embed-text-v2:0", onDemand: true, wantEmbedding: true, dimension: 256, defaultDim: 1024, maxInputs: 1},
		{id: "amazon.nova-2-multimodal-embeddings-v1:0", onDemand: true, wantEmbedding: true, dimension: 256, defaultDim: 3072, maxInputs: 1},
		{id: "cohere.embed-english-v3", onDemand: true, wantEmbedding: true, dimension: 1024, defaultDim: 1024, maxInputs: 96},
		{id: "cohere.embed-multilingual-v3", onDemand: true, wantEmbedding: true, dimension: 1024, defaultDim: 1024, maxInputs: 96},
		{id: "cohere.embed-v4:0", onDemand: true, profile: "us", wantEmbedding: true, dimension: 512, defaultDim: 1536, maxInputs: 96},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			t.Parallel()
			m, ok := c.Model(tt.id)
			if !ok {
				t.Fatalf("Model(%q) not found", tt.id)
			}
			if m.OnDemand != tt.onDemand {
				t.Errorf("OnDemand = %v, want %v", m.OnDemand, tt.onDemand)
			}
			if tt.profile != "" && !slices.Contains(m.Profiles, tt.profile) {
				t.Errorf("Profiles = %v, want %q among them", m.Profiles, tt.profile)
			}
			if m.Reasoning != tt.reasoning {
				t.Errorf("Reasoning = %q, want %q", m.Reasoning, tt.reasoning)
			}
			if m.CountTokens != tt.countTokens {
				t.Errorf("CountTokens = %v, want %v", m.CountTokens, tt.countTokens)
			}
			if m.StructuredOutput != tt.structured {
				t.Errorf("StructuredOutput = %v, want %v", m.StructuredOutput, tt.structured)
			}
			if m.IsEmbedding() != tt.wantEmbedding {
				t.Fatalf("IsEmbedding() = %v, want %v", m.IsEmbedding(), tt.wantEmbedding)
			}
			if !tt.wantEmbedding {
				return
			}
			e := m.Embedding
			if !slices.Contains(e.Dimensions, tt.dimension) {
				t.Errorf("Dimensions = %v, want %d among them", e.Dimensions, tt.dimension)
			}
			if e.DefaultDimension != tt.defaultDim {
				t.Errorf("DefaultDimension = %d, want %d", e.DefaultDimension, tt.defaultDim)
			}
			if e.MaxInputs != tt.maxInputs {
				t.Errorf("MaxInputs = %d, want %d", e.MaxInputs, tt.maxInputs)
			}
		})
	}
}

// entry returns one catalog entry as JSON, built from a valid text model changed by edit.
func entry(t *testing.T, edit func(m map[string]any)) string {
	t.Helper()
	m := map[string]any{
		"id": "acme.model-v1:0", "name": "Acme Model", "provider": "Acme", "family": "other",
		"input_modalities": []string{"TEXT"}, "output_modalities": []string{"TEXT"},
		"context_window": 8192, "max_output_tokens": 1024, "streaming": true, "on_demand": true,
		"price":     map[string]any{"input_per_mtok": 1, "output_per_mtok": 2},
		"lifecycle": map[string]any{"status": "ACTIVE", "start": "2025-01-01"},
	}
	if edit != nil {
		edit(m)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func embeddingEntry(t *testing.T, edit func(m map[string]any)) string {
	t.Helper()
	return entry(t, func(m map[string]any) {
		m["id"] = "acme.embed-v1:0"
		m["output_modalities"] = []string{"EMBEDDING"}
		m["streaming"] = false
		delete(m, "max_output_tokens")
		m["embedding"] = map[string]any{"dimensions": []int{256, 1024}, "default_dimension": 1024, "max_inputs": 1}
		if edit != nil {
			edit(m)
		}
	})
}

func catalogJSON(entries ...string) []byte {
	return []byte(`{"models": [` + strings.Join(entries, ",") + `]}`)
}

func TestParse(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name       string
		data       []byte
		wantModels int
		wantErr    string // a substring of the error; "" for success
	}{
		{name: "one text model", data: catalogJSON(entry(t, nil)), wantModels: 1},
		{name: "one embedding model", data: catalogJSON(embeddingEntry(t, nil)), wantModels: 1},
		{name: "text and embedding", data: catalogJSON(entry(t, nil), embeddingEntry(t, nil)), wantModels: 2},
		{name: "profile-only model with a profile", data: catalogJSON(entry(t, func(m map[string]any) {
			m["on_demand"] = false
			m["profiles"] = []string{"us", "us-gov"}
		})), wantModels: 1},
		{name: "empty list", data: []byte(`{"models": []}`)},
		{name: "no models key", data: []byte(`{}`)},

		{name: "not JSON", data: []byte(`{"models": [`), wantErr: "parse model catalog"},
		{name: "models not a list", data: []byte(`{"models": {}}`), wantErr: "parse model catalog"},
		{name: "wrong field type", data: catalogJSON(entry(t, func(m map[string]any) { m["context_window"] = "large" })), wantErr: "parse model catalog"},
		{name: "missing id", data: catalogJSON(entry(t, func(m map[string]any) { delete(m, "id") })), wantErr: "required"},
		{name: "missing name", data: catalogJSON(entry(t, func(m map[string]any) { delete(m, "name") })), wantErr: "required"},
		{name: "missing provider", data: catalogJSON(entry(t, func(m map[string]any) { delete(m, "provider") })), wantErr: "required"},
		{name: "missing family", data: catalogJSON(entry(t, func(m map[string]any) { delete(m, "family") })), wantErr: "required"},
		{name: "missing context window", data: catalogJSON(entry(t, func(m map[string]any) { delete(m, "context_window") })), wantErr: "context_window"},
		{name: "negative context window", data: catalogJSON(entry(t, func(m map[string]any) { m["context_window"] = -1 })), wantErr: "context_window"},
		{name: "text model without max output", data: catalogJSON(entry(t, func(m map[string]any) { delete(m, "max_output_tokens") })), wantErr: "max_output_tokens"},
		{name: "default dimension not listed", data: catalogJSON(embeddingEntry(t, func(m map[string]any) {
			m["embedding"] = map[string]any{"dimensions": []int{256, 512}, "default_dimension": 1024, "max_inputs": 1}
		})), wantErr: "default_dimension"},
		{name: "embedding without dimensions", data: catalogJSON(embeddingEntry(t, func(m map[string]any) {
			m["embedding"] = map[string]any{"default_dimension": 1024, "max_inputs": 1}
		})), wantErr: "default_dimension"},
		{name: "not on demand and no profiles", data: catalogJSON(entry(t, func(m map[string]any) { m["on_demand"] = false })), wantErr: "profile"},
		{name: "not on demand and empty profiles", data: catalogJSON(entry(t, func(m map[string]any) {
			m["on_demand"] = false
			m["profiles"] = []string{}
		})), wantErr: "profile"},
		{name: "unknown profile prefix", data: catalogJSON(entry(t, func(m map[string]any) { m["profiles"] = []string{"us", "mars"} })), wantErr: `unknown profile prefix "mars"`},
		{name: "upper-case profile prefix", data: catalogJSON(entry(t, func(m map[string]any) { m["profiles"] = []string{"US"} })), wantErr: "unknown profile prefix"},
		{name: "empty profile prefix", data: catalogJSON(entry(t, func(m map[string]any) { m["profiles"] = []string{""} })), wantErr: "unknown profile prefix"},
		{name: "duplicate id", data: catalogJSON(entry(t, nil), entry(t, func(m map[string]any) { m["name"] = "Other" })), wantErr: "listed twice"},
		{name: "bad entry after good ones names its index", data: catalogJSON(entry(t, nil), embeddingEntry(t, nil), entry(t, func(m map[string]any) {
			m["id"] = "acme.third-v1:0"
			m["context_window"] = 0
		})), wantErr: "entry 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := catalog.Parse(tt.data)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("Parse() = %d models, want an error containing %q", len(c.Models()), tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse() error = %q, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse() error = %v", err)
			}
			if got := len(c.Models()); got != tt.wantModels {
				t.Errorf("Parse() has %d models, want %d", got, tt.wantModels)
			}
		})
	}
}

func TestIsProfilePrefix(t *testing.T) {
	t.Parallel()
	tests := []struct {
		prefix string
		want   bool
	}{
		{"us", true}, {"eu", true}, {"apac", true}, {"global", true},
		{"us-gov", true}, {"jp", true}, {"au", true}, {"ca", true},
		{"", false}, {"US", false}, {"us.", false}, {"amazon", false}, {"ap", false}, {"usgov", false},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			t.Parallel()
			if got := catalog.IsProfilePrefix(tt.prefix); got != tt.want {
				t.Errorf("IsProfilePrefix(%q) = %v, want %v", tt.prefix, got, tt.want)
			}
		})
	}
}

func TestModelHelpers(t *testing.T) {
	t.Parallel()
	c := mustLoad(t)
	tests := []struct {
		id            string
		wantEmbedding bool
		input         string
		wantInput     bool
	}{
		{id: "amazon.nova-micro-v1:0", input: "TEXT", wantInput: true},
		{id: "amazon.nova-micro-v1:0", input: "IMAGE", wantInput: false},
		{id: "anthropic.claude-sonnet-4-5-20250929-v1:0", input: "IMAGE", wantInput: true},
		{id: "amazon.nova-pro-v1:0", input: "VIDEO", wantInput: true},
		{id: "cohere.embed-v4:0", wantEmbedding: true, input: "IMAGE", wantInput: true},
		{id: "amazon.titan-embed-text-v2:0", wantEmbedding: true, input: "image", wantInput: false},
	}
	for _, tt := range tests {
		t.Run(tt.id+"/"+tt.input, func(t *testing.T) {
			t.Parallel()
			m, ok := c.Model(tt.id)
			if !ok {
				t.Fatalf("Model(%q) not found", tt.id)
			}
			if got := m.IsEmbedding(); got != tt.wantEmbedding {
				t.Errorf("IsEmbedding() = %v, want %v", got, tt.wantEmbedding)
			}
			if got := m.HasInput(tt.input); got != tt.wantInput {
				t.Errorf("HasInput(%q) = %v, want %v", tt.input, got, tt.wantInput)
			}
		})
	}
}

// TestCatalogSanity checks every entry of the embedded catalog against rules that hold for all Bedrock
// models, so a typo in models.json fails here rather than in a request.
func TestCatalogSanity(t *testing.T) {
	t.Parallel()
	c := mustLoad(t)

	families := []catalog.Family{
		catalog.FamilyClaude, catalog.FamilyNova, catalog.FamilyTitanText, catalog.FamilyLlama,
		catalog.FamilyMistral, catalog.FamilyDeepSeek, catalog.FamilyGPTOSS, catalog.FamilyQwen,
		catalog.FamilyOther, catalog.FamilyTitanEmbed, catalog.FamilyCohereEmbed, catalog.FamilyNovaEmbed,
	}
	embedFamilies := []catalog.Family{catalog.FamilyTitanEmbed, catalog.FamilyCohereEmbed, catalog.FamilyNovaEmbed}
	// Each reasoning control belongs to the families whose request dialect carries it.
	reasoningFamilies := map[catalog.Reasoning][]catalog.Family{
		catalog.ReasoningNone:     families,
		catalog.ReasoningBudget:   {catalog.FamilyClaude},
		catalog.ReasoningAdaptive: {catalog.FamilyClaude},
		catalog.ReasoningNova:     {catalog.FamilyNova},
		catalog.ReasoningEffort:   {catalog.FamilyGPTOSS},
		catalog.ReasoningQwen:     {catalog.FamilyQwen},
		catalog.ReasoningAlways:   {catalog.FamilyDeepSeek, catalog.FamilyOther},
	}
	modalities := []string{"TEXT", "IMAGE", "DOCUMENT", "VIDEO", "AUDIO"}
	firstDay := time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)

	for _, m := range c.Models() {
		t.Run(m.ID, func(t *testing.T) {
			t.Parallel()
			if !slices.Contains(families, m.Family) {
				t.Errorf("Family = %q, not one of the catalog's families", m.Family)
			}
			allowed, ok := reasoningFamilies[m.Reasoning]
			if !ok {
				t.Errorf("Reasoning = %q, not one of the catalog's reasoning controls", m.Reasoning)
			} else if !slices.Contains(allowed, m.Family) {
				t.Errorf("Reasoning %q does not fit family %q", m.Reasoning, m.Family)
			}
			// Resolve splits a profile id at its first dot, so no foundation id may start with a profile prefix.
			prefix, rest, ok := strings.Cut(m.ID, ".")
			if !ok || rest == "" || catalog.IsProfilePrefix(prefix) {
				t.Errorf("ID %q is not PROVIDER.MODEL", m.ID)
			}
			if m.ID != strings.TrimSpace(m.ID) || strings.ContainsAny(m.ID, "/ ") || m.ID != strings.ToLower(m.ID) {
				t.Errorf("ID %q has characters Bedrock ids never have", m.ID)
			}
			if !slices.Contains(m.InputModalities, "TEXT") {
				t.Errorf("InputModalities = %v, want TEXT among them", m.InputModalities)
			}
			for _, in := range m.InputModalities {
				if !slices.Contains(modalities, in) {
					t.Errorf("input modality %q is not one of %v", in, modalities)
				}
			}
			assertUnique(t, "InputModalities", m.InputModalities)
			assertUnique(t, "Profiles", m.Profiles)
			if m.OnDemand == false && len(m.Profiles) == 0 {
				t.Error("a profile-only model without profiles cannot be called")
			}
			if m.MaxStopSequences < 0 {
				t.Errorf("MaxStopSequences = %d, want >= 0", m.MaxStopSequences)
			}
			if m.CountTokens && m.Family != catalog.FamilyClaude {
				t.Error("CountTokens accepts only Anthropic Claude models")
			}
			if m.Price.InputPerMTok <= 0 {
				t.Errorf("Price.InputPerMTok = %v, want a positive list price", m.Price.InputPerMTok)
			}
			if m.Price.CacheWritePerMTok > 0 && !m.CachePoints {
				t.Error("a cache-write price without cache points")
			}
			// Bedrock's prompt-caching table gives every caching model its limit of cache points.
			if m.CachePoints != (m.MaxCachePoints > 0) || m.MaxCachePoints < 0 {
				t.Errorf("CachePoints = %v with MaxCachePoints = %d: a caching model says how many it takes, no other does", m.CachePoints, m.MaxCachePoints)
			}
			if limit := m.CachePointLimit(); limit < 1 || (m.MaxCachePoints > 0 && limit != m.MaxCachePoints) {
				t.Errorf("CachePointLimit() = %d with MaxCachePoints = %d", limit, m.MaxCachePoints)
			}
			checkLifecycle(t, m.Lifecycle, firstDay)

			if m.IsEmbedding() {
				checkEmbedding(t, &m, embedFamilies)
				return
			}
			if slices.Contains(embedFamilies, m.Family) {
				t.Errorf("text model in embedding family %q", m.Family)
			}
			if !slices.Equal(m.OutputModalities, []string{"TEXT"}) {
				t.Errorf("OutputModalities = %v, want [TEXT]", m.OutputModalities)
			}
			if m.MaxOutputTokens > m.ContextWindow {
				t.Errorf("MaxOutputTokens %d > ContextWindow %d", m.MaxOutputTokens, m.ContextWindow)
			}
			if !m.Streaming && m.Lifecycle.Status != "LEGACY" {
				t.Error("an active chat model without streaming")
			}
			if m.Price.OutputPerMTok < m.Price.InputPerMTok {
				t.Errorf("Price.OutputPerMTok %v < InputPerMTok %v: no Bedrock chat model charges less for output", m.Price.OutputPerMTok, m.Price.InputPerMTok)
			}
			// Cache reads are billed below the input price exactly where cache points are accepted.
			if m.CachePoints != (m.Price.CacheReadPerMTok > 0) {
				t.Errorf("CachePoints = %v but CacheReadPerMTok = %v", m.CachePoints, m.Price.CacheReadPerMTok)
			}
			if m.Price.CacheReadPerMTok >= m.Price.InputPerMTok && m.CachePoints {
				t.Errorf("CacheReadPerMTok %v is not below InputPerMTok %v", m.Price.CacheReadPerMTok, m.Price.InputPerMTok)
			}
		})
	}
}

func checkEmbedding(t *testing.T, m *catalog.Model, embedFamilies []catalog.Family) {
	t.Helper()
	e := m.Embedding
	if !slices.Contains(embedFamilies, m.Family) {
		t.Errorf("embedding model in text family %q", m.Family)
	}
	if !slices.Equal(m.OutputModalities, []string{"EMBEDDING"}) {
		t.Errorf("OutputModalities = %v, want [EMBEDDING]", m.OutputModalities)
	}
	if m.Streaming || m.Tools || m.CachePoints || m.StructuredOutput || m.Reasoning != catalog.ReasoningNone || m.MaxOutputTokens != 0 || m.MaxStopSequences != 0 {
		t.Error("an embedding model claims a text-generation capability")
	}
	if m.Price.OutputPerMTok != 0 || m.Price.CacheReadPerMTok != 0 {
		t.Errorf("Price = %+v, embeddings are billed on input only", m.Price)
	}
	if e.MaxInputs < 1 {
		t.Errorf("MaxInputs = %d, want at least 1", e.MaxInputs)
	}
	if e.MaxInputChars < 0 {
		t.Errorf("MaxInputChars = %d, want >= 0", e.MaxInputChars)
	}
	if len(e.Dimensions) == 0 || e.Dimensions[0] <= 0 || !slices.IsSorted(e.Dimensions) {
		t.Errorf("Dimensions = %v, want positive sizes in ascending order", e.Dimensions)
	}
	assertUnique(t, "Dimensions", e.Dimensions)
}

func checkLifecycle(t *testing.T, l catalog.Lifecycle, firstDay time.Time) {
	t.Helper()
	if l.Status != "ACTIVE" && l.Status != "LEGACY" {
		t.Errorf("Lifecycle.Status = %q, want ACTIVE or LEGACY", l.Status)
	}
	start, err := time.Parse(time.DateOnly, l.Start)
	if err != nil {
		t.Errorf("Lifecycle.Start = %q, want an ISO-8601 date: %v", l.Start, err)
		return
	}
	if start.Before(firstDay) || start.After(time.Now()) {
		t.Errorf("Lifecycle.Start = %s, outside Bedrock's life so far", l.Start)
	}
}

func assertUnique[T comparable](t *testing.T, what string, values []T) {
	t.Helper()
	seen := make(map[T]bool, len(values))
	for _, v := range values {
		if seen[v] {
			t.Errorf("%s = %v lists %v twice", what, values, v)
		}
		seen[v] = true
	}
}

func TestCachePointLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		model catalog.Model
		want  int
	}{
		{"the catalog's own", catalog.Model{CachePoints: true, MaxCachePoints: 2}, 2},
		{"unsaid: Anthropic's four", catalog.Model{CachePoints: true}, catalog.DefaultMaxCachePoints},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.model.CachePointLimit(); got != tt.want {
				t.Errorf("CachePointLimit() = %d, want %d", got, tt.want)
			}
		})
	}
}
