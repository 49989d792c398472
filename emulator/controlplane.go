package emulator

import (
	"cmp"
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
		ModelArn:                   e.foundationARN(m.ID),
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
		CreatedAt: controlTime, UpdatedAt: controlTime, Status: "ACTIVE",
	}
	switch res.Kind {
	case catalog.KindApplicationProfileARN:
		m, ok := e.ownedModel(res)
		if !ok {
			return notFound
		}
		res.Model = m
		p.Type, p.InferenceProfileID = "APPLICATION", res.ApplicationProfile
		p.InferenceProfileName = res.ApplicationProfile
		p.InferenceProfileArn = id
	case catalog.KindProfile, catalog.KindProfileARN:
		profile := res.Profile + "." + res.Model.ID
		p.Type, p.InferenceProfileID, p.InferenceProfileName = "SYSTEM_DEFINED", profile, profile
		p.InferenceProfileArn = id
		if res.Kind == catalog.KindProfile {
			p.InferenceProfileArn = e.accountARN("inference-profile", profile)
		}
	default:
		return notFound
	}
	p.Models = []inferenceProfileModel{{ModelArn: e.foundationARN(res.Model.ID)}}
	b, _ := json.Marshal(p) // plain data always marshals
	writeJSON(w, newRequestID(), b)
	return nil
}

// ownedModel is the foundation model behind an identifier only its account knows, as the account
// (Options) set it up: an application inference profile, a Provisioned Throughput (of a
// foundation model or of a custom model) or a custom model.
func (e *Emulator) ownedModel(res catalog.Resolution) (*catalog.Model, bool) {
	var id string
	var ok bool
	switch res.Kind {
	case catalog.KindApplicationProfileARN:
		id, ok = e.opts.ApplicationProfiles[res.ApplicationProfile]
	case catalog.KindProvisionedARN:
		id, ok = e.opts.ProvisionedModels[res.Resource]
		if base, custom := e.opts.CustomModels[id]; custom {
			id = base
		}
	case catalog.KindCustomModelARN:
		id, ok = e.opts.CustomModels[res.Resource]
	}
	if !ok {
		return nil, false
	}
	return e.catalog.Model(id) // New checked every mapping
}

// controlTime is the creation and modification time the control plane reports for the
// resources the emulator was told about.
const controlTime = "2025-01-01T00:00:00Z"

func (e *Emulator) foundationARN(id string) string {
	return "arn:aws:bedrock:" + e.opts.Region + "::foundation-model/" + id
}

func (e *Emulator) accountARN(resource, id string) string {
	return "arn:aws:bedrock:" + e.opts.Region + ":" + emulatorAccount + ":" + resource + "/" + id
}

// provisionedModelThroughput is GetProvisionedModelThroughput's answer (bedrock control plane;
// the field names are aws-sdk-go-v2/service/bedrock's deserializer's).
type provisionedModelThroughput struct {
	CreationTime         string `json:"creationTime"`
	DesiredModelArn      string `json:"desiredModelArn"`
	DesiredModelUnits    int    `json:"desiredModelUnits"`
	FoundationModelArn   string `json:"foundationModelArn"`
	LastModifiedTime     string `json:"lastModifiedTime"`
	ModelArn             string `json:"modelArn"`
	ModelUnits           int    `json:"modelUnits"`
	ProvisionedModelArn  string `json:"provisionedModelArn"`
	ProvisionedModelName string `json:"provisionedModelName"`
	Status               string `json:"status"`
}

// serveGetProvisionedModelThroughput implements GET /provisioned-model-throughput/{id}: a
// Provisioned Throughput the emulator was told about (Options.ProvisionedModels), named by its
// ARN or its id (which is also its name here), with the model it serves: modelArn is that model,
// a custom model's ARN when it serves one, and foundationModelArn the foundation model under it.
func (e *Emulator) serveGetProvisionedModelThroughput(w http.ResponseWriter, r *http.Request) *apiError {
	ident := r.PathValue("id")
	key, arn := ident, ""
	if res, err := e.catalog.Resolve(ident); err == nil && res.Kind == catalog.KindProvisionedARN {
		key, arn = res.Resource, ident
	}
	served, ok := e.opts.ProvisionedModels[key]
	m, found := e.ownedModel(catalog.Resolution{Kind: catalog.KindProvisionedARN, Resource: key})
	if !ok || !found {
		// Not a recorded message: the shape is Bedrock's ResourceNotFoundException.
		return newAPIError(CodeResourceNotFound, "Provisioned model "+ident+" not found.")
	}
	modelARN := e.foundationARN(served)
	if _, custom := e.opts.CustomModels[served]; custom {
		modelARN = e.accountARN("custom-model", served)
	}
	p := provisionedModelThroughput{
		CreationTime: controlTime, LastModifiedTime: controlTime,
		DesiredModelArn: modelARN, ModelArn: modelARN, DesiredModelUnits: 1, ModelUnits: 1,
		FoundationModelArn:   e.foundationARN(m.ID),
		ProvisionedModelArn:  cmp.Or(arn, e.accountARN("provisioned-model", key)),
		ProvisionedModelName: key,
		Status:               "InService",
	}
	b, _ := json.Marshal(p) // plain data always marshals
	writeJSON(w, newRequestID(), b)
	return nil
}

// customModel is GetCustomModel's answer (bedrock control plane; the field names are
// aws-sdk-go-v2/service/bedrock's deserializer's), without the training details.
type customModel struct {
	BaseModelArn      string `json:"baseModelArn"`
	CreationTime      string `json:"creationTime"`
	CustomizationType string `json:"customizationType"`
	ModelArn          string `json:"modelArn"`
	ModelName         string `json:"modelName"`
	ModelStatus       string `json:"modelStatus"`
}

// customModelName is the name the emulator gives a custom model: the last part of its id.
func customModelName(key string) string {
	return key[strings.LastIndex(key, "/")+1:]
}

// serveGetCustomModel implements GET /custom-models/{id}: a custom model the emulator was told
// about (Options.CustomModels), named by its ARN, its id or its name, with the foundation model
// it was customized from in baseModelArn.
func (e *Emulator) serveGetCustomModel(w http.ResponseWriter, r *http.Request) *apiError {
	ident, key, arn := r.PathValue("id"), "", ""
	if res, err := e.catalog.Resolve(ident); err == nil && res.Kind == catalog.KindCustomModelARN {
		ident, arn = res.Resource, ident
	}
	for k := range e.opts.CustomModels {
		if k == ident || customModelName(k) == ident {
			key = k
			break
		}
	}
	m, ok := e.ownedModel(catalog.Resolution{Kind: catalog.KindCustomModelARN, Resource: key})
	if !ok {
		// Not a recorded message: the shape is Bedrock's ResourceNotFoundException.
		return newAPIError(CodeResourceNotFound, "Custom model "+r.PathValue("id")+" not found.")
	}
	b, _ := json.Marshal(customModel{ // plain data always marshals
		BaseModelArn: e.foundationARN(m.ID), CreationTime: controlTime, CustomizationType: "FINE_TUNING",
		ModelArn: cmp.Or(arn, e.accountARN("custom-model", key)), ModelName: customModelName(key), ModelStatus: "Active",
	})
	writeJSON(w, newRequestID(), b)
	return nil
}
