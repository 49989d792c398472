package bedrock

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/strata-gateway/strata/backend"
)

// TestSigV4MatchesSDK signs the same requests with the adapter's signer and the SDK's v4.Signer
// and wants the same Authorization header, byte for byte: for foundation ids, profile ARNs and
// reserved characters in the path, endpoints with a path prefix or an explicit port, session
// credentials, and a key derived on one day and reused on the next.
func TestSigV4MatchesSDK(t *testing.T) {
	static := aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}
	session := static
	session.SessionToken = "FwoGZXIvYXdzEJr//////////wEaDOpaque+token=="
	day1 := time.Date(2026, 11, 24, 21, 54, 47, 0, time.UTC)
	day2 := day1.Add(26 * time.Hour)
	tests := []struct {
		name     string
		endpoint string
		model    string
		op       operation
		creds    aws.Credentials
		when     time.Time
	}{
		{"foundation id", "https://bedrock-runtime.us-east-1.amazonaws.com", "anthropic.claude-3-5-sonnet-20241022-v2:0", opConverse, static, day1},
		{"application profile ARN", "https://bedrock-runtime.us-east-1.amazonaws.com", "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123xyz", opConverseStream, static, day1},
		{"reserved characters", "https://bedrock-runtime.us-east-1.amazonaws.com", "weird id+with space&q?x#y", opInvoke, static, day1},
		{"session credentials", "https://bedrock-runtime.us-east-1.amazonaws.com", "us.amazon.nova-micro-v1:0", opConverse, session, day1},
		{"next day, same signer", "https://bedrock-runtime.us-east-1.amazonaws.com", "us.amazon.nova-micro-v1:0", opConverse, session, day2},
		{"path prefix and port", "http://127.0.0.1:4000/bedrock/", "amazon.titan-embed-text-v2:0", opInvoke, static, day2},
		{"explicit default port", "https://vpce-1.bedrock-runtime.us-east-1.vpce.amazonaws.com:443", "us.amazon.nova-micro-v1:0", opCountTokens, static, day2},
	}
	body := []byte(`{"messages":[{"role":"user","content":[{"text":"héllo"}]}]}`)
	sum := sha256.Sum256(body)
	sdk := v4.NewSigner()
	signers := map[string]*transport{} // one per endpoint, reused across days
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := signers[tt.endpoint]
			if tr == nil {
				var err error
				if tr, err = newTransport(http.DefaultClient, tt.endpoint, "us-east-1", nil, ""); err != nil {
					t.Fatal(err)
				}
				signers[tt.endpoint] = tr
			}
			tg := tr.target(tt.model, tt.op)
			gotAuth, gotDate := tr.signer.sign(signedRequest{canonicalURI: tg.canonicalURI, host: tg.host, contentType: "application/json", body: body}, tt.creds, tt.when)

			u := tg.url
			req, err := http.NewRequest(http.MethodPost, "", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.URL, req.Host = &u, tg.host
			req.Header.Set("Content-Type", "application/json")
			if err := sdk.SignHTTP(context.Background(), tt.creds, req, hex.EncodeToString(sum[:]), signingName, "us-east-1", tt.when); err != nil {
				t.Fatal(err)
			}
			if want := req.Header.Get("Authorization"); gotAuth != want {
				t.Errorf("Authorization\n got %s\nwant %s (the SDK's)", gotAuth, want)
			}
			if want := req.Header.Get("X-Amz-Date"); gotDate != want {
				t.Errorf("X-Amz-Date %s, the SDK's %s", gotDate, want)
			}
		})
	}
}

func TestAppendAmzDate(t *testing.T) {
	for _, when := range []time.Time{
		time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		time.Date(1999, 12, 31, 23, 59, 59, 999, time.UTC),
		time.Date(2026, 11, 25, 4, 46, 37, 0, time.UTC),
	} {
		if got, want := string(appendAmzDate(nil, when)), when.Format("20060102T150405Z"); got != want {
			t.Errorf("%v: %s, want %s", when, got, want)
		}
	}
}

// TestRegionRouting: a request for another region goes to that region's endpoint, signed for it,
// with the backend's credentials; with a configured endpoint (a VPC endpoint, the emulator) it
// goes there, signed for the region asked.
func TestRegionRouting(t *testing.T) {
	for _, tt := range []struct {
		name, endpoint, wantHost string
	}{
		{"regional endpoint", "", "bedrock-runtime.us-west-2.amazonaws.com"},
		{"configured endpoint", "https://vpce-1.bedrock-runtime.us-east-1.vpce.amazonaws.com", "vpce-1.bedrock-runtime.us-east-1.vpce.amazonaws.com"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wire := &capturingTransport{cannedTransport: cannedTransport{body: benchReplyText}}
			var seen *http.Request
			be, err := New(Options{Region: "us-east-1", Endpoint: tt.endpoint, Catalog: testCatalog(t),
				Credentials: credentials.NewStaticCredentialsProvider(testKeyID, testSecret, ""),
				HTTPClient: &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
					seen = r
					return wire.RoundTrip(r)
				})}})
			if err != nil {
				t.Fatal(err)
			}
			_, err = be.Chat(callCtx(t), &backend.ChatRequest{ModelID: "us.amazon.nova-micro-v1:0", Region: "us-west-2",
				Messages: []backend.Message{userText("hi")}})
			if err != nil {
				t.Fatal(err)
			}
			if seen.URL.Host != tt.wantHost || !strings.Contains(seen.Header.Get("Authorization"), "/us-west-2/bedrock/aws4_request") {
				t.Errorf("sent to %s with %q; want %s, signed for us-west-2", seen.URL.Host, seen.Header.Get("Authorization"), tt.wantHost)
			}
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
