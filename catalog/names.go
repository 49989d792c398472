package catalog

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Aliases returns the other names this model answers to, besides its id: the id without provider
// prefix and version suffix (`claude-3-sonnet-20240229`), the same with the provider in LiteLLM's
// friendly form (`anthropic/claude-3-sonnet-20240229`), and the catalog's own short names.
func (m *Model) Aliases() []string {
	out := slices.Clone(m.ExtraAliases)
	provider, name, ok := strings.Cut(m.ID, ".")
	if !ok {
		return out
	}
	// titan-embed-text-v2:0 answers to titan-embed-text-v2 and titan-embed-text.
	noRevision := name
	if i := strings.LastIndex(name, ":"); i > 0 {
		noRevision = name[:i]
	}
	noVersion := noRevision
	if i := strings.LastIndex(noRevision, "-v"); i > 0 && isDigits(noRevision[i+2:]) {
		noVersion = noRevision[:i]
	}
	for _, n := range []string{noVersion, noRevision, name} {
		if !slices.Contains(out, n) {
			out = append(out, n, provider+"/"+n)
		}
	}
	return out
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// Name is a model name resolved for calling Bedrock.
type Name struct {
	// ModelID is what to send to Bedrock: the id, profile id or ARN as given, or for a friendly
	// name the id (or inference profile, for profile-only models) it stands for.
	ModelID string
	// Model is the catalog's entry; nil when the catalog does not know the id.
	Model *Model
	// Routed is true when a profile-only model's bare id was replaced by an inference profile.
	Routed bool
}

// ProfileRouting says how a profile-only model named by its bare id or a friendly name is called.
type ProfileRouting struct {
	// Region picks the geography's profile (us., eu., apac., ...).
	Region string
	// PreferGlobal picks the model's global. profile first, where it has one.
	PreferGlobal bool
	// Off leaves bare ids as written, for Bedrock to refuse ("on-demand throughput isn't
	// supported"); friendly names still resolve to a callable id.
	Off bool
}

// Known reports whether the catalog knows the model, and so its capabilities and price.
func (n Name) Known() bool { return n.Model != nil }

// ErrUnknownName is returned for a friendly name that matches no catalog model.
var ErrUnknownName = errors.New("unknown model name")

// LookupName resolves a model name as users write it:
//   - Bedrock's own forms: a foundation id, a cross-region profile id, an ARN;
//   - LiteLLM's forms: `bedrock/<id>`, `bedrock/converse/<id>`, `bedrock/invoke/<id>`;
//   - friendly names and aliases: `anthropic/claude-3-sonnet-20240229`, `claude-3-sonnet-20240229`.
//
// A name in Bedrock's form that the catalog does not know is passed through unchanged, with a nil
// Model: Bedrock may know it even if Strata does not yet. The bare id of a model Bedrock serves
// only through inference profiles becomes the profile of region's geography, as Bedrock refuses
// the bare id ("on-demand throughput isn't supported"). A friendly name that matches nothing is
// ErrUnknownName. routing picks the inference profile for profile-only models (eu-* → eu., ...).
func (c *Catalog) LookupName(name string, routing ProfileRouting) (Name, error) {
	id := strings.TrimSpace(name)
	for _, prefix := range []string{"bedrock/converse/", "bedrock/invoke/", "bedrock/"} {
		if rest, ok := strings.CutPrefix(id, prefix); ok {
			id = rest
			break
		}
	}
	if id == "" {
		return Name{}, fmt.Errorf("empty model name: %w", ErrUnknownName)
	}
	if res, err := c.Resolve(id); err == nil {
		if res.Kind == KindFoundation && !res.Model.OnDemand && !routing.Off {
			// Bedrock refuses this bare id on demand: call the inference profile that carries it.
			return Name{ModelID: c.callableID(res.Model, routing), Model: res.Model, Routed: true}, nil
		}
		return Name{ModelID: id, Model: res.Model}, nil
	}
	if m := c.alias(id); m != nil {
		return Name{ModelID: c.callableID(m, routing), Model: m}, nil
	}
	if looksLikeBedrockID(id) {
		return Name{ModelID: id}, nil
	}
	return Name{}, fmt.Errorf("%q: %w (use a Bedrock model id such as amazon.nova-micro-v1:0, or a catalog name such as anthropic/claude-sonnet-4-5-20250929)", name, ErrUnknownName)
}

func (c *Catalog) alias(name string) *Model {
	if i, ok := c.byAlias[strings.ToLower(name)]; ok {
		return &c.models[i]
	}
	return nil
}

// callableID is how to call m: its bare id when Bedrock serves it on demand, else the inference
// profile of the region's geography, or global (first, with PreferGlobal), or the first it has.
func (c *Catalog) callableID(m *Model, routing ProfileRouting) string {
	if m.OnDemand || len(m.Profiles) == 0 {
		return m.ID
	}
	order := []string{regionGeography(routing.Region), "global"}
	if routing.PreferGlobal {
		order[0], order[1] = order[1], order[0]
	}
	for _, want := range order {
		if want != "" && slices.Contains(m.Profiles, want) {
			return want + "." + m.ID
		}
	}
	return m.Profiles[0] + "." + m.ID
}

// regionGeography maps an AWS region to the prefix of its cross-region inference profiles.
func regionGeography(region string) string {
	switch {
	case strings.HasPrefix(region, "us-gov-"):
		return "us-gov"
	case strings.HasPrefix(region, "us-"):
		return "us"
	case strings.HasPrefix(region, "eu-"):
		return "eu"
	case region == "ap-northeast-1" || region == "ap-northeast-3":
		return "jp"
	case region == "ap-southeast-2" || region == "ap-southeast-4":
		return "au"
	case strings.HasPrefix(region, "ap-"):
		return "apac"
	case strings.HasPrefix(region, "ca-"):
		return "ca"
	}
	return ""
}

// looksLikeBedrockID reports whether s has the shape of a Bedrock model id (provider.model...) or ARN.
func looksLikeBedrockID(s string) bool {
	if strings.HasPrefix(s, "arn:") {
		return true
	}
	provider, rest, ok := strings.Cut(s, ".")
	return ok && provider != "" && rest != "" && !strings.ContainsAny(s, "/ ")
}

// Cost prices a call's tokens at the model's list price, in US dollars. Cache prices the catalog
// does not list count as zero.
func (p Price) Cost(input, output, cacheRead, cacheWrite int64) float64 {
	const perMillion = 1e-6
	return (float64(input)*p.InputPerMTok +
		float64(output)*p.OutputPerMTok +
		float64(cacheRead)*p.CacheReadPerMTok +
		float64(cacheWrite)*p.CacheWritePerMTok) * perMillion
}
