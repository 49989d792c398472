package service

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/strata-gateway/strata/backend"
	"github.com/strata-gateway/strata/catalog"
)

// RouteConfig is one entry of the tag map (CHAT_MODEL_MAP) as configured.
type RouteConfig struct {
	// Key is matched as a substring of the request's tag.
	Key   string
	Model string
	// Temperature and MaxTokens, when set, override the global defaults for this route.
	Temperature *float64
	MaxTokens   *int
	// ReasoningEffort is low, medium or high; anything else is off. It is the effort in force for
	// the route: the config package fills in the global REASONING_EFFORT for entries that set none.
	ReasoningEffort string
	// ReasoningBudget, when positive, is the Claude thinking budget for this route.
	ReasoningBudget int
	// The route's Bedrock options, under what each request sets (see BedrockOptions).
	TopP                          *float64
	TopK                          *int
	Stop                          []string
	ServiceTier                   string
	LatencyOptimized              bool
	GuardrailID, GuardrailVersion string
	GuardrailTrace                bool
	RequestMetadata               map[string]string
	AdditionalFields              map[string]any
	JSONMode                      bool
	AutoCache                     bool
	// Fallbacks are models tried in order when Model fails with a retryable error.
	Fallbacks []string
	// The entry's limits: calls at once, requests and tokens per minute; zero is unlimited.
	LimitConcurrency, LimitRequestsPerMinute, LimitTokensPerMinute int
}

// BedrockOptions are a route's Bedrock request options. A request's own value wins over the
// route's; request metadata and additional fields are merged key by key, the request's winning.
type BedrockOptions struct {
	TopP             *float64
	TopK             *int
	Stop             []string
	ServiceTier      string
	LatencyOptimized bool
	Guardrail        *backend.Guardrail
	RequestMetadata  map[string]string
	AdditionalFields map[string]any
	// JSONMode asks for a JSON object reply when the request asks for no format.
	JSONMode bool
	// AutoCache places prompt-cache points where they pay (backend.ChatRequest.AutoCache).
	AutoCache bool
}

// RouterConfig is what the router is built from: the global defaults and the tag map.
type RouterConfig struct {
	ChatModel       string
	EmbeddingModel  string
	Temperature     *float64
	MaxTokens       *int
	ReasoningEffort string
	Routes          []RouteConfig
	// Region picks inference profiles for friendly names of profile-only models.
	Region string
	// PreferGlobalProfiles routes profile-only models to their global. profile first
	// (PREFER_GLOBAL_PROFILES); ProfileRoutingOff leaves their bare ids as written
	// (INFERENCE_PROFILE_ROUTING=off).
	PreferGlobalProfiles, ProfileRoutingOff bool
}

// Route is a tag map entry or the defaults, with its model resolved against the catalog.
type Route struct {
	// Key is the map key, or "default".
	Key             string
	Model           catalog.Name
	Temperature     *float64
	MaxTokens       *int
	Effort          backend.Effort
	ReasoningBudget int
	Bedrock         BedrockOptions
	// Fallbacks are the models tried in order when Model fails with a retryable error.
	Fallbacks []Fallback
	// Limit bounds the calls through this entry.
	Limit Limit
}

// DefaultRoute is the route key reported when no tag map entry matched.
const DefaultRoute = "default"

// Router picks the model and its parameters for a request: by explicit model, by the first tag
// map key that is a substring of the tag (RD-Agent's semantics, in the order the map was written),
// or the defaults. Precedence for parameters: request > route > global default.
type Router struct {
	chat      Route
	embedding catalog.Name
	routes    []Route
	catalog   *catalog.Catalog
	routing   catalog.ProfileRouting
}

// NewRouter resolves every configured model name. A friendly name that resolves to nothing is an
// error naming the entry; a Bedrock-form id the catalog does not know is accepted, and reported
// in the returned warnings because its capabilities and price are unknown.
func NewRouter(cat *catalog.Catalog, cfg RouterConfig) (*Router, []string, error) {
	r := &Router{catalog: cat, routing: catalog.ProfileRouting{Region: cfg.Region, PreferGlobal: cfg.PreferGlobalProfiles, Off: cfg.ProfileRoutingOff}}
	var errs []error
	var warnings []string
	resolve := func(what, name string) catalog.Name {
		n, err := cat.LookupName(name, r.routing)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", what, err))
			return n
		}
		if !n.Known() {
			warnings = append(warnings, fmt.Sprintf("%s: model %s is not in Strata's catalog: its capabilities and price are unknown, so its replies carry price_unknown and a cost_usd of 0", what, n.ModelID))
		}
		return n
	}
	r.chat = Route{
		Key:         DefaultRoute,
		Model:       resolve("CHAT_MODEL", cfg.ChatModel),
		Temperature: cfg.Temperature,
		MaxTokens:   cfg.MaxTokens,
		Effort:      parseEffort(cfg.ReasoningEffort),
	}
	r.embedding = resolve("EMBEDDING_MODEL", cfg.EmbeddingModel)
	for _, rc := range cfg.Routes {
		r.routes = append(r.routes, Route{
			Key:             rc.Key,
			Model:           resolve(fmt.Sprintf("CHAT_MODEL_MAP[%q].model", rc.Key), rc.Model),
			Temperature:     rc.Temperature,
			MaxTokens:       rc.MaxTokens,
			Effort:          parseEffort(rc.ReasoningEffort),
			ReasoningBudget: rc.ReasoningBudget,
			Bedrock:         bedrockOptions(rc),
			Fallbacks:       r.fallbacks(fmt.Sprintf("CHAT_MODEL_MAP[%q].fallbacks", rc.Key), rc.Fallbacks, &errs),
			Limit:           Limit{Concurrency: rc.LimitConcurrency, RequestsPerMinute: rc.LimitRequestsPerMinute, TokensPerMinute: rc.LimitTokensPerMinute},
		})
	}
	return r, warnings, errors.Join(errs...)
}

// Fallback is a model to try when a route's model fails: another model or profile, or the same
// model in another region (model@region).
type Fallback struct {
	catalog.Name
	// Region is the region to call it in; "" for Strata's own.
	Region string
}

// fallbacks resolves a route's fallbacks, each named in errors by its place in the list. A name
// with @region is resolved for that region (a profile-only model gets that region's profile).
func (r *Router) fallbacks(what string, names []string, errs *[]error) []Fallback {
	var out []Fallback
	for i, name := range names {
		at := fmt.Sprintf("%s[%d]", what, i)
		fb := Fallback{}
		routing := r.routing
		if base, region, ok := strings.Cut(name, "@"); ok {
			if !regionPattern.MatchString(region) {
				*errs = append(*errs, fmt.Errorf("%s: %q: %q is not an AWS region such as us-west-2", at, name, region))
				continue
			}
			name, fb.Region, routing.Region = base, region, region
		}
		n, err := r.catalog.LookupName(name, routing)
		if err != nil {
			*errs = append(*errs, fmt.Errorf("%s: %w", at, err))
			continue
		}
		fb.Name = n
		out = append(out, fb)
	}
	return out
}

// regionPattern is the shape of an AWS region: us-east-1, eu-central-2, ap-southeast-4, us-gov-west-1.
var regionPattern = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d+$`)

func bedrockOptions(rc RouteConfig) BedrockOptions {
	o := BedrockOptions{
		TopP: rc.TopP, TopK: rc.TopK, Stop: rc.Stop, ServiceTier: rc.ServiceTier, LatencyOptimized: rc.LatencyOptimized,
		RequestMetadata: rc.RequestMetadata, AdditionalFields: rc.AdditionalFields, JSONMode: rc.JSONMode,
		AutoCache: rc.AutoCache,
	}
	if rc.GuardrailID != "" {
		o.Guardrail = &backend.Guardrail{ID: rc.GuardrailID, Version: rc.GuardrailVersion, Trace: rc.GuardrailTrace}
	}
	return o
}

// parseEffort reads RD-Agent's reasoning_effort: low, medium or high; anything else is off.
func parseEffort(s string) backend.Effort {
	switch e := backend.Effort(strings.ToLower(strings.TrimSpace(s))); e {
	case backend.EffortLow, backend.EffortMedium, backend.EffortHigh:
		return e
	}
	return backend.EffortNone
}

// match returns the route for tag: the first map entry whose key is a substring of it, else the defaults.
func (r *Router) match(tag string) Route {
	for _, rt := range r.routes {
		if strings.Contains(tag, rt.Key) {
			// Unset values of the entry fall back to the global defaults.
			if rt.Temperature == nil {
				rt.Temperature = r.chat.Temperature
			}
			if rt.MaxTokens == nil {
				rt.MaxTokens = r.chat.MaxTokens
			}
			return rt
		}
	}
	return r.chat
}

// chatRoute resolves a chat request's route; an explicit model wins over the route's.
func (r *Router) chatRoute(tag, model string) (Route, error) {
	rt := r.match(tag)
	if model != "" {
		n, err := r.catalog.LookupName(model, r.routing)
		if err != nil {
			return Route{}, err
		}
		rt.Model = n
	}
	return rt, nil
}

// embeddingModel resolves an embed request's model: explicit, else a tag route whose model
// embeds, else EMBEDDING_MODEL.
func (r *Router) embeddingModel(tag, model string) (catalog.Name, string, error) {
	if model != "" {
		n, err := r.catalog.LookupName(model, r.routing)
		return n, DefaultRoute, err
	}
	if tag != "" {
		if rt := r.match(tag); rt.Key != DefaultRoute && rt.Model.Model != nil && rt.Model.Model.IsEmbedding() {
			return rt.Model, rt.Key, nil
		}
	}
	return r.embedding, DefaultRoute, nil
}

// Routes returns the tag map as resolved, in match order.
func (r *Router) Routes() []Route { return r.routes }

// Defaults returns the default chat route and embedding model.
func (r *Router) Defaults() (Route, catalog.Name) { return r.chat, r.embedding }
