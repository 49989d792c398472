package bedrock

import (
	"reflect"
	"testing"

	"github.com/strata-gateway/strata/backend"
	"github.com/strata-gateway/strata/emulator"
)

// The account-owned ids TestModelOf configures in the emulator, each over Claude Haiku 4.5.
const (
	ownedARN       = "arn:aws:bedrock:us-east-1:123456789012:"
	ownedCustomID  = claudeHaiku + ":200k/ft0support"
	ownedApp       = ownedARN + "application-inference-profile/app0haiku"
	ownedPT        = ownedARN + "provisioned-model/pt0haiku"
	ownedPTCustom  = ownedARN + "provisioned-model/pt0custom"
	ownedCustom    = ownedARN + "custom-model/" + ownedCustomID
	ownedUnknownPT = ownedARN + "provisioned-model/pt0gone"
	ownedUnknownCM = ownedARN + "custom-model/gone"
)

func ownedModels(eo *emulator.Options, _ *Options) {
	eo.ApplicationProfiles = map[string]string{"app0haiku": claudeHaiku}
	eo.CustomModels = map[string]string{ownedCustomID: claudeHaiku}
	eo.ProvisionedModels = map[string]string{"pt0haiku": claudeHaiku, "pt0custom": ownedCustomID}
}

// TestModelOf: each id only its account knows is looked up once on the control plane and comes
// back as the catalog model behind it, with all its capabilities; Provisioned Throughput and custom
// models without a price (billed per model unit per hour, or not in the catalog). A lookup that
// fails is a typed error, remembered too; an id the catalog places needs no lookup.
func TestModelOf(t *testing.T) {
	h := newHarness(t, ownedModels)
	haiku, _ := h.b.catalog.Model(claudeHaiku)
	tests := []struct {
		name       string
		id         string
		wantOp     string // the control-plane operation, called once for two ModelOf calls
		wantPriced bool
		wantKind   *backend.Kind
	}{
		{"application profile", ownedApp, emulator.OpGetProfile, true, nil},
		{"provisioned throughput", ownedPT, emulator.OpGetProvisioned, false, nil},
		{"provisioned throughput of a custom model", ownedPTCustom, emulator.OpGetProvisioned, false, nil},
		{"custom model", ownedCustom, emulator.OpGetCustomModel, false, nil},
		{"unknown provisioned throughput", ownedUnknownPT, emulator.OpGetProvisioned, false, ptr(backend.KindNotFound)},
		{"unknown custom model", ownedUnknownCM, emulator.OpGetCustomModel, false, ptr(backend.KindNotFound)},
		{"foundation id", claudeHaiku, "", false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := h.emu.Stats()
			for range 2 {
				m, err := h.b.ModelOf(callCtx(t), tt.id)
				switch {
				case tt.wantKind != nil:
					mustKind(t, err, *tt.wantKind)
				case err != nil:
					t.Fatalf("ModelOf(%s): %v", tt.id, err)
				case tt.wantOp == "":
					if m != nil {
						t.Errorf("ModelOf(%s) = %s, want nil: the catalog places it", tt.id, m.ID)
					}
				case m == nil:
					t.Fatalf("ModelOf(%s) = nil, want %s", tt.id, claudeHaiku)
				default:
					if priced := m.Price == haiku.Price; priced != tt.wantPriced {
						t.Errorf("ModelOf(%s) price %+v, want priced %v", tt.id, m.Price, tt.wantPriced)
					}
					same := *m
					same.Price = haiku.Price
					if !reflect.DeepEqual(same, *haiku) {
						t.Errorf("ModelOf(%s) = %+v, want Claude Haiku 4.5's capabilities %+v", tt.id, same, *haiku)
					}
				}
			}
			after := h.emu.Stats()
			for _, op := range []string{emulator.OpGetProfile, emulator.OpGetProvisioned, emulator.OpGetCustomModel} {
				want := int64(0)
				if op == tt.wantOp {
					want = 1
				}
				if n := after.Total(op) - before.Total(op); n != want {
					t.Errorf("%s calls = %d, want %d", op, n, want)
				}
			}
		})
	}
}

// TestFoundationModelARN: a foundation-model ARN names its catalog model also as the
// context-length variant Provisioned Throughput and customization use.
func TestFoundationModelARN(t *testing.T) {
	t.Parallel()
	b := &Backend{catalog: testCatalog(t)}
	tests := []struct{ arn, want string }{
		{"arn:aws:bedrock:us-east-1::foundation-model/" + claudeHaiku, claudeHaiku},
		{"arn:aws:bedrock:us-east-1::foundation-model/" + claude3Haiku + ":200k", claude3Haiku},
		{"arn:aws:bedrock:us-east-1::foundation-model/" + novaMicro + ":128k", novaMicro},
		{"arn:aws:bedrock:us-east-1::foundation-model/" + novaMicro + ":fast", ""},
		{"arn:aws:bedrock:us-east-1::foundation-model/" + novaMicro + ":k", ""},
		{"arn:aws:bedrock:us-east-1::foundation-model/acme.unknown-v1:0:8k", ""},
		{"arn:aws:bedrock:us-east-1:123456789012:custom-model/" + novaMicro, ""},
		{"", ""},
	}
	for _, tt := range tests {
		got := ""
		if m := b.foundationModel(tt.arn); m != nil {
			got = m.ID
		}
		if got != tt.want {
			t.Errorf("foundationModel(%q) = %q, want %q", tt.arn, got, tt.want)
		}
	}
}
