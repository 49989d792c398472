package emulator

import (
	"bytes"
	"context"
	"io"
	"net/http"
	neturl "net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	smithyauth "github.com/aws/smithy-go/auth"
	"github.com/aws/smithy-go/auth/bearer"
)

// TestSigV4SDK drives signature verification with the real SDK signing each request.
func TestSigV4SDK(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name              string
		opts              Options
		key, secret       string
		session           string
		model             string
		wantCode          string // "" means success
		wantMessagePrefix string
	}{
		{name: "right key", opts: txSigV4Options(), key: testAccessKey, secret: testSecretKey, model: txModel},
		{name: "right key with a session token", opts: txSigV4Options(), key: testAccessKey, secret: testSecretKey, session: "SESSIONTOKEN", model: txModel},
		{name: "wrong secret", opts: txSigV4Options(), key: testAccessKey, secret: "not-the-secret", model: txModel,
			wantCode: CodeInvalidSignature, wantMessagePrefix: "The request signature we calculated does not match"},
		{name: "unknown access key id", opts: txSigV4Options(), key: "AKIDSOMEONEELSE", secret: testSecretKey, model: txModel,
			wantCode: CodeUnrecognizedClient, wantMessagePrefix: "The security token included in the request is invalid."},
		{name: "foundation-model ARN (path-escaped) verifies", opts: txSigV4Options(), key: testAccessKey, secret: testSecretKey,
			model: "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0"},
		{name: "inference-profile ARN verifies", opts: txSigV4Options(), key: testAccessKey, secret: testSecretKey,
			model: "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-micro-v1:0"},
		{name: "application-inference-profile ARN verifies",
			opts: Options{AccessKeyID: testAccessKey, SecretAccessKey: testSecretKey, ApplicationProfiles: map[string]string{"abc123xyz": txModel}},
			key:  testAccessKey, secret: testSecretKey,
			model: "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123xyz"},
		{name: "ARN with a wrong secret is still refused", opts: txSigV4Options(), key: testAccessKey, secret: "nope",
			model: "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0", wantCode: CodeInvalidSignature},
		{name: "emulator clock 10 minutes ahead: signature expired",
			opts: Options{AccessKeyID: testAccessKey, SecretAccessKey: testSecretKey, Now: func() time.Time { return time.Now().Add(10 * time.Minute) }},
			key:  testAccessKey, secret: testSecretKey, model: txModel,
			wantCode: CodeInvalidSignature, wantMessagePrefix: "Signature expired: "},
		{name: "emulator clock 10 minutes behind: not yet current",
			opts: Options{AccessKeyID: testAccessKey, SecretAccessKey: testSecretKey, Now: func() time.Time { return time.Now().Add(-10 * time.Minute) }},
			key:  testAccessKey, secret: testSecretKey, model: txModel,
			wantCode: CodeInvalidSignature, wantMessagePrefix: "Signature not yet current: "},
		{name: "clock 4 minutes ahead is within the 5-minute skew",
			opts: Options{AccessKeyID: testAccessKey, SecretAccessKey: testSecretKey, Now: func() time.Time { return time.Now().Add(4 * time.Minute) }},
			key:  testAccessKey, secret: testSecretKey, model: txModel},
		{name: "MaxClockSkew narrows the window",
			opts: Options{AccessKeyID: testAccessKey, SecretAccessKey: testSecretKey, MaxClockSkew: time.Minute, Now: func() time.Time { return time.Now().Add(2 * time.Minute) }},
			key:  testAccessKey, secret: testSecretKey, model: txModel,
			wantCode: CodeInvalidSignature, wantMessagePrefix: "Signature expired: "},
		{name: "demo mode accepts any key and secret", opts: Options{}, key: "AKIDANYONE", secret: "anything", model: txModel},
		{name: "demo mode still refuses an expired signature",
			opts: Options{Now: func() time.Time { return time.Now().Add(10 * time.Minute) }}, key: "AKIDANYONE", secret: "anything", model: txModel,
			wantCode: CodeInvalidSignature, wantMessagePrefix: "Signature expired: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			emu, srv := txServe(t, tt.opts, nil)
			client := bedrockruntime.New(bedrockruntime.Options{
				Region:       "us-east-1",
				BaseEndpoint: aws.String(srv.URL),
				Credentials:  credentials.NewStaticCredentialsProvider(tt.key, tt.secret, tt.session),
				Retryer:      aws.NopRetryer{},
				HTTPClient:   txHTTPClient(t, nil),
			})
			_, err := client.Converse(testContext(t), txConverse(tt.model, "hello"))
			code, status := txAPIError(err)
			if code != tt.wantCode {
				t.Fatalf("Converse error = %v (code %q), want code %q", err, code, tt.wantCode)
			}
			if tt.wantCode == "" {
				if got := emu.Stats().Count(OpConverse, outcomeOK); got != 1 {
					t.Errorf("stats count %d ok, want 1", got)
				}
				return
			}
			if status != http.StatusForbidden {
				t.Errorf("status = %d, want 403", status)
			}
			if !strings.Contains(err.Error(), tt.wantMessagePrefix) {
				t.Errorf("error %q does not contain %q", err, tt.wantMessagePrefix)
			}
			if strings.Contains(err.Error(), tt.secret) {
				t.Errorf("error %q echoes the secret", err)
			}
			if got := emu.Stats().Count(OpConverse, tt.wantCode); got != 1 {
				t.Errorf("stats count %d %s, want 1", got, tt.wantCode)
			}
		})
	}
}

// TestSigV4Raw covers what the SDK never sends on its own: a body changed after signing, a
// signature scoped to another service or time, and requests without or with a broken Authorization.
func TestSigV4Raw(t *testing.T) {
	t.Parallel()
	_, srv := txServe(t, txSigV4Options(), nil)
	_, demo := txServe(t, Options{}, nil)
	creds := aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecretKey}
	path := "/model/" + txEscape(txModel) + "/converse"
	tampered := bytes.Replace(txConverseBody, []byte("hello"), []byte("HELLO"), 1)

	tests := []struct {
		name        string
		url         string
		build       func(t *testing.T, ctx context.Context, url string) *http.Request
		wantStatus  int
		wantCode    string
		wantMessage string
	}{
		{
			name: "signed request passes", url: srv.URL,
			build: func(t *testing.T, ctx context.Context, url string) *http.Request {
				return txSigned(t, ctx, url+path, txConverseBody, creds, "bedrock", time.Now())
			},
			wantStatus: http.StatusOK,
		},
		{
			name: "ARN id passes, escaped as one path segment", url: srv.URL,
			build: func(t *testing.T, ctx context.Context, url string) *http.Request {
				arn := "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0"
				return txSigned(t, ctx, url+"/model/"+txEscape(arn)+"/converse", txConverseBody, creds, "bedrock", time.Now())
			},
			wantStatus: http.StatusOK,
		},
		{
			name: "body changed after signing, same length", url: srv.URL,
			build: func(t *testing.T, ctx context.Context, url string) *http.Request {
				req := txSigned(t, ctx, url+path, txConverseBody, creds, "bedrock", time.Now())
				if len(tampered) != len(txConverseBody) || bytes.Equal(tampered, txConverseBody) {
					t.Fatal("the tampered body must differ but keep its length")
				}
				req.Body, req.GetBody = io.NopCloser(bytes.NewReader(tampered)), nil
				return req
			},
			wantStatus: http.StatusForbidden, wantCode: CodeInvalidSignature, wantMessage: "does not match",
		},
		{
			name: "body extended after signing", url: srv.URL,
			build: func(t *testing.T, ctx context.Context, url string) *http.Request {
				req := txSigned(t, ctx, url+path, txConverseBody, creds, "bedrock", time.Now())
				longer := append(bytes.Clone(txConverseBody), ' ')
				req.Body, req.GetBody, req.ContentLength = io.NopCloser(bytes.NewReader(longer)), nil, int64(len(longer))
				return req
			},
			wantStatus: http.StatusForbidden, wantCode: CodeInvalidSignature,
		},
		{
			name: "signed header changed after signing", url: srv.URL,
			build: func(t *testing.T, ctx context.Context, url string) *http.Request {
				req := txSigned(t, ctx, url+path, txConverseBody, creds, "bedrock", time.Now())
				req.Header.Set("Content-Type", "application/json; charset=utf-8")
				return req
			},
			wantStatus: http.StatusForbidden, wantCode: CodeInvalidSignature,
		},
		{
			name: "signed for another model's path", url: srv.URL,
			build: func(t *testing.T, ctx context.Context, url string) *http.Request {
				req := txSigned(t, ctx, url+"/model/"+txEscape("amazon.nova-lite-v1:0")+"/converse", txConverseBody, creds, "bedrock", time.Now())
				u, err := neturl.Parse(url + path)
				if err != nil {
					t.Fatal(err)
				}
				req.URL = u
				return req
			},
			wantStatus: http.StatusForbidden, wantCode: CodeInvalidSignature,
		},
		{
			name: "signed ten minutes ago", url: srv.URL,
			build: func(t *testing.T, ctx context.Context, url string) *http.Request {
				return txSigned(t, ctx, url+path, txConverseBody, creds, "bedrock", time.Now().Add(-10*time.Minute))
			},
			wantStatus: http.StatusForbidden, wantCode: CodeInvalidSignature, wantMessage: "Signature expired",
		},
		{
			name: "signed as bedrock-runtime", url: srv.URL,
			build: func(t *testing.T, ctx context.Context, url string) *http.Request {
				return txSigned(t, ctx, url+path, txConverseBody, creds, "bedrock-runtime", time.Now())
			},
			wantStatus: http.StatusForbidden, wantCode: CodeInvalidSignature, wantMessage: "Credential should be scoped to correct service: 'bedrock'",
		},
		{
			name: "demo mode: signed as bedrock-runtime is still refused", url: demo.URL,
			build: func(t *testing.T, ctx context.Context, url string) *http.Request {
				return txSigned(t, ctx, url+path, txConverseBody, creds, "bedrock-runtime", time.Now())
			},
			wantStatus: http.StatusForbidden, wantCode: CodeInvalidSignature,
		},
		{
			name: "demo mode: a tampered body passes (nothing to verify against)", url: demo.URL,
			build: func(t *testing.T, ctx context.Context, url string) *http.Request {
				req := txSigned(t, ctx, url+path, txConverseBody, aws.Credentials{AccessKeyID: "AKIDANY", SecretAccessKey: "x"}, "bedrock", time.Now())
				req.Body, req.GetBody = io.NopCloser(bytes.NewReader(tampered)), nil
				return req
			},
			wantStatus: http.StatusOK,
		},
		{
			name: "demo mode: no Authorization", url: demo.URL,
			build: func(t *testing.T, ctx context.Context, url string) *http.Request {
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url+path, bytes.NewReader(txConverseBody))
				req.Header.Set("Content-Type", "application/json")
				return req
			},
			wantStatus: http.StatusForbidden, wantCode: CodeMissingAuthToken, wantMessage: "Missing Authentication Token",
		},
		{
			name: "demo mode: Authorization with an unknown scheme", url: demo.URL,
			build: func(t *testing.T, ctx context.Context, url string) *http.Request {
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url+path, bytes.NewReader(txConverseBody))
				req.Header.Set("Authorization", "Basic c2VjcmV0OnNlY3JldA==")
				return req
			},
			wantStatus: http.StatusForbidden, wantCode: CodeIncompleteSignature,
		},
		{
			name: "demo mode: SigV4 without a Signature", url: demo.URL,
			build: func(t *testing.T, ctx context.Context, url string) *http.Request {
				req := txSigned(t, ctx, url+path, txConverseBody, creds, "bedrock", time.Now())
				authz := req.Header.Get("Authorization")
				req.Header.Set("Authorization", authz[:strings.Index(authz, ", Signature=")])
				return req
			},
			wantStatus: http.StatusForbidden, wantCode: CodeIncompleteSignature,
		},
		{
			name: "demo mode: SigV4 without X-Amz-Date", url: demo.URL,
			build: func(t *testing.T, ctx context.Context, url string) *http.Request {
				req := txSigned(t, ctx, url+path, txConverseBody, creds, "bedrock", time.Now())
				req.Header.Del("X-Amz-Date")
				return req
			},
			wantStatus: http.StatusForbidden, wantCode: CodeIncompleteSignature,
		},
	}
	hc := txHTTPClient(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			resp, code, body := txDo(t, hc, tt.build(t, ctx, tt.url))
			if resp.StatusCode != tt.wantStatus || code != tt.wantCode {
				t.Fatalf("got %d %q %s, want %d %q", resp.StatusCode, code, body, tt.wantStatus, tt.wantCode)
			}
			if !strings.Contains(body, tt.wantMessage) {
				t.Errorf("body %s does not contain %q", body, tt.wantMessage)
			}
			if tt.wantCode != "" && resp.Header.Get("X-Amzn-Requestid") == "" {
				t.Error("error response has no x-amzn-RequestId")
			}
			if strings.Contains(body, testSecretKey) {
				t.Errorf("body %s echoes the secret", body)
			}
		})
	}
}

// anonymousAuth makes the SDK send no Authorization at all (bedrock-wire.md §6.3: AnonymousCredentials panics).
type anonymousAuth struct{}

func (anonymousAuth) ResolveAuthSchemes(context.Context, *bedrockruntime.AuthResolverParameters) ([]*smithyauth.Option, error) {
	return []*smithyauth.Option{{SchemeID: smithyauth.SchemeIDAnonymous}}, nil
}

func TestMissingAuthenticationSDK(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts Options
	}{
		{name: "demo mode", opts: Options{}},
		{name: "SigV4 mode", opts: txSigV4Options()},
		{name: "API keys configured", opts: Options{APIKeys: []string{"ABSKkey"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, srv := txServe(t, tt.opts, nil)
			client := bedrockruntime.New(bedrockruntime.Options{
				Region:             "us-east-1",
				BaseEndpoint:       aws.String(srv.URL),
				AuthSchemeResolver: anonymousAuth{},
				Retryer:            aws.NopRetryer{},
				HTTPClient:         txHTTPClient(t, nil),
			})
			_, err := client.Converse(testContext(t), txConverse(txModel, "hello"))
			if code, status := txAPIError(err); code != CodeMissingAuthToken || status != http.StatusForbidden {
				t.Errorf("unsigned Converse: %v (code %q, status %d), want 403 %s", err, code, status, CodeMissingAuthToken)
			}
		})
	}
}

// bearerClient is a client that authenticates with a Bedrock API key, as AWS_BEARER_TOKEN_BEDROCK does (§6.4).
func bearerClient(url, key string, hc *http.Client) *bedrockruntime.Client {
	return bedrockruntime.New(bedrockruntime.Options{
		Region:                  "us-east-1",
		BaseEndpoint:            aws.String(url),
		BearerAuthTokenProvider: bearer.StaticTokenProvider{Token: bearer.Token{Value: key}},
		AuthSchemePreference:    []string{"httpBearerAuth"},
		Retryer:                 aws.NopRetryer{},
		HTTPClient:              hc,
	})
}

func TestBearerAPIKeys(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tlsConfig, err := SelfSignedTLS(dir)
	if err != nil {
		t.Fatalf("SelfSignedTLS: %v", err)
	}
	const goodKey = "ABSKc3RyYXRhLXRlc3Qta2V5"
	// SigV4 keys are configured too: an API key is an alternative to them, not a bypass.
	_, strict := txServe(t, Options{APIKeys: []string{"ABSKother", goodKey}, AccessKeyID: testAccessKey, SecretAccessKey: testSecretKey}, tlsConfig)
	_, open := txServe(t, Options{}, tlsConfig)

	tests := []struct {
		name       string
		url        string
		key        string
		http2      bool
		wantCode   string
		wantStatus int
	}{
		{name: "configured key", url: strict.URL, key: goodKey},
		{name: "configured key over HTTP/2", url: strict.URL, key: goodKey, http2: true},
		{name: "wrong key", url: strict.URL, key: "ABSKwrong", wantCode: CodeAccessDenied, wantStatus: http.StatusForbidden},
		{name: "wrong key over HTTP/2", url: strict.URL, key: "ABSKwrong", http2: true, wantCode: CodeAccessDenied, wantStatus: http.StatusForbidden},
		{name: "prefix of a configured key", url: strict.URL, key: goodKey[:8], wantCode: CodeAccessDenied, wantStatus: http.StatusForbidden},
		{name: "no keys configured: any key", url: open.URL, key: "ABSKanything"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			client := bearerClient(tt.url, tt.key, txHTTPClient(t, txTrust(t, dir, tt.http2)))
			ctx := testContext(t)
			out, err := client.Converse(ctx, txConverse(txModel, "hello"))
			code, status := txAPIError(err)
			if code != tt.wantCode || status != tt.wantStatus {
				t.Fatalf("Converse: %v (code %q, status %d), want %q %d", err, code, status, tt.wantCode, tt.wantStatus)
			}
			if err != nil {
				if strings.Contains(err.Error(), tt.key) {
					t.Errorf("error %q echoes the key", err)
				}
				return
			}
			if got := txRawResponse(t, out.ResultMetadata).Request.Header.Get("Authorization"); got != "Bearer "+tt.key {
				t.Errorf("the SDK sent Authorization %q, want the bearer key", got)
			}
			stream, err := client.ConverseStream(ctx, txConverseStream(txModel, "hello"))
			if err != nil {
				t.Fatalf("ConverseStream: %v", err)
			}
			if r := txDrain(stream); r.err != nil || !r.messageStop {
				t.Errorf("bearer stream: err %v, messageStop %v", r.err, r.messageStop)
			}
		})
	}
	t.Run("SigV4 still works beside API keys", func(t *testing.T) {
		t.Parallel()
		client := txRuntime(t, strict.URL, testAccessKey, testSecretKey, txTrust(t, dir, false))
		if _, err := client.Converse(testContext(t), txConverse(txModel, "hello")); err != nil {
			t.Errorf("SigV4 Converse: %v", err)
		}
	})
	t.Run("empty bearer refused", func(t *testing.T) {
		t.Parallel()
		req, _ := http.NewRequestWithContext(testContext(t), http.MethodPost, strict.URL+"/model/"+txEscape(txModel)+"/converse", bytes.NewReader(txConverseBody))
		req.Header.Set("Authorization", "Bearer ")
		resp, code, body := txDo(t, txHTTPClient(t, txTrust(t, dir, false)), req)
		if resp.StatusCode != http.StatusForbidden || code != CodeMissingAuthToken {
			t.Errorf("empty bearer: %d %q %s, want 403 %s", resp.StatusCode, code, body, CodeMissingAuthToken)
		}
	})
}

// TestBearerRefusedOverHTTP documents an SDK rule a gateway must respect: the Go SDK will not send
// an API key over plain HTTP (bedrock-wire.md §0 item 9), so testing API keys needs TLS.
func TestBearerRefusedOverHTTP(t *testing.T) {
	t.Parallel()
	emu, srv := txServe(t, Options{}, nil)
	client := bearerClient(srv.URL, "ABSKanything", txHTTPClient(t, nil))
	_, err := client.Converse(testContext(t), txConverse(txModel, "hello"))
	if err == nil || !strings.Contains(err.Error(), "bearer token with HTTP request requires HTTPS") {
		t.Fatalf("bearer over http:// = %v, want the SDK's HTTPS requirement", err)
	}
	if n := emu.Stats().Total(OpConverse); n != 0 {
		t.Errorf("the emulator saw %d requests; the SDK should refuse before sending", n)
	}
}
