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

// profileModels caches what application inference profiles route to: a profile's model does not
// change, and GetInferenceProfile is a control-plane call with its own, low, quota. A failure is
// remembered for profileRetryAfter, so that a role without the permission does not pay for the
// call on every request.
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

// ModelOf implements [backend.Backend]: an application inference profile ARN is resolved to its
// foundation model with GetInferenceProfile (bedrock:GetInferenceProfile), once per profile, so
// that every capability rule (reasoning, caching, structured output, temperature or top_p, output
// limits) and the price follow the model behind it. Any other id needs no asking: nil.
func (b *Backend) ModelOf(ctx context.Context, modelID string) (*catalog.Model, error) {
	res, err := b.catalog.Resolve(modelID)
	if err != nil || res.Kind != catalog.KindApplicationProfileARN {
		return nil, nil
	}
	now := time.Now()
	b.profiles.mu.Lock()
	cached, ok := b.profiles.models[modelID]
	b.profiles.mu.Unlock()
	if ok && (cached.err == nil || now.Before(cached.until)) {
		return cached.model, cached.err
	}
	m, err := b.lookupProfile(ctx, modelID)
	if ctx.Err() != nil {
		return m, err // this caller went away: its failure says nothing of the profile
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

// lookupProfile asks the control plane for a profile's foundation model.
func (b *Backend) lookupProfile(ctx context.Context, modelID string) (*catalog.Model, error) {
	out, err := b.control.GetInferenceProfile(ctx, &bedrock.GetInferenceProfileInput{InferenceProfileIdentifier: aws.String(modelID)})
	if err != nil {
		return nil, fmt.Errorf("get inference profile: %w", b.toError(ctx, err, modelID))
	}
	for _, pm := range out.Models {
		if _, id, found := strings.Cut(aws.ToString(pm.ModelArn), "foundation-model/"); found {
			if m, ok := b.catalog.Model(id); ok {
				return m, nil
			}
		}
	}
	return nil, nil
}
