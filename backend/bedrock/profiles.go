package bedrock

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"

	"github.com/strata-gateway/strata/catalog"
)

// profileModels caches the models behind the ids ModelOf resolves (application inference
// profiles, Provisioned Throughput, custom models): an id's model does not change, and each
// lookup is a control-plane call with its own, low, quota. A failure is remembered for
// profileRetryAfter, so that a role without the permission does not pay for the call on every
// request.
type profileModels struct {
	mu     sync.Mutex
	models map[string]profileModel
}

type profileModel struct {
	model *catalog.Model
	err   error
	until time.Time // for a failure: when to ask again
}

// profileRetryAfter is how long a failed lookup stands before it is tried again.
const profileRetryAfter = time.Minute

// maxProfileModels bounds the cache; ids come from callers.
const maxProfileModels = 1024

// ModelOf implements [backend.Backend]: an id only its account knows is resolved to its foundation
// model on the control plane, once per id, so that every capability rule (reasoning, caching,
// structured output, temperature or top_p, output limits) follows the model behind it:
//   - an application inference profile ARN with GetInferenceProfile (bedrock:GetInferenceProfile),
//     priced as its model;
//   - a Provisioned Throughput ARN (`…:provisioned-model/ID`) with GetProvisionedModelThroughput
//     (bedrock:GetProvisionedModelThroughput), whose foundationModelArn names the foundation model
//     also when the throughput serves a custom model;
//   - a custom model ARN (`…:custom-model/…`) with GetCustomModel (bedrock:GetCustomModel), whose
//     baseModelArn names the model it was customized from.
//
// The last two come without a price (see unpriced). Any other id needs no asking: nil.
func (b *Backend) ModelOf(ctx context.Context, modelID string) (*catalog.Model, error) {
	res, err := b.catalog.Resolve(modelID)
	if err != nil {
		return nil, nil
	}
	lookup, unpricedWhy := b.lookupFor(res.Kind)
	if lookup == nil {
		return nil, nil
	}
	now := time.Now()
	b.profiles.mu.Lock()
	cached, ok := b.profiles.models[modelID]
	b.profiles.mu.Unlock()
	if ok && (cached.err == nil || now.Before(cached.until)) {
		return cached.model, cached.err
	}
	m, err := lookup(ctx, modelID)
	if ctx.Err() != nil {
		return m, err // this caller went away: its failure says nothing of the id
	}
	if m != nil && unpricedWhy != "" {
		// Said once per id, as the answer is cached: why a model Strata knows has no price here.
		b.log.InfoContext(ctx, unpricedWhy, "model", modelID, "foundation_model", m.ID)
		m = unpriced(m)
	}
	entry := profileModel{model: m, err: err, until: now.Add(profileRetryAfter)}
	b.profiles.mu.Lock()
	if b.profiles.models == nil {
		b.profiles.models = map[string]profileModel{}
	}
	if _, known := b.profiles.models[modelID]; known || len(b.profiles.models) < maxProfileModels {
		b.profiles.models[modelID] = entry // a model the catalog does not know (nil) stays unknown
	}
	b.profiles.mu.Unlock()
	return m, err
}

// lookupFor is how ModelOf resolves an id of kind: the control-plane lookup (nil for a kind
// that needs none) and, for the kinds the catalog cannot price, why (see unpriced).
func (b *Backend) lookupFor(kind catalog.IDKind) (lookup func(context.Context, string) (*catalog.Model, error), unpricedWhy string) {
	switch kind {
	case catalog.KindApplicationProfileARN:
		return b.lookupProfile, ""
	case catalog.KindProvisionedARN:
		return b.lookupProvisioned, "Provisioned Throughput is billed per model unit per hour, not per token: calls through it report cost_usd 0 with price_unknown"
	case catalog.KindCustomModelARN:
		return b.lookupCustomModel, "the catalog prices foundation models only, not a custom model customized from one: calls to it report cost_usd 0 with price_unknown"
	}
	return nil, ""
}

// lookupProfile asks the control plane for a profile's foundation model.
func (b *Backend) lookupProfile(ctx context.Context, modelID string) (*catalog.Model, error) {
	out, err := b.control.GetInferenceProfile(ctx, &bedrock.GetInferenceProfileInput{InferenceProfileIdentifier: aws.String(modelID)})
	if err != nil {
		return nil, fmt.Errorf("get inference profile: %w", b.toError(ctx, err, modelID))
	}
	for _, pm := range out.Models {
		if m := b.foundationModel(aws.ToString(pm.ModelArn)); m != nil {
			return m, nil
		}
	}
	return nil, nil
}

// lookupProvisioned asks the control plane for the foundation model under a Provisioned
// Throughput.
func (b *Backend) lookupProvisioned(ctx context.Context, modelID string) (*catalog.Model, error) {
	out, err := b.control.GetProvisionedModelThroughput(ctx, &bedrock.GetProvisionedModelThroughputInput{ProvisionedModelId: aws.String(modelID)})
	if err != nil {
		return nil, fmt.Errorf("get provisioned model throughput: %w", b.toError(ctx, err, modelID))
	}
	return b.foundationModel(aws.ToString(out.FoundationModelArn)), nil
}

// lookupCustomModel asks the control plane for the foundation model a custom model was
// customized from.
func (b *Backend) lookupCustomModel(ctx context.Context, modelID string) (*catalog.Model, error) {
	out, err := b.control.GetCustomModel(ctx, &bedrock.GetCustomModelInput{ModelIdentifier: aws.String(modelID)})
	if err != nil {
		return nil, fmt.Errorf("get custom model: %w", b.toError(ctx, err, modelID))
	}
	return b.foundationModel(aws.ToString(out.BaseModelArn)), nil
}

// unpriced is m without a price. Provisioned Throughput is billed per model unit per hour, not per
// token, and the catalog lists foundation models' on-demand prices only, not a custom model's: the
// base model's price for either would be a guess, so the service reports their calls as cost_usd 0
// with price_unknown, as for any model it cannot price (service priceUnknown).
func unpriced(m *catalog.Model) *catalog.Model {
	c := *m
	c.Price = catalog.Price{}
	return &c
}

// foundationModel finds the catalog model a foundation-model ARN names. Provisioned Throughput
// and customization name a model by its variant with a context length
// (`anthropic.claude-3-haiku-20240307-v1:0:200k`, `amazon.nova-micro-v1:0:128k`), which the
// catalog knows by its on-demand id.
func (b *Backend) foundationModel(arn string) *catalog.Model {
	_, id, ok := strings.Cut(arn, ":foundation-model/")
	if !ok {
		return nil
	}
	if m, ok := b.catalog.Model(id); ok {
		return m
	}
	if i := strings.LastIndex(id, ":"); i > 0 && isContextVariant(id[i+1:]) {
		if m, ok := b.catalog.Model(id[:i]); ok {
			return m
		}
	}
	return nil
}

// isContextVariant reports a context-length suffix: digits and k (`200k`, `8k`).
func isContextVariant(s string) bool {
	n, ok := strings.CutSuffix(s, "k")
	if !ok || n == "" {
		return false
	}
	for _, r := range n {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
