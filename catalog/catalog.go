// Package catalog is Strata's plain data about Bedrock models: which ids exist, how AWS lets them be
// called (bare id, cross-region inference profile, ARN), their families, modalities, limits,
// capabilities and prices.
//
// The data lives in models.json, embedded at build time. Both the gateway and the Bedrock emulator
// read it through this package, so the two can never disagree about which models exist.
package catalog

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

//go:embed models.json
var embeddedModels []byte

// Family names a group of models that share one request dialect and one set of native knobs.
type Family string

// The families Strata knows. A family decides the InvokeModel body and the native fields that ride
// in Converse's additionalModelRequestFields.
const (
	FamilyClaude      Family = "claude"
	FamilyNova        Family = "nova"
	FamilyTitanText   Family = "titan-text"
	FamilyLlama       Family = "llama"
	FamilyMistral     Family = "mistral"
	FamilyDeepSeek    Family = "deepseek"
	FamilyGPTOSS      Family = "gpt-oss"
	FamilyQwen        Family = "qwen"
	FamilyOther       Family = "other"
	FamilyTitanEmbed  Family = "titan-embed"
	FamilyCohereEmbed Family = "cohere-embed"
	FamilyNovaEmbed   Family = "nova-embed"
)

// Reasoning names how a model is asked to think, which differs by family.
type Reasoning string

// The reasoning controls Bedrock models expose.
const (
	// ReasoningNone: the model cannot reason.
	ReasoningNone Reasoning = ""
	// ReasoningBudget: Claude up to 4.5, `thinking: {type: enabled, budget_tokens: N}`.
	ReasoningBudget Reasoning = "budget"
	// ReasoningAdaptive: Claude 4.6+, `thinking: {type: adaptive}` with `output_config.effort`.
	ReasoningAdaptive Reasoning = "adaptive"
	// ReasoningNova: Nova 2, `reasoningConfig: {type: enabled, maxReasoningEffort: low|medium|high}`.
	ReasoningNova Reasoning = "nova"
	// ReasoningEffort: gpt-oss, `reasoning_effort: low|medium|high`.
	ReasoningEffort Reasoning = "effort"
	// ReasoningQwen: Qwen 3, `reasoning_config: low|medium|high`.
	ReasoningQwen Reasoning = "qwen"
	// ReasoningAlways: the model always reasons (DeepSeek R1, Kimi K2 Thinking); effort is ignored.
	ReasoningAlways Reasoning = "always"
)

// Model is one Bedrock foundation model.
type Model struct {
	// ID is the foundation model id, as in `anthropic.claude-sonnet-4-5-20250929-v1:0`.
	ID       string `json:"id"`
	Name     string `json:"name"`
	Provider string `json:"provider"`
	Family   Family `json:"family"`
	// InputModalities and OutputModalities use the control plane's words: TEXT, IMAGE, EMBEDDING, ...
	InputModalities  []string `json:"input_modalities"`
	OutputModalities []string `json:"output_modalities"`
	// ContextWindow is the most input tokens the model reads; MaxOutputTokens the largest maxTokens it takes.
	ContextWindow   int  `json:"context_window"`
	MaxOutputTokens int  `json:"max_output_tokens,omitempty"`
	Streaming       bool `json:"streaming"`
	// OnDemand is false for models Bedrock serves only through inference profiles: calling them by
	// their bare id fails with "... with on-demand throughput isn't supported".
	OnDemand bool `json:"on_demand"`
	// Profiles lists the cross-region inference profile prefixes (us, eu, apac, global) that carry it.
	Profiles []string `json:"profiles,omitempty"`
	// CountTokens is true where the CountTokens operation accepts the model.
	CountTokens bool      `json:"count_tokens,omitempty"`
	Reasoning   Reasoning `json:"reasoning,omitempty"`
	Tools       bool      `json:"tools,omitempty"`
	CachePoints bool      `json:"cache_points,omitempty"`
	// MinCacheTokens is the shortest prefix a cache point caches; a shorter one is ignored
	// (Anthropic: 2,048 for Haiku, 1,024 for the others; Nova: 1,000).
	MinCacheTokens int `json:"min_cache_tokens,omitempty"`
	// MaxCachePoints is how many cache points one request may carry, in tools, system and
	// messages together (Bedrock's prompt-caching table: 4 for Claude and Nova); see
	// [Model.CachePointLimit] for a model that does not say.
	MaxCachePoints int `json:"max_cache_points,omitempty"`
	// CachePointFields are where a request may place cache points ("system", "messages",
	// "tools"); empty means all three. Bedrock's prompt-caching table lists system and messages
	// only for Amazon Nova: a cache point after Nova's tool list caches nothing, and is not sent.
	CachePointFields []string `json:"cache_point_fields,omitempty"`
	StructuredOutput bool     `json:"structured_output,omitempty"`
	MaxStopSequences int      `json:"max_stop_sequences,omitempty"`
	// TemperatureOrTopP marks models that refuse temperature and top_p in one request (Claude
	// Opus 4.1 and the 4.5 and later models).
	TemperatureOrTopP bool       `json:"temperature_or_top_p,omitempty"`
	Embedding         *Embedding `json:"embedding,omitempty"`
	Price             Price      `json:"price"`
	// ExtraAliases are short names beyond the ones Aliases derives from the id.
	ExtraAliases []string  `json:"aliases,omitempty"`
	Lifecycle    Lifecycle `json:"lifecycle"`
}

// Embedding describes an embedding model's vectors and batch limits.
type Embedding struct {
	// Dimensions lists the vector sizes the model can return; DefaultDimension is used when none is asked.
	Dimensions       []int `json:"dimensions"`
	DefaultDimension int   `json:"default_dimension"`
	// MaxInputs is how many texts one call takes (1 for Titan, 96 for Cohere).
	MaxInputs int `json:"max_inputs"`
	// MaxInputChars bounds one text's length, where the model documents a bound.
	MaxInputChars int `json:"max_input_chars,omitempty"`
}

// Price is the on-demand list price in US dollars per million tokens (standard tier, us-east-1;
// for models with a RegionalPremium, through the global profile). See pricing.go for the tiers.
type Price struct {
	InputPerMTok      float64 `json:"input_per_mtok"`
	OutputPerMTok     float64 `json:"output_per_mtok,omitempty"`
	CacheReadPerMTok  float64 `json:"cache_read_per_mtok,omitempty"`
	CacheWritePerMTok float64 `json:"cache_write_per_mtok,omitempty"`
	// CacheWrite1hPerMTok is the price of a cache write with a one-hour TTL (cachePoint ttl
	// "1h"), for the models that take one: Anthropic bills it at 2× the input price where a
	// five-minute write (CacheWritePerMTok) costs 1.25×. Zero where the model has no 1h TTL.
	CacheWrite1hPerMTok float64 `json:"cache_write_1h_per_mtok,omitempty"`
	// RegionalPremium is the share added when the call is not routed globally (0.10 for Claude
	// 4.5 and later).
	RegionalPremium float64 `json:"regional_premium,omitempty"`
}

// Lifecycle is the model's lifecycle as the control plane reports it.
type Lifecycle struct {
	Status string `json:"status"` // ACTIVE or LEGACY
	// Start is the start of life as an ISO-8601 date.
	Start string `json:"start,omitempty"`
}

// DefaultMaxCachePoints is the cache-point limit of a model whose entry does not give one:
// Anthropic's four cache_control breakpoints, which Bedrock applies to every model that caches.
const DefaultMaxCachePoints = 4

// CachePointLimit is how many cache points a request to the model may carry: MaxCachePoints,
// or DefaultMaxCachePoints when the catalog does not say.
func (m *Model) CachePointLimit() int {
	if m.MaxCachePoints > 0 {
		return m.MaxCachePoints
	}
	return DefaultMaxCachePoints
}

// CachesTools reports whether a cache point may follow the model's tool list.
func (m *Model) CachesTools() bool {
	return len(m.CachePointFields) == 0 || slices.Contains(m.CachePointFields, "tools")
}

// IsEmbedding reports whether the model returns vectors rather than text.
func (m *Model) IsEmbedding() bool { return m.Embedding != nil }

// HasInput reports whether the model reads the given modality (TEXT, IMAGE, DOCUMENT, ...).
func (m *Model) HasInput(modality string) bool { return slices.Contains(m.InputModalities, modality) }

// Catalog is an immutable set of models, indexed by foundation id.
type Catalog struct {
	models []Model
	byID   map[string]int
	// byAlias maps every lower-cased alias to its model, built once: LookupName runs on every
	// call that names a model.
	byAlias map[string]int
	// pricesAsOf and pricesSource say when and where the prices were read.
	pricesAsOf, pricesSource string
}

// PricesAsOf says when the catalog's prices were read, and from where.
func (c *Catalog) PricesAsOf() (date, source string) { return c.pricesAsOf, c.pricesSource }

// Load returns the catalog embedded in the binary.
func Load() (*Catalog, error) {
	return Parse(embeddedModels)
}

// Parse builds a catalog from JSON of the shape of models.json.
func Parse(data []byte) (*Catalog, error) {
	var file struct {
		// PricesAsOf and PricesSource date and source every price row; tests check them.
		PricesAsOf   string  `json:"prices_as_of"`
		PricesSource string  `json:"prices_source"`
		Models       []Model `json:"models"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		return nil, fmt.Errorf("parse model catalog: %w", err)
	}
	c := &Catalog{models: file.Models, byID: make(map[string]int, len(file.Models)), pricesAsOf: file.PricesAsOf, pricesSource: file.PricesSource}
	for i, m := range file.Models {
		if err := m.validate(); err != nil {
			return nil, fmt.Errorf("model catalog entry %d: %w", i, err)
		}
		if _, dup := c.byID[m.ID]; dup {
			return nil, fmt.Errorf("model catalog: %s is listed twice", m.ID)
		}
		c.byID[m.ID] = i
	}
	c.byAlias = make(map[string]int)
	for i := range c.models {
		for _, a := range c.models[i].Aliases() {
			if _, taken := c.byAlias[strings.ToLower(a)]; !taken { // the first in catalog order wins
				c.byAlias[strings.ToLower(a)] = i
			}
		}
	}
	return c, nil
}

func (m *Model) validate() error {
	switch {
	case m.ID == "" || m.Name == "" || m.Provider == "" || m.Family == "":
		return fmt.Errorf("%q: id, name, provider and family are required", m.ID)
	case m.ContextWindow <= 0:
		return fmt.Errorf("%s: context_window must be positive", m.ID)
	case !m.OnDemand && len(m.Profiles) == 0:
		return fmt.Errorf("%s: a model without on-demand throughput needs at least one profile", m.ID)
	case m.Embedding == nil && m.MaxOutputTokens <= 0:
		return fmt.Errorf("%s: a text model needs max_output_tokens", m.ID)
	case m.Embedding != nil && !slices.Contains(m.Embedding.Dimensions, m.Embedding.DefaultDimension):
		return fmt.Errorf("%s: default_dimension %d is not among dimensions %v", m.ID, m.Embedding.DefaultDimension, m.Embedding.Dimensions)
	}
	for _, p := range m.Profiles {
		if !IsProfilePrefix(p) {
			return fmt.Errorf("%s: unknown profile prefix %q", m.ID, p)
		}
	}
	return nil
}

// Models returns every model, in catalog order. The slice is shared: do not modify it.
func (c *Catalog) Models() []Model { return c.models }

// Model returns the model with the given foundation id.
func (c *Catalog) Model(id string) (*Model, bool) {
	i, ok := c.byID[id]
	if !ok {
		return nil, false
	}
	return &c.models[i], true
}

// IsProfilePrefix reports whether p is the geography of one of Bedrock's system-defined
// cross-region inference profiles, as in `us.` in `us.amazon.nova-micro-v1:0`.
func IsProfilePrefix(p string) bool {
	switch p {
	case "us", "eu", "apac", "global", "us-gov", "jp", "au", "ca":
		return true
	}
	return false
}

// IDKind says how a model identifier named its model.
type IDKind int

// The forms of model identifier Bedrock accepts.
const (
	// KindFoundation is a bare foundation id: `amazon.nova-micro-v1:0`.
	KindFoundation IDKind = iota + 1
	// KindProfile is a cross-region inference profile id: `us.amazon.nova-micro-v1:0`.
	KindProfile
	// KindFoundationARN is `arn:aws:bedrock:REGION::foundation-model/ID`.
	KindFoundationARN
	// KindProfileARN is `arn:aws:bedrock:REGION:ACCOUNT:inference-profile/PROFILE-ID`.
	KindProfileARN
	// KindApplicationProfileARN is `arn:aws:bedrock:REGION:ACCOUNT:application-inference-profile/NAME`:
	// an account's own profile, whose model only its owner knows.
	KindApplicationProfileARN
	// KindProvisionedARN is `arn:aws:bedrock:REGION:ACCOUNT:provisioned-model/ID`: Provisioned
	// Throughput bought for a foundation or custom model, which only its owner knows.
	KindProvisionedARN
	// KindCustomModelARN is `arn:aws:bedrock:REGION:ACCOUNT:custom-model/ID`: a model customized
	// from a foundation model, which only its owner knows.
	KindCustomModelARN
)

// Resolution is what a model identifier resolved to.
type Resolution struct {
	// Model is the foundation model; nil for an application inference profile, a provisioned
	// model or a custom model, whose model only the control plane knows.
	Model *Model
	Kind  IDKind
	// Profile is the cross-region prefix (us, eu, ...) when the id named a system profile.
	Profile string
	// Region is the region named in an ARN.
	Region string
	// ApplicationProfile is the profile's own id for KindApplicationProfileARN.
	ApplicationProfile string
	// Resource is the id after the resource type for KindProvisionedARN and KindCustomModelARN:
	// `abc123` in `…:provisioned-model/abc123`.
	Resource string
}

// ErrUnknownModel is returned for an identifier that names no model Bedrock would accept.
var ErrUnknownModel = errors.New("unknown model identifier")

// Resolve parses a model identifier in any form AWS takes (foundation id, cross-region profile id,
// or ARN) and finds its model.
func (c *Catalog) Resolve(id string) (Resolution, error) {
	if strings.HasPrefix(id, "arn:") {
		return c.resolveARN(id)
	}
	if m, ok := c.Model(id); ok {
		return Resolution{Model: m, Kind: KindFoundation}, nil
	}
	if prefix, rest, ok := strings.Cut(id, "."); ok {
		if m, ok := c.Model(rest); ok && slices.Contains(m.Profiles, prefix) {
			return Resolution{Model: m, Kind: KindProfile, Profile: prefix}, nil
		}
	}
	return Resolution{}, fmt.Errorf("%q: %w", id, ErrUnknownModel)
}

// resolveARN handles `arn:PARTITION:bedrock:REGION:ACCOUNT:TYPE/ID`.
func (c *Catalog) resolveARN(arn string) (Resolution, error) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || !strings.HasPrefix(parts[1], "aws") || parts[2] != "bedrock" || parts[3] == "" {
		return Resolution{}, fmt.Errorf("%q: %w", arn, ErrUnknownModel)
	}
	region, account := parts[3], parts[4]
	resource, name, ok := strings.Cut(parts[5], "/")
	if !ok || name == "" {
		return Resolution{}, fmt.Errorf("%q: %w", arn, ErrUnknownModel)
	}
	switch resource {
	case "foundation-model":
		if m, ok := c.Model(name); ok && account == "" {
			return Resolution{Model: m, Kind: KindFoundationARN, Region: region}, nil
		}
	case "inference-profile":
		if account != "" {
			if r, err := c.Resolve(name); err == nil && r.Kind == KindProfile {
				r.Kind, r.Region = KindProfileARN, region
				return r, nil
			}
		}
	case "application-inference-profile":
		if account != "" {
			return Resolution{Kind: KindApplicationProfileARN, Region: region, ApplicationProfile: name}, nil
		}
	case "provisioned-model":
		if account != "" {
			return Resolution{Kind: KindProvisionedARN, Region: region, Resource: name}, nil
		}
	case "custom-model":
		if account != "" {
			return Resolution{Kind: KindCustomModelARN, Region: region, Resource: name}, nil
		}
	}
	return Resolution{}, fmt.Errorf("%q: %w", arn, ErrUnknownModel)
}
