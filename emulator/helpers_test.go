package emulator

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
)

// Test credentials: the emulator under test verifies signatures against them.
const (
	testAccessKey = "AKIDSTRATATEST"
	testSecretKey = "strata-test-secret"
)

// testEmulator is an emulator served on a loopback port, with real SDK clients pointed at it.
type testEmulator struct {
	emu     *Emulator
	srv     *Server
	runtime *bedrockruntime.Client
	control *bedrock.Client
}

// startEmulator serves an emulator built from opts on 127.0.0.1 and returns SDK clients for it,
// signing with the test key (which opts verifies unless it sets other keys). Retries are off so
// every error surfaces as it was sent.
func startEmulator(t testing.TB, opts Options) *testEmulator {
	t.Helper()
	if opts.AccessKeyID == "" && opts.SecretAccessKey == "" {
		opts.AccessKeyID, opts.SecretAccessKey = testAccessKey, testSecretKey
	}
	emu, srv := txServe(t, opts, nil)
	return &testEmulator{emu: emu, srv: srv, runtime: runtimeClient(srv.URL, testAccessKey, testSecretKey, nil), control: controlClient(srv.URL)}
}

// runtimeClient is a bedrockruntime client for url with static keys and no retries.
func runtimeClient(url, accessKey, secret string, hc *http.Client) *bedrockruntime.Client {
	opts := bedrockruntime.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider(accessKey, secret, ""),
		Retryer:      aws.NopRetryer{},
	}
	// Every client sidesteps the SDK's HTTP/1.1 request-body race (see txGuarded); a nil
	// *http.Client must not reach the SDK's interface, where it would be called and panic.
	var rt http.RoundTripper = http.DefaultTransport.(*http.Transport).Clone()
	if hc != nil && hc.Transport != nil {
		rt = hc.Transport
	}
	opts.HTTPClient = txGuarded(rt)
	return bedrockruntime.New(opts)
}

func controlClient(url string) *bedrock.Client {
	return bedrock.New(bedrock.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider(testAccessKey, testSecretKey, ""),
		Retryer:      aws.NopRetryer{},
	})
}

// testContext is a context that ends with the test, bounded so no call can hang the suite.
func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
