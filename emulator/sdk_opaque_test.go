package emulator

import (
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	bedrocktypes "github.com/aws/aws-sdk-go-v2/service/bedrock/types"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
)

// The account-owned ids these tests configure: Provisioned Throughput of a foundation model and of
// a custom model, and the custom model, each over Claude Sonnet 4.5 (served only through inference
// profiles on demand, so a provisioned id must not be refused as on-demand).
const (
	sdkPTID         = "pt0sonnet0a1b2"
	sdkPTCustomID   = "pt0custom0c3d4"
	sdkCustomID     = sdkSonnet45Bare + ":200k/ft0research01"
	sdkCustomName   = "ft0research01"
	sdkPTARN        = sdkRegionARN + ":" + sdkAccount + ":provisioned-model/" + sdkPTID
	sdkPTCustomARN  = sdkRegionARN + ":" + sdkAccount + ":provisioned-model/" + sdkPTCustomID
	sdkCustomARN    = sdkRegionARN + ":" + sdkAccount + ":custom-model/" + sdkCustomID
	sdkSonnetFMARN  = "arn:aws:bedrock:us-east-1::foundation-model/" + sdkSonnet45Bare
	sdkUnknownPTARN = sdkRegionARN + ":" + sdkAccount + ":provisioned-model/nosuchpt"
	sdkUnknownCMARN = sdkRegionARN + ":" + sdkAccount + ":custom-model/nosuchmodel"
)

func sdkOwnedOptions() Options {
	return Options{
		CustomModels:      map[string]string{sdkCustomID: sdkSonnet45Bare},
		ProvisionedModels: map[string]string{sdkPTID: sdkSonnet45Bare, sdkPTCustomID: sdkCustomID},
	}
}

// TestGetProvisionedModelThroughput: the SDK's GetProvisionedModelThroughput reads the model a
// Provisioned Throughput serves (modelArn) and the foundation model under it (foundationModelArn),
// by ARN or by id; an unknown one is a typed ResourceNotFoundException.
func TestGetProvisionedModelThroughput(t *testing.T) {
	t.Parallel()
	te := sdkStart(t, sdkOwnedOptions())
	tests := []struct {
		name, id, wantModelARN, wantARN string
	}{
		{"foundation model by ARN", sdkPTARN, sdkSonnetFMARN, sdkPTARN},
		{"foundation model by id", sdkPTID, sdkSonnetFMARN, "arn:aws:bedrock:us-east-1:" + emulatorAccount + ":provisioned-model/" + sdkPTID},
		{"custom model by ARN", sdkPTCustomARN, "arn:aws:bedrock:us-east-1:" + emulatorAccount + ":custom-model/" + sdkCustomID, sdkPTCustomARN},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, err := te.control.GetProvisionedModelThroughput(testContext(t), &bedrock.GetProvisionedModelThroughputInput{ProvisionedModelId: aws.String(tt.id)})
			if err != nil {
				t.Fatalf("GetProvisionedModelThroughput(%s): %v", tt.id, err)
			}
			if got := aws.ToString(out.FoundationModelArn); got != sdkSonnetFMARN {
				t.Errorf("foundationModelArn = %q, want %q", got, sdkSonnetFMARN)
			}
			if got := aws.ToString(out.ModelArn); got != tt.wantModelARN || aws.ToString(out.DesiredModelArn) != got {
				t.Errorf("modelArn = %q, desiredModelArn = %q, want %q", got, aws.ToString(out.DesiredModelArn), tt.wantModelARN)
			}
			if got := aws.ToString(out.ProvisionedModelArn); got != tt.wantARN {
				t.Errorf("provisionedModelArn = %q, want %q", got, tt.wantARN)
			}
			if out.Status != bedrocktypes.ProvisionedModelStatusInService || aws.ToInt32(out.ModelUnits) != 1 || out.CreationTime == nil ||
				out.LastModifiedTime == nil || aws.ToString(out.ProvisionedModelName) == "" {
				t.Errorf("status %q, units %d, created %v, modified %v, name %q: want every required field", out.Status,
					aws.ToInt32(out.ModelUnits), out.CreationTime, out.LastModifiedTime, aws.ToString(out.ProvisionedModelName))
			}
		})
	}
	for _, id := range []string{sdkUnknownPTARN, "nosuchpt", sdkSonnet45Bare} {
		_, err := te.control.GetProvisionedModelThroughput(testContext(t), &bedrock.GetProvisionedModelThroughputInput{ProvisionedModelId: aws.String(id)})
		sdkCheckAPIError(t, err, CodeResourceNotFound, http.StatusNotFound, "not found")
	}
}

// TestGetCustomModel: the SDK's GetCustomModel reads the foundation model a custom model was
// customized from (baseModelArn), by ARN, id or name; an unknown one is a typed
// ResourceNotFoundException.
func TestGetCustomModel(t *testing.T) {
	t.Parallel()
	te := sdkStart(t, sdkOwnedOptions())
	for _, id := range []string{sdkCustomARN, sdkCustomID, sdkCustomName} {
		out, err := te.control.GetCustomModel(testContext(t), &bedrock.GetCustomModelInput{ModelIdentifier: aws.String(id)})
		if err != nil {
			t.Fatalf("GetCustomModel(%s): %v", id, err)
		}
		if got := aws.ToString(out.BaseModelArn); got != sdkSonnetFMARN {
			t.Errorf("GetCustomModel(%s) baseModelArn = %q, want %q", id, got, sdkSonnetFMARN)
		}
		if !strings.HasSuffix(aws.ToString(out.ModelArn), ":custom-model/"+sdkCustomID) || aws.ToString(out.ModelName) != sdkCustomName ||
			out.ModelStatus != bedrocktypes.ModelStatusActive || out.CustomizationType != bedrocktypes.CustomizationTypeFineTuning || out.CreationTime == nil {
			t.Errorf("GetCustomModel(%s) = arn %q, name %q, status %q, type %q, created %v", id, aws.ToString(out.ModelArn),
				aws.ToString(out.ModelName), out.ModelStatus, out.CustomizationType, out.CreationTime)
		}
	}
	for _, id := range []string{sdkUnknownCMARN, "nosuchmodel", sdkSonnet45Bare} {
		_, err := te.control.GetCustomModel(testContext(t), &bedrock.GetCustomModelInput{ModelIdentifier: aws.String(id)})
		sdkCheckAPIError(t, err, CodeResourceNotFound, http.StatusNotFound, "not found")
	}
}

// TestOwnedModelRuntime: Converse, ConverseStream, InvokeModel and CountTokens on a Provisioned
// Throughput or custom model ARN are served as the foundation model behind it, thinking
// included, exactly as under its inference profile; an ARN the account does not have is
// Bedrock's "The provided model identifier is invalid." (bedrock-wire.md §1.3).
func TestOwnedModelRuntime(t *testing.T) {
	t.Parallel()
	te := sdkStart(t, sdkOwnedOptions())
	const prompt = "Think it through: which id did you get?"
	ask := func(model string) *bedrockruntime.ConverseInput {
		in := sdkAsk(model, prompt)
		in.AdditionalModelRequestFields = sdkThinking(1024)
		in.InferenceConfig = &types.InferenceConfiguration{MaxTokens: aws.Int32(2048)}
		return in
	}
	want := sdkReplyText(t, sdkConverse(t, te, ask(sdkSonnet45)))
	wantCount, err := te.runtime.CountTokens(testContext(t), &bedrockruntime.CountTokensInput{ModelId: aws.String(sdkSonnet45),
		Input: &types.CountTokensInputMemberConverse{Value: types.ConverseTokensRequest{Messages: ask(sdkSonnet45).Messages}}})
	if err != nil {
		t.Fatalf("CountTokens: %v", err)
	}
	tests := []struct{ name, id string }{
		{"provisioned throughput", sdkPTARN},
		{"provisioned throughput of a custom model", sdkPTCustomARN},
		{"custom model", sdkCustomARN},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id := tt.id
			out := sdkConverse(t, te, ask(id))
			if got := sdkReplyText(t, out); got != want {
				t.Errorf("Converse reply = %q, want Claude Sonnet 4.5's %q", got, want)
			}
			if text, sig := sdkReasoning(t, out); text == "" || sig == "" {
				t.Errorf("reasoning %q, signature %q: want Claude's signed thinking", text, sig)
			}
			if s := sdkFold(t, sdkStream(t, te, ask(id))); s.text != want || s.reasoning == "" {
				t.Errorf("ConverseStream text %q, reasoning %q: want the Converse reply with thinking", s.text, s.reasoning)
			}
			resp, _ := sdkInvoke(t, te, id, sdkClaudeBody(prompt, nil))
			if resp["type"] != "message" || resp["role"] != "assistant" {
				t.Errorf("InvokeModel = %v, want an Anthropic message", resp)
			}
			ct, err := te.runtime.CountTokens(testContext(t), &bedrockruntime.CountTokensInput{ModelId: aws.String(id),
				Input: &types.CountTokensInputMemberConverse{Value: types.ConverseTokensRequest{Messages: ask(id).Messages}}})
			if err != nil || sdkI32(ct.InputTokens) != sdkI32(wantCount.InputTokens) {
				t.Errorf("CountTokens = %v, %v; want %d", ct, err, sdkI32(wantCount.InputTokens))
			}
		})
	}
	for _, id := range []string{sdkUnknownPTARN, sdkUnknownCMARN} {
		_, err := te.runtime.Converse(testContext(t), sdkAsk(id, prompt))
		sdkCheckAPIError(t, err, CodeValidation, http.StatusBadRequest, "The provided model identifier is invalid.")
	}
}

// TestNewOwnedModels: New refuses an account-owned id routed to a model the catalog lacks.
func TestNewOwnedModels(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{"custom model of an unknown model", Options{CustomModels: map[string]string{"c": "acme.nope-v1:0"}}, "custom model c"},
		{"provisioned model of an unknown model", Options{ProvisionedModels: map[string]string{"p": "acme.nope-v1:0"}}, "provisioned model p"},
		{"provisioned model of a custom model", sdkOwnedOptions(), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(tt.opts)
			if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("New: %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}
