package emulator

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
)

// The emulator is the upstream of every benchmark of the gateway, so its own cost per call is
// measured here: the handler alone, and the real SDK over loopback HTTP/1.1 and HTTP/2 (h2c).

var benchConverseBody = []byte(`{"messages":[{"role":"user","content":[{"text":"Summarize the plot of a short story about a lighthouse keeper in three sentences."}]}],"inferenceConfig":{"maxTokens":256}}`)

func BenchmarkConverseHandler(b *testing.B) {
	emu, err := New(Options{}) // demo mode: signature checked for form only
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/model/us.amazon.nova-micro-v1%3A0/converse", bytes.NewReader(benchConverseBody))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Amz-Date", "20261125T000000Z")
		req.Header.Set("Authorization", "Bearer demo")
		rec := httptest.NewRecorder()
		emu.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}

func BenchmarkConverseSDK(b *testing.B) {
	for _, tc := range []struct {
		name string
		h2c  bool
	}{{"http1", false}, {"h2c", true}} {
		b.Run(tc.name, func(b *testing.B) {
			te := startEmulator(b, Options{})
			tr := http.DefaultTransport.(*http.Transport).Clone()
			tr.MaxIdleConnsPerHost = 64
			if tc.h2c {
				txH2C(tr)
			}
			client := runtimeClient(te.srv.URL, testAccessKey, testSecretKey, &http.Client{Transport: tr})
			in := &bedrockruntime.ConverseInput{
				ModelId: aws.String("us.amazon.nova-micro-v1:0"),
				Messages: []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{
					&types.ContentBlockMemberText{Value: "Summarize the plot of a short story about a lighthouse keeper in three sentences."}}}},
				InferenceConfig: &types.InferenceConfiguration{MaxTokens: aws.Int32(256)},
			}
			ctx := b.Context()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := client.Converse(ctx, in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
