package bedrock

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"

	"github.com/strata-gateway/strata/backend"
	"github.com/strata-gateway/strata/catalog"
)

// Probe implements [backend.Backend].
//
// Without invoke it asks the control plane, which runs no model: GetFoundationModel for the
// foundation model behind modelID (a cross-region profile or ARN is reduced to its base id, as
// GetFoundationModel takes only those), or ListFoundationModels for an application inference
// profile, whose model only its owner knows; a Provisioned Throughput or custom model ARN is
// looked up as ModelOf does (GetProvisionedModelThroughput, GetCustomModel). This needs
// bedrock:GetFoundationModel / bedrock:ListFoundationModels (and the lookups' permissions) and
// reaches the control-plane endpoint, not the runtime one.
//
// With invoke it runs the model through the runtime plane, which checks what calls will meet:
// a Converse with maxTokens 1, or an embedding of one short text.
func (b *Backend) Probe(ctx context.Context, modelID string, invoke bool) error {
	if modelID == "" {
		return fmt.Errorf("probe: %w", b.invalidf("", "no model id"))
	}
	if invoke {
		return b.probeInvoke(ctx, modelID)
	}
	res, err := b.catalog.Resolve(modelID)
	if err == nil {
		switch res.Kind {
		case catalog.KindApplicationProfileARN:
			if _, err := b.control.ListFoundationModels(ctx, &bedrock.ListFoundationModelsInput{}); err != nil {
				return fmt.Errorf("probe: list foundation models: %w", b.toError(ctx, err, modelID))
			}
			return nil
		case catalog.KindProvisionedARN, catalog.KindCustomModelARN:
			// The lookup ModelOf makes, uncached: it says whether the account has the resource.
			lookup, _ := b.lookupFor(res.Kind)
			if _, err := lookup(ctx, modelID); err != nil {
				return fmt.Errorf("probe: %w", err)
			}
			return nil
		}
	}
	base := baseModelID(modelID)
	if err == nil && res.Model != nil {
		base = res.Model.ID
	}
	if _, err := b.control.GetFoundationModel(ctx, &bedrock.GetFoundationModelInput{ModelIdentifier: aws.String(base)}); err != nil {
		e := b.toError(ctx, err, modelID)
		if e.Kind == backend.KindNotFound || e.Kind == backend.KindInvalid {
			// The control plane's 404 (or 400 for a malformed id) means the model does not exist.
			e.Kind = backend.KindUnknownModel
		}
		return fmt.Errorf("probe: get foundation model %s: %w", base, e)
	}
	return nil
}

func (b *Backend) probeInvoke(ctx context.Context, modelID string) error {
	m := b.resolveModel(modelID, nil)
	if (m != nil && m.IsEmbedding()) || (m == nil && familyOf(modelID, nil) != 0) {
		_, err := b.Embed(ctx, &backend.EmbedRequest{ModelID: modelID, Model: m, Inputs: []string{"ping"}})
		if err != nil {
			return fmt.Errorf("probe: %w", err)
		}
		return nil
	}
	one := 1
	_, err := b.Chat(ctx, &backend.ChatRequest{
		ModelID:   modelID,
		Model:     m,
		Messages:  []backend.Message{{Role: backend.RoleUser, Parts: []backend.Part{{Kind: backend.PartText, Text: "ping"}}}},
		MaxTokens: &one,
	})
	if err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	return nil
}

// baseModelID reduces an id the catalog does not know to the foundation id GetFoundationModel
// takes: `us.vendor.model-v1:0` → `vendor.model-v1:0`; a foundation-model or inference-profile ARN
// → the id after the slash, then the same.
func baseModelID(id string) string {
	if strings.HasPrefix(id, "arn:") {
		if _, rest, ok := strings.Cut(id, "/"); ok {
			id = rest
		}
	}
	if prefix, rest, ok := strings.Cut(id, "."); ok && catalog.IsProfilePrefix(prefix) && strings.Contains(rest, ".") {
		return rest
	}
	return id
}
