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

// emulatorAccount is the account id in the ARNs the emulator makes up, AWS's documentation example.
const emulatorAccount = "111122223333"

// inferenceProfile is GetInferenceProfile's answer (bedrock control plane).
type inferenceProfile struct {
	InferenceProfileName string                  `json:"inferenceProfileName"`
	InferenceProfileArn  string                  `json:"inferenceProfileArn"`
	InferenceProfileID   string                  `json:"inferenceProfileId"`
	Description          string                  `json:"description,omitempty"`
	CreatedAt            string                  `json:"createdAt"`
	UpdatedAt            string                  `json:"updatedAt"`
	Models               []inferenceProfileModel `json:"models"`
	Status               string                  `json:"status"`
	Type                 string                  `json:"type"`
}

type inferenceProfileModel struct {
	ModelArn string `json:"modelArn"`
}

// serveGetInferenceProfile implements GET /inference-profiles/{id}: a system-defined
// cross-region profile (us.…, global.…, by id or ARN) or an application profile the emulator was
// told about (Options.ApplicationProfiles), each with the foundation model it routes to.
func (e *Emulator) serveGetInferenceProfile(w http.ResponseWriter, r *http.Request) *apiError {
	id := r.PathValue("id")
	notFound := newAPIError(CodeResourceNotFound, "Inference profile "+id+" not found.")
	res, err := e.catalog.Resolve(id)
	if err != nil {
		return notFound
	}
	p := inferenceProfile{
		CreatedAt: "2025-01-01T00:00:00Z", UpdatedAt: "2025-01-01T00:00:00Z", Status: "ACTIVE",
	}
	switch res.Kind {
	case catalog.KindApplicationProfileARN:
		modelID, ok := e.opts.ApplicationProfiles[res.ApplicationProfile]
		if !ok {
			return notFound
		}
		res.Model, _ = e.catalog.Model(modelID) // New checked every mapping
		p.Type, p.InferenceProfileID = "APPLICATION", res.ApplicationProfile
		p.InferenceProfileName = res.ApplicationProfile
		p.InferenceProfileArn = id
	case catalog.KindProfile, catalog.KindProfileARN:
		profile := res.Profile + "." + res.Model.ID
		p.Type, p.InferenceProfileID, p.InferenceProfileName = "SYSTEM_DEFINED", profile, profile
		p.InferenceProfileArn = id
		if res.Kind == catalog.KindProfile {
			p.InferenceProfileArn = "arn:aws:bedrock:" + e.opts.Region + ":" + emulatorAccount + ":inference-profile/" + profile
		}
	default:
		return notFound
	}
	p.Models = []inferenceProfileModel{{ModelArn: "arn:aws:bedrock:" + e.opts.Region + "::foundation-model/" + res.Model.ID}}
	b, _ := json.Marshal(p) // plain data always marshals
	writeJSON(w, newRequestID(), b)
	return nil
}
