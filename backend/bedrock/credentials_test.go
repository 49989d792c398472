package bedrock

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-gateway/strata/backend"
	"github.com/strata-gateway/strata/emulator"
)

// fakeSTS answers AssumeRole and AssumeRoleWithWebIdentity in STS's query protocol with fixed
// temporary keys, and remembers what it was asked.
type fakeSTS struct {
	mu    sync.Mutex
	calls []url.Values
	auth  []string
}

const (
	stsKeyID   = "ASIASTRATAASSUMED"
	stsSecret  = "assumed-secret"
	stsSession = "assumed-session-token"
)

func (f *fakeSTS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.calls = append(f.calls, r.PostForm)
	f.auth = append(f.auth, r.Header.Get("Authorization"))
	f.mu.Unlock()
	action := r.PostForm.Get("Action")
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprintf(w, `<%sResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><%sResult>
<AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/strata/%s</Arn><AssumedRoleId>AROA:x</AssumedRoleId></AssumedRoleUser>
<Credentials><AccessKeyId>%s</AccessKeyId><SecretAccessKey>%s</SecretAccessKey><SessionToken>%s</SessionToken><Expiration>%s</Expiration></Credentials>
</%sResult><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></%sResponse>`,
		action, action, r.PostForm.Get("RoleSessionName"), stsKeyID, stsSecret, stsSession,
		time.Now().Add(time.Hour).UTC().Format(time.RFC3339), action, action)
}

func (f *fakeSTS) last() (url.Values, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 {
		return nil, ""
	}
	return f.calls[len(f.calls)-1], f.auth[len(f.auth)-1]
}

func TestLoadCredentials(t *testing.T) {
	sts := &fakeSTS{}
	stsSrv, err := emulator.Listen("127.0.0.1:0", sts, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer stsSrv.Close()
	hc := NewHTTPClient(PoolOptions{})
	defer hc.CloseIdleConnections()

	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("oidc-token"), 0o600); err != nil {
		t.Fatal(err)
	}
	sharedCreds := filepath.Join(dir, "credentials")
	if err := os.WriteFile(sharedCreds, []byte("[strata-test]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = profile-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sharedConfig := filepath.Join(dir, "config")
	if err := os.WriteFile(sharedConfig, []byte("[profile strata-test]\nregion = eu-central-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The SDK's default chain reads the process environment: point it at the files above only.
	for k, v := range map[string]string{
		"AWS_SHARED_CREDENTIALS_FILE": sharedCreds, "AWS_CONFIG_FILE": sharedConfig, "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "", "AWS_PROFILE": "", "AWS_REGION": "",
		"AWS_DEFAULT_REGION": "", "AWS_ROLE_ARN": "", "AWS_WEB_IDENTITY_TOKEN_FILE": "", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI": "",
	} {
		t.Setenv(k, v)
	}

	tests := []struct {
		name       string
		opts       CredentialOptions
		env        map[string]string
		wantKey    string
		wantToken  string
		wantRegion string
		wantSTS    url.Values // fields the STS call must carry; nil: no STS call
		wantSigned bool
		wantErr    string
	}{
		{name: "static", opts: CredentialOptions{Region: "us-west-2", AccessKeyID: "AKIDSTATIC", SecretAccessKey: "s", SessionToken: "tok"},
			wantKey: "AKIDSTATIC", wantToken: "tok", wantRegion: "us-west-2"},
		{name: "static, default region", opts: CredentialOptions{AccessKeyID: "AKIDSTATIC", SecretAccessKey: "s"},
			wantKey: "AKIDSTATIC", wantRegion: "us-east-1"},
		{name: "static then assume role", opts: CredentialOptions{Region: "us-east-1", AccessKeyID: "AKIDSTATIC", SecretAccessKey: "s",
			RoleARN: "arn:aws:iam::123456789012:role/strata", ExternalID: "ext-1"},
			wantKey: stsKeyID, wantToken: stsSession, wantRegion: "us-east-1",
			wantSTS:    url.Values{"Action": {"AssumeRole"}, "RoleArn": {"arn:aws:iam::123456789012:role/strata"}, "RoleSessionName": {"strata"}, "ExternalId": {"ext-1"}},
			wantSigned: true},
		{name: "web identity", opts: CredentialOptions{Region: "us-east-1", WebIdentityTokenFile: tokenFile, RoleARN: "arn:aws:iam::123456789012:role/irsa", SessionName: "pod-1"},
			wantKey: stsKeyID, wantToken: stsSession, wantRegion: "us-east-1",
			wantSTS: url.Values{"Action": {"AssumeRoleWithWebIdentity"}, "RoleArn": {"arn:aws:iam::123456789012:role/irsa"}, "RoleSessionName": {"pod-1"}, "WebIdentityToken": {"oidc-token"}}},
		{name: "profile", opts: CredentialOptions{Profile: "strata-test"}, wantKey: "AKIDPROFILE", wantRegion: "eu-central-1"},
		{name: "profile then assume role", opts: CredentialOptions{Profile: "strata-test", RoleARN: "arn:aws:iam::123456789012:role/strata"},
			wantKey: stsKeyID, wantRegion: "eu-central-1", wantToken: stsSession,
			wantSTS: url.Values{"Action": {"AssumeRole"}}, wantSigned: true},
		{name: "default chain", env: map[string]string{"AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "env-secret", "AWS_REGION": "ap-south-1"},
			wantKey: "AKIDENV", wantRegion: "ap-south-1"},
		{name: "half a key pair", opts: CredentialOptions{AccessKeyID: "AKID"}, wantErr: "set both"},
		{name: "token file without role", opts: CredentialOptions{WebIdentityTokenFile: tokenFile}, wantErr: "needs a role ARN"},
		{name: "session token alone", opts: CredentialOptions{SessionToken: "t"}, wantErr: "session token needs"},
		{name: "missing profile", opts: CredentialOptions{Profile: "nope"}, wantErr: "shared configuration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			tt.opts.STSEndpoint, tt.opts.HTTPClient = stsSrv.URL, hc
			before, _ := sts.last()
			provider, region, err := LoadCredentials(callCtx(t), tt.opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadCredentials: %v", err)
			}
			if after, _ := sts.last(); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Fatalf("LoadCredentials called STS before any request")
			}
			creds, err := provider.Retrieve(callCtx(t))
			if err != nil {
				t.Fatalf("Retrieve: %v", err)
			}
			if creds.AccessKeyID != tt.wantKey || creds.SessionToken != tt.wantToken || region != tt.wantRegion {
				t.Errorf("key %s token %q region %s, want %s %q %s", creds.AccessKeyID, creds.SessionToken, region, tt.wantKey, tt.wantToken, tt.wantRegion)
			}
			if tt.wantSTS != nil {
				got, auth := sts.last()
				for k, v := range tt.wantSTS {
					if got.Get(k) != v[0] {
						t.Errorf("STS %s = %q, want %q", k, got.Get(k), v[0])
					}
				}
				if signed := strings.HasPrefix(auth, "AWS4-HMAC-SHA256"); signed != tt.wantSigned {
					t.Errorf("STS call signed %v, want %v", signed, tt.wantSigned)
				}
			}
			// Cached: a second Retrieve does not call STS again.
			n := len(sts.calls)
			if _, err := provider.Retrieve(callCtx(t)); err != nil || len(sts.calls) != n {
				t.Errorf("second Retrieve: %v, STS calls %d → %d", err, n, len(sts.calls))
			}
		})
	}
}

// TestAssumedRoleCallsBedrock: the whole path, from keys through STS to a SigV4 request the
// emulator verifies with the assumed keys and session token.
func TestAssumedRoleCallsBedrock(t *testing.T) {
	sts := &fakeSTS{}
	stsSrv, err := emulator.Listen("127.0.0.1:0", sts, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer stsSrv.Close()
	h := newHarness(t, func(eo *emulator.Options, bo *Options) {
		eo.AccessKeyID, eo.SecretAccessKey = stsKeyID, stsSecret
		provider, _, err := LoadCredentials(t.Context(), CredentialOptions{Region: "us-east-1", AccessKeyID: "AKIDBASE", SecretAccessKey: "base",
			RoleARN: "arn:aws:iam::123456789012:role/strata", STSEndpoint: stsSrv.URL, HTTPClient: bo.HTTPClient})
		if err != nil {
			t.Fatal(err)
		}
		bo.Credentials = provider
	})
	for range 3 {
		if _, err := h.b.Chat(callCtx(t), &backend.ChatRequest{ModelID: novaMicro, Messages: []backend.Message{userText("hi")}}); err != nil {
			t.Fatalf("Chat with assumed-role credentials: %v", err)
		}
	}
	if len(sts.calls) != 1 {
		t.Errorf("%d STS calls for 3 requests, want 1 (credentials are cached, never fetched per request)", len(sts.calls))
	}
}
