package emulator

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/strata-gateway/strata/catalog"
)

// foundationModelSummary is the control plane's FoundationModelSummary (bedrock-wire.md §7.1).
type foundationModelSummary struct {
	CustomizationsSupported    []string       `json:"customizationsSupported"`
	InferenceTypesSupported    []string       `json:"inferenceTypesSupported"`
	InputModalities            []string       `json:"inputModalities"`
	ModelArn                   string         `json:"modelArn"`
	ModelID                    string         `json:"modelId"`
	ModelLifecycle             map[string]any `json:"modelLifecycle"`
	ModelName                  string         `json:"modelName"`
	OutputModalities           []string       `json:"outputModalities"`
	ProviderName               string         `json:"providerName"`
	ResponseStreamingSupported bool           `json:"responseStreamingSupported"`
}

// controlModalities keeps the modality words the control plane uses (TEXT, IMAGE, EMBEDDING, ...).
func controlModalities(in []string) []string {
	out := make([]string, 0, len(in))
	for _, m := range in {
		if m != "DOCUMENT" {
			out = append(out, m)
		}
	}
	return out
}

func (e *Emulator) summary(m *catalog.Model) foundationModelSummary {
	inference := []string{"ON_DEMAND"}
	if !m.OnDemand {
		inference = []string{"INFERENCE_PROFILE"}
	}
	lifecycle := map[string]any{"status": m.Lifecycle.Status}
	if m.Lifecycle.Start != "" {
		lifecycle["startOfLifeTime"] = m.Lifecycle.Start + "T00:00:00Z"
	}
	return foundationModelSummary{
		CustomizationsSupported:    []string{},
		InferenceTypesSupported:    inference,
		InputModalities:            controlModalities(m.InputModalities),
		ModelArn:                   "arn:aws:bedrock:" + e.opts.Region + "::foundation-model/" + m.ID,
		ModelID:                    m.ID,
		ModelLifecycle:             lifecycle,
		ModelName:                  m.Name,
		OutputModalities:           m.OutputModalities,
		ProviderName:               m.Provider,
		ResponseStreamingSupported: m.Streaming,
	}
}

// serveListFoundationModels implements GET /foundation-models with its filters.
func (e *Emulator) serveListFoundationModels(w http.ResponseWriter, r *http.Request) *apiError {
	q := r.URL.Query()
	provider, modality, inference, customization := q.Get("byProvider"), q.Get("byOutputModality"), q.Get("byInferenceType"), q.Get("byCustomizationType")
	switch inference {
	case "", "ON_DEMAND", "PROVISIONED":
	default:
		return validationf("1 validation error detected: Value '%s' at 'byInferenceType' failed to satisfy constraint: Member must satisfy enum value set: [ON_DEMAND, PROVISIONED]", inference)
	}
	switch modality {
	case "", "TEXT", "IMAGE", "EMBEDDING":
	default:
		return validationf("1 validation error detected: Value '%s' at 'byOutputModality' failed to satisfy constraint: Member must satisfy enum value set: [TEXT, IMAGE, EMBEDDING]", modality)
	}
	summaries := []foundationModelSummary{}
	for i := range e.catalog.Models() {
		m := &e.catalog.Models()[i]
		s := e.summary(m)
		switch {
		case provider != "" && !strings.EqualFold(provider, m.Provider):
		case modality != "" && !slices.Contains(s.OutputModalities, modality):
		case inference == "ON_DEMAND" && !m.OnDemand:
		case inference == "PROVISIONED":
		case customization != "":
		default:
			summaries = append(summaries, s)
		}
	}
	b, _ := json.Marshal(map[string]any{"modelSummaries": summaries}) // plain data always marshals
	writeJSON(w, newRequestID(), b)
	return nil
}

// serveGetFoundationModel implements GET /foundation-models/{id}.
func (e *Emulator) serveGetFoundationModel(w http.ResponseWriter, r *http.Request) *apiError {
	id := r.PathValue("id")
	res, err := e.catalog.Resolve(id)
	if err != nil || (res.Kind != catalog.KindFoundation && res.Kind != catalog.KindFoundationARN) {
		return newAPIError(CodeResourceNotFound, "The specified model identifier "+id+" is not found.")
	}
	b, _ := json.Marshal(map[string]any{"modelDetails": e.summary(res.Model)}) // plain data always marshals
	writeJSON(w, newRequestID(), b)
	return nil
}
