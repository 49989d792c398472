package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

func TestParseFault(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		spec       string
		want       Fault
		wantString string // "" means the same as spec
		wantErr    string
	}{
		{name: "error every third with retry-after", spec: "error=ThrottlingException,every=3,retry-after=2s",
			want: Fault{Error: CodeThrottling, Every: 3, RetryAfter: 2 * time.Second}, wantString: "error=ThrottlingException,retry-after=2s,every=3"},
		{name: "lowerCamel stream spelling", spec: "error=modelStreamErrorException,cut-after=4,op=converse-stream",
			want: Fault{Error: CodeModelStreamError, CutAfter: 4, Operation: OpConverseStream}, wantString: "error=ModelStreamErrorException,cut-after=4,op=converse-stream"},
		{name: "abort flag", spec: "cut-after=2,abort", want: Fault{CutAfter: 2, Abort: true}},
		{name: "abort=true", spec: "cut-after=2,abort=true", want: Fault{CutAfter: 2, Abort: true}, wantString: "cut-after=2,abort"},
		{name: "abort=false", spec: "cut-after=2,abort=false", want: Fault{CutAfter: 2}, wantString: "cut-after=2"},
		{name: "stall on one model", spec: "stall=1s,model=us.amazon.nova-micro-v1:0", want: Fault{Stall: time.Second, Model: "us.amazon.nova-micro-v1:0"}},
		{name: "ttft", spec: "ttft=250ms", want: Fault{TTFT: 250 * time.Millisecond}},
		{name: "semicolons and spaces", spec: " error = ModelNotReadyException ; times=2 ;rate=0.25 ",
			want: Fault{Error: CodeModelNotReady, Times: 2, Rate: 0.25}, wantString: "error=ModelNotReadyException,rate=0.25,times=2"},
		{name: "message with spaces", spec: "error=ValidationException,message=The provided model identifier is invalid.",
			want: Fault{Error: CodeValidation, Message: "The provided model identifier is invalid."}},
		{name: "everything", spec: "error=InternalServerException,message=boom,retry-after=1.5s,every=2,rate=0.5,times=3,cut-after=1,abort,stall=10ms,ttft=20ms,model=amazon.nova-micro-v1:0,op=invoke-with-response-stream",
			want: Fault{Error: CodeInternalServer, Message: "boom", RetryAfter: 1500 * time.Millisecond, Every: 2, Rate: 0.5, Times: 3, CutAfter: 1, Abort: true,
				Stall: 10 * time.Millisecond, TTFT: 20 * time.Millisecond, Model: txModel, Operation: OpInvokeStream}},
		{name: "reply, escaped", spec: "reply=Sure%2C+here%3A+%7B%22a%22%3A1%7D,times=1,op=converse",
			want: Fault{Reply: `Sure, here: {"a":1}`, Times: 1, Operation: OpConverse}, wantString: "times=1,reply=Sure%2C+here%3A+%7B%22a%22%3A1%7D,op=converse"},
		{name: "reply with plain spaces", spec: "reply=not JSON at all", want: Fault{Reply: "not JSON at all"}, wantString: "reply=not+JSON+at+all"},
		{name: "reply that is not escaped right", spec: "reply=100%", wantErr: "reply"},
		{name: "empty", spec: "", wantErr: "a fault needs error, cut-after, stall, ttft or reply"},
		{name: "schedule without an effect", spec: "every=3", wantErr: "a fault needs error, cut-after, stall, ttft or reply"},
		{name: "empty error", spec: "error=", wantErr: "a fault needs"},
		{name: "unknown error code", spec: "error=NoSuchException", wantErr: `unknown error code "NoSuchException"`},
		{name: "unknown key", spec: "error=ThrottlingException,bogus=1", wantErr: `unknown key "bogus"`},
		{name: "bad every", spec: "error=ThrottlingException,every=x", wantErr: "every"},
		{name: "missing count", spec: "error=ThrottlingException,times", wantErr: "times"},
		{name: "rate above 1", spec: "error=ThrottlingException,rate=1.5", wantErr: "rate 1.5 is not between 0 and 1"},
		{name: "negative rate", spec: "error=ThrottlingException,rate=-0.1", wantErr: "not between 0 and 1"},
		{name: "negative times", spec: "error=ThrottlingException,times=-1", wantErr: "must not be negative"},
		{name: "negative cut-after", spec: "cut-after=-1", wantErr: "must not be negative"},
		{name: "bad duration", spec: "stall=forever", wantErr: "stall"},
		{name: "bad retry-after", spec: "error=ThrottlingException,retry-after=2", wantErr: "retry-after"},
		{name: "abort without cut-after", spec: "error=ThrottlingException,abort", wantErr: "abort needs cut-after"},
		{name: "abort with a non-boolean", spec: "cut-after=2,abort=yes", wantErr: "abort"},
		{name: "unknown operation", spec: "error=ThrottlingException,op=chat", wantErr: `unknown operation "chat"`},
		{name: "control-plane operation is not faultable", spec: "error=ThrottlingException,op=list-foundation-models", wantErr: "unknown operation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseFault(tt.spec)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseFault(%q) error = %v, want one containing %q", tt.spec, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseFault(%q): %v", tt.spec, err)
			}
			if got != tt.want {
				t.Fatalf("ParseFault(%q) = %+v, want %+v", tt.spec, got, tt.want)
			}
			wantString := tt.wantString
			if wantString == "" {
				wantString = tt.spec
			}
			if s := got.String(); s != wantString {
				t.Errorf("String() = %q, want %q", s, wantString)
			}
			again, err := ParseFault(got.String())
			if err != nil || again != got {
				t.Errorf("ParseFault(String()) = %+v, %v; want %+v", again, err, got)
			}
		})
	}
}

// txInvoke is an InvokeModel call on a Claude model through its US profile.
func txInvoke() *bedrockruntime.InvokeModelInput {
	return &bedrockruntime.InvokeModelInput{
		ModelId:     aws.String("us.anthropic.claude-haiku-4-5-20251001-v1:0"),
		ContentType: aws.String("application/json"),
		Body:        []byte(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":64,"messages":[{"role":"user","content":"hello"}]}`),
	}
}

func txInvokeStream() *bedrockruntime.InvokeModelWithResponseStreamInput {
	in := txInvoke()
	return &bedrockruntime.InvokeModelWithResponseStreamInput{ModelId: in.ModelId, ContentType: in.ContentType, Body: in.Body}
}

// TestFaultHeader injects each error through the per-request header and checks the SDK decodes
// the typed error with its status (bedrock-wire.md §5.3). Retries are off, so one call is one request.
func TestFaultHeader(t *testing.T) {
	t.Parallel()
	emu, srv := txServe(t, txSigV4Options(), nil)
	client := txRuntime(t, srv.URL, testAccessKey, testSecretKey, nil)
	converse := func(ctx context.Context, opt func(*bedrockruntime.Options)) error {
		_, err := client.Converse(ctx, txConverse(txModel, "hello"), opt)
		return err
	}
	converseStream := func(ctx context.Context, opt func(*bedrockruntime.Options)) error {
		_, err := client.ConverseStream(ctx, txConverseStream(txModel, "hello"), opt)
		return err
	}
	invoke := func(ctx context.Context, opt func(*bedrockruntime.Options)) error {
		_, err := client.InvokeModel(ctx, txInvoke(), opt)
		return err
	}
	invokeStream := func(ctx context.Context, opt func(*bedrockruntime.Options)) error {
		_, err := client.InvokeModelWithResponseStream(ctx, txInvokeStream(), opt)
		return err
	}
	countTokens := func(ctx context.Context, opt func(*bedrockruntime.Options)) error {
		_, err := client.CountTokens(ctx, &bedrockruntime.CountTokensInput{
			ModelId: aws.String("anthropic.claude-haiku-4-5-20251001-v1:0"),
			Input:   &types.CountTokensInputMemberConverse{Value: types.ConverseTokensRequest{Messages: txMessages("hello")}},
		}, opt)
		return err
	}
	tests := []struct {
		name       string
		op         string
		call       func(context.Context, func(*bedrockruntime.Options)) error
		spec       string
		wantCode   string
		wantStatus int
		typed      func(error) bool
		wantMsg    string
	}{
		{name: "throttling", op: OpConverse, call: converse, spec: "error=ThrottlingException", wantCode: CodeThrottling, wantStatus: 429,
			typed: txIs[*types.ThrottlingException], wantMsg: "Too many requests, please wait before trying again."},
		{name: "model not ready", op: OpConverse, call: converse, spec: "error=ModelNotReadyException", wantCode: CodeModelNotReady, wantStatus: 429, typed: txIs[*types.ModelNotReadyException]},
		{name: "model timeout", op: OpConverse, call: converse, spec: "error=ModelTimeoutException", wantCode: CodeModelTimeout, wantStatus: 408, typed: txIs[*types.ModelTimeoutException]},
		{name: "model error", op: OpConverse, call: converse, spec: "error=ModelErrorException", wantCode: CodeModelError, wantStatus: 424, typed: func(err error) bool {
			var me *types.ModelErrorException
			return errors.As(err, &me) && aws.ToInt32(me.OriginalStatusCode) == 500
		}},
		{name: "service unavailable", op: OpConverse, call: converse, spec: "error=ServiceUnavailableException", wantCode: CodeServiceUnavailable, wantStatus: 503, typed: txIs[*types.ServiceUnavailableException]},
		{name: "internal server", op: OpConverse, call: converse, spec: "error=InternalServerException", wantCode: CodeInternalServer, wantStatus: 500, typed: txIs[*types.InternalServerException]},
		{name: "access denied", op: OpConverse, call: converse, spec: "error=AccessDeniedException", wantCode: CodeAccessDenied, wantStatus: 403, typed: txIs[*types.AccessDeniedException]},
		{name: "resource not found", op: OpConverse, call: converse, spec: "error=ResourceNotFoundException", wantCode: CodeResourceNotFound, wantStatus: 404, typed: txIs[*types.ResourceNotFoundException]},
		{name: "validation with a message", op: OpConverse, call: converse, spec: "error=ValidationException,message=The provided model identifier is invalid.",
			wantCode: CodeValidation, wantStatus: 400, typed: txIs[*types.ValidationException], wantMsg: "The provided model identifier is invalid."},
		{name: "lowerCamel spelling", op: OpConverse, call: converse, spec: "error=throttlingException", wantCode: CodeThrottling, wantStatus: 429, typed: txIs[*types.ThrottlingException]},
		{name: "throttling before a stream opens", op: OpConverseStream, call: converseStream, spec: "error=ThrottlingException", wantCode: CodeThrottling, wantStatus: 429, typed: txIs[*types.ThrottlingException]},
		{name: "service quota on invoke", op: OpInvoke, call: invoke, spec: "error=ServiceQuotaExceededException", wantCode: CodeServiceQuotaExceeded, wantStatus: 400, typed: txIs[*types.ServiceQuotaExceededException]},
		{name: "throttling on invoke", op: OpInvoke, call: invoke, spec: "error=ThrottlingException", wantCode: CodeThrottling, wantStatus: 429, typed: txIs[*types.ThrottlingException]},
		{name: "model stream error before an invoke stream opens", op: OpInvokeStream, call: invokeStream, spec: "error=ModelStreamErrorException",
			wantCode: CodeModelStreamError, wantStatus: 424, typed: txIs[*types.ModelStreamErrorException]},
		{name: "throttling on count-tokens", op: OpCountTokens, call: countTokens, spec: "error=ThrottlingException", wantCode: CodeThrottling, wantStatus: 429, typed: txIs[*types.ThrottlingException]},
		{name: "op filter that does not match", op: OpConverse, call: converse, spec: "error=ThrottlingException,op=invoke"},
		{name: "model filter that does not match", op: OpConverse, call: converse, spec: "error=ThrottlingException,model=amazon.nova-lite-v1:0"},
		{name: "model filter that matches", op: OpConverse, call: converse, spec: "error=ThrottlingException,model=" + txModel, wantCode: CodeThrottling, wantStatus: 429, typed: txIs[*types.ThrottlingException]},
		{name: "malformed header is ignored", op: OpConverse, call: converse, spec: "error=NoSuchException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(testContext(t), txWithFault(tt.spec))
			code, status := txAPIError(err)
			if code != tt.wantCode || status != tt.wantStatus {
				t.Fatalf("%s with %q: %v (code %q, status %d), want %q %d", tt.op, tt.spec, err, code, status, tt.wantCode, tt.wantStatus)
			}
			if tt.typed != nil && !tt.typed(err) {
				t.Errorf("%v does not hold the SDK's typed error for %s", err, tt.wantCode)
			}
			if tt.wantMsg != "" && !strings.HasSuffix(err.Error(), tt.wantCode+": "+tt.wantMsg) {
				t.Errorf("error %q does not end with %q", err, tt.wantMsg)
			}
		})
	}
	stats := emu.Stats()
	for op, want := range map[string]map[string]int64{
		OpConverse:       {CodeThrottling: 3, CodeModelNotReady: 1, CodeModelTimeout: 1, CodeModelError: 1, CodeServiceUnavailable: 1, CodeInternalServer: 1, CodeAccessDenied: 1, CodeResourceNotFound: 1, CodeValidation: 1, outcomeOK: 3},
		OpConverseStream: {CodeThrottling: 1},
		OpInvoke:         {CodeServiceQuotaExceeded: 1, CodeThrottling: 1},
		OpInvokeStream:   {CodeModelStreamError: 1},
		OpCountTokens:    {CodeThrottling: 1},
	} {
		if !reflect.DeepEqual(stats.Requests[op], want) {
			t.Errorf("stats for %s = %v, want %v", op, stats.Requests[op], want)
		}
	}
}

func TestFaultRetryAfter(t *testing.T) {
	t.Parallel()
	_, srv := txServe(t, txSigV4Options(), nil)
	client := txRuntime(t, srv.URL, testAccessKey, testSecretKey, nil)
	tests := []struct {
		name string
		spec string
		want string // X-Amz-Retry-After, in milliseconds; "" means absent
	}{
		{name: "seconds", spec: "error=ThrottlingException,retry-after=2s", want: "2000"},
		{name: "milliseconds", spec: "error=ServiceUnavailableException,retry-after=1500ms", want: "1500"},
		{name: "absent unless asked for", spec: "error=ThrottlingException", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := client.Converse(testContext(t), txConverse(txModel, "hello"), txWithFault(tt.spec))
			var respErr *smithyhttp.ResponseError
			if !errors.As(err, &respErr) {
				t.Fatalf("Converse: %v, want an HTTP response error", err)
			}
			h := respErr.Response.Header
			if got := h.Get("X-Amz-Retry-After"); got != tt.want {
				t.Errorf("X-Amz-Retry-After = %q, want %q", got, tt.want)
			}
			if got := h.Get("X-Amzn-Errortype"); !strings.HasSuffix(got, ":http://internal.amazon.com/coral/com.amazon.bedrock/") {
				t.Errorf("x-amzn-ErrorType = %q, want the coral namespace suffix", got)
			}
			if h.Get("X-Amzn-Requestid") == "" {
				t.Error("no x-amzn-RequestId")
			}
		})
	}
}

// txPattern makes n Converse calls and returns which failed with ThrottlingException: "." for
// success, "X" for throttled.
func txPattern(t *testing.T, client *bedrockruntime.Client, model string, n int) string {
	t.Helper()
	var b strings.Builder
	for range n {
		_, err := client.Converse(testContext(t), txConverse(model, "hello"))
		switch code, _ := txAPIError(err); {
		case err == nil:
			b.WriteByte('.')
		case code == CodeThrottling:
			b.WriteByte('X')
		default:
			t.Fatalf("Converse: %v", err)
		}
	}
	return b.String()
}

func TestConfiguredFaults(t *testing.T) {
	t.Parallel()
	throttle := func(f Fault) Fault { f.Error = CodeThrottling; return f }
	tests := []struct {
		name  string
		fault []Fault
		model string
		n     int
		want  string
	}{
		{name: "every third", fault: []Fault{throttle(Fault{Every: 3})}, n: 9, want: "..X..X..X"},
		{name: "every=1 is every request", fault: []Fault{throttle(Fault{Every: 1})}, n: 3, want: "XXX"},
		{name: "no schedule is every request", fault: []Fault{throttle(Fault{})}, n: 3, want: "XXX"},
		{name: "first two", fault: []Fault{throttle(Fault{Times: 2})}, n: 5, want: "XX..."},
		{name: "every second, twice", fault: []Fault{throttle(Fault{Every: 2, Times: 2})}, n: 8, want: ".X.X...."},
		{name: "model filter matches", fault: []Fault{throttle(Fault{Model: txModel, Every: 2})}, n: 4, want: ".X.X"},
		{name: "model filter compares the id as sent", fault: []Fault{throttle(Fault{Model: txModel})}, model: "us." + txModel, n: 3, want: "..."},
		{name: "op filter elsewhere", fault: []Fault{throttle(Fault{Operation: OpConverseStream})}, n: 3, want: "..."},
		{name: "each fault counts every request it matches", fault: []Fault{throttle(Fault{Times: 1}), throttle(Fault{Every: 3})}, n: 7, want: "X.X..X."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := txSigV4Options()
			opts.Faults = tt.fault
			emu, srv := txServe(t, opts, nil)
			client := txRuntime(t, srv.URL, testAccessKey, testSecretKey, nil)
			model := tt.model
			if model == "" {
				model = txModel
			}
			if got := txPattern(t, client, model, tt.n); got != tt.want {
				t.Errorf("Options.Faults: pattern %s, want %s", got, tt.want)
			}
			// SetFaults replaces the faults and starts their counts again.
			if err := emu.SetFaults(tt.fault...); err != nil {
				t.Fatalf("SetFaults: %v", err)
			}
			if got := txPattern(t, client, model, tt.n); got != tt.want {
				t.Errorf("after SetFaults: pattern %s, want %s", got, tt.want)
			}
			throttled := int64(strings.Count(tt.want, "X"))
			if s := emu.Stats(); s.Count(OpConverse, CodeThrottling) != 2*throttled || s.Count(OpConverse, outcomeOK) != 2*int64(tt.n)-2*throttled {
				t.Errorf("stats = %v, want %d throttled", s.Requests[OpConverse], 2*throttled)
			}
		})
	}
}

func TestConfiguredFaultOperations(t *testing.T) {
	t.Parallel()
	opts := txSigV4Options()
	opts.Faults = []Fault{{Error: CodeServiceUnavailable, Operation: OpConverseStream}, {Error: CodeServiceQuotaExceeded, Operation: OpInvoke}}
	emu, srv := txServe(t, opts, nil)
	client := txRuntime(t, srv.URL, testAccessKey, testSecretKey, nil)
	ctx := testContext(t)
	if _, err := client.Converse(ctx, txConverse(txModel, "hello")); err != nil {
		t.Errorf("Converse under a converse-stream fault: %v", err)
	}
	if _, err := client.ConverseStream(ctx, txConverseStream(txModel, "hello")); !txIs[*types.ServiceUnavailableException](err) {
		t.Errorf("ConverseStream: %v, want ServiceUnavailableException", err)
	}
	if _, err := client.InvokeModel(ctx, txInvoke()); !txIs[*types.ServiceQuotaExceededException](err) {
		t.Errorf("InvokeModel: %v, want ServiceQuotaExceededException", err)
	}
	if err := emu.SetFaults(); err != nil {
		t.Fatalf("SetFaults(): %v", err)
	}
	if _, err := client.InvokeModel(ctx, txInvoke()); err != nil {
		t.Errorf("InvokeModel after the faults were cleared: %v", err)
	}
	if err := emu.SetFaults(Fault{Every: 2}); err == nil || !strings.Contains(err.Error(), "fault 1") {
		t.Errorf("SetFaults with a fault that does nothing: %v, want an error naming fault 1", err)
	}
	if _, err := New(Options{Faults: []Fault{{Error: "Nope"}}}); err == nil {
		t.Error("New accepted an unknown error code")
	}
}

func TestConfiguredFaultRate(t *testing.T) {
	t.Parallel()
	const n = 60
	pattern := func(seed uint64) string {
		opts := txSigV4Options()
		opts.Seed = seed
		opts.Faults = []Fault{{Error: CodeThrottling, Rate: 0.3}}
		_, srv := txServe(t, opts, nil)
		return txPattern(t, txRuntime(t, srv.URL, testAccessKey, testSecretKey, nil), txModel, n)
	}
	a, again, other := pattern(42), pattern(42), pattern(43)
	if a != again {
		t.Errorf("same seed, different faults:\n%s\n%s", a, again)
	}
	if a == other {
		t.Errorf("seeds 42 and 43 gave the same pattern %s", a)
	}
	if k := strings.Count(a, "X"); k < n/10 || k > n/2 {
		t.Errorf("rate 0.3 fired %d of %d times: %s", k, n, a)
	}
}

// TestFaultHeaderRate checks a header's rate is decided by the request's content, so a retried
// call meets the same fate.
func TestFaultHeaderRate(t *testing.T) {
	t.Parallel()
	_, srv := txServe(t, Options{Seed: 7}, nil)
	client := txRuntime(t, srv.URL, "AKIDANY", "any", nil)
	ctx := testContext(t)
	failed := 0
	for i := range 20 {
		prompt := strings.Repeat("word ", i+1)
		var first error
		for attempt := range 3 {
			_, err := client.Converse(ctx, txConverse(txModel, prompt), txWithFault("error=ThrottlingException,rate=0.5"))
			if attempt == 0 {
				first = err
				if err != nil {
					failed++
				}
			} else if (err == nil) != (first == nil) {
				t.Fatalf("prompt %d: attempt 1 gave %v, attempt %d gave %v", i, first, attempt+1, err)
			}
		}
	}
	if failed == 0 || failed == 20 {
		t.Errorf("rate 0.5 failed %d of 20 different requests", failed)
	}
}

func TestStreamFaults(t *testing.T) {
	t.Parallel()
	emu, srv := txServe(t, txSigV4Options(), nil)
	h1 := txRuntime(t, srv.URL, testAccessKey, testSecretKey, nil)
	h2 := txRuntime(t, srv.URL, testAccessKey, testSecretKey, txH2C)
	tests := []struct {
		name        string
		client      *bedrockruntime.Client
		spec        string
		wantEvents  int // -1: at most wantAtMost
		wantAtMost  int
		wantErr     func(error) bool // nil: Err() must be nil
		wantStop    bool
		wantOutcome string
	}{
		{name: "throttling after 3 events", client: h1, spec: "error=ThrottlingException,cut-after=3", wantEvents: 3,
			wantErr: txIs[*types.ThrottlingException], wantOutcome: CodeThrottling},
		{name: "lowerCamel spelling after 1 event", client: h1, spec: "error=throttlingException,cut-after=1", wantEvents: 1,
			wantErr: txIs[*types.ThrottlingException], wantOutcome: CodeThrottling},
		{name: "model stream error carries the original status", client: h1, spec: "error=ModelStreamErrorException,cut-after=2", wantEvents: 2,
			wantErr: func(err error) bool {
				var e *types.ModelStreamErrorException
				return errors.As(err, &e) && aws.ToInt32(e.OriginalStatusCode) == 500 && aws.ToString(e.OriginalMessage) != ""
			}, wantOutcome: CodeModelStreamError},
		{name: "service unavailable", client: h1, spec: "error=ServiceUnavailableException,cut-after=2", wantEvents: 2, wantErr: txIs[*types.ServiceUnavailableException], wantOutcome: CodeServiceUnavailable},
		{name: "internal server", client: h1, spec: "error=InternalServerException,cut-after=2", wantEvents: 2, wantErr: txIs[*types.InternalServerException], wantOutcome: CodeInternalServer},
		{name: "validation", client: h1, spec: "error=ValidationException,cut-after=2", wantEvents: 2, wantErr: txIs[*types.ValidationException], wantOutcome: CodeValidation},
		{name: "throttling over h2c", client: h2, spec: "error=ThrottlingException,cut-after=3", wantEvents: 3, wantErr: txIs[*types.ThrottlingException], wantOutcome: CodeThrottling},
		// The silent truncation a gateway must detect: no error, just no messageStop (§0 item 4).
		{name: "clean cut after 2 events", client: h1, spec: "cut-after=2", wantEvents: 2, wantOutcome: outcomeOK},
		{name: "clean cut over h2c", client: h2, spec: "cut-after=2", wantEvents: 2, wantOutcome: outcomeOK},
		// A reset HTTP/1.1 connection also looks like a clean end to the SDK (§3.4)...
		{name: "abort after 2 events", client: h1, spec: "cut-after=2,abort", wantEvents: 2, wantOutcome: outcomeAborted},
		// ...while an HTTP/2 RST_STREAM surfaces as an error.
		{name: "abort over h2c", client: h2, spec: "cut-after=2,abort", wantEvents: 2, wantOutcome: outcomeAborted, wantErr: func(err error) bool {
			return err != nil && strings.Contains(err.Error(), "INTERNAL_ERROR")
		}},
		{name: "cut beyond the end changes nothing", client: h1, spec: "error=ThrottlingException,cut-after=1000", wantEvents: -1, wantAtMost: 1000, wantStop: true, wantOutcome: outcomeOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := emu.Stats().Count(OpConverseStream, tt.wantOutcome)
			out, err := tt.client.ConverseStream(testContext(t), txConverseStream(txModel, "Tell me about tides."), txWithFault(tt.spec))
			if err != nil {
				t.Fatalf("ConverseStream: %v (a stream fault must open the stream first)", err)
			}
			r := txDrain(out)
			switch {
			case tt.wantEvents >= 0 && r.events != tt.wantEvents:
				t.Errorf("got %d events, want %d", r.events, tt.wantEvents)
			case tt.wantEvents < 0 && r.events > tt.wantAtMost:
				t.Errorf("got %d events, want at most %d", r.events, tt.wantAtMost)
			}
			switch {
			case tt.wantErr == nil && r.err != nil:
				t.Errorf("Err() = %v, want nil", r.err)
			case tt.wantErr != nil && !tt.wantErr(r.err):
				t.Errorf("Err() = %T %v, not the expected typed error", r.err, r.err)
			}
			if r.messageStop != tt.wantStop || r.metadata != tt.wantStop {
				t.Errorf("messageStop %v, metadata %v; want %v", r.messageStop, r.metadata, tt.wantStop)
			}
			txWaitFor(t, "the outcome "+tt.wantOutcome, func() bool { return emu.Stats().Count(OpConverseStream, tt.wantOutcome) == before+1 })
		})
	}
}

func TestInvokeStreamFaults(t *testing.T) {
	t.Parallel()
	_, srv := txServe(t, txSigV4Options(), nil)
	tests := []struct {
		name    string
		spec    string
		wantErr func(error) bool
	}{
		{name: "model timeout mid-stream", spec: "error=ModelTimeoutException,cut-after=2", wantErr: txIs[*types.ModelTimeoutException]},
		{name: "throttling mid-stream", spec: "error=ThrottlingException,cut-after=2", wantErr: txIs[*types.ThrottlingException]},
		{name: "clean cut", spec: "cut-after=2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// A client per parallel stream: one client's streams share an event-stream codec
			// that -race flags (aws/smithy-go#714).
			client := txRuntime(t, srv.URL, testAccessKey, testSecretKey, nil)
			out, err := client.InvokeModelWithResponseStream(testContext(t), txInvokeStream(), txWithFault(tt.spec))
			if err != nil {
				t.Fatalf("InvokeModelWithResponseStream: %v", err)
			}
			stream := out.GetStream()
			events, stopped := 0, false
			for ev := range stream.Events() {
				events++
				if chunk, ok := ev.(*types.ResponseStreamMemberChunk); ok && strings.Contains(string(chunk.Value.Bytes), `"message_stop"`) {
					stopped = true
				}
			}
			_ = stream.Close()
			if events != 2 || stopped {
				t.Errorf("got %d chunks (message_stop %v), want 2 and no message_stop", events, stopped)
			}
			if err := stream.Err(); (tt.wantErr == nil && err != nil) || (tt.wantErr != nil && !tt.wantErr(err)) {
				t.Errorf("Err() = %T %v", err, err)
			}
		})
	}
}

func TestStallFault(t *testing.T) {
	t.Parallel()
	emu, srv := txServe(t, txSigV4Options(), nil)
	client := txRuntime(t, srv.URL, testAccessKey, testSecretKey, nil)
	tests := []struct {
		name         string
		spec         string
		deadline     time.Duration
		wantDeadline bool
		wantCode     string
		wantOutcome  string
		minElapsed   time.Duration
	}{
		{name: "stall past the client's deadline", spec: "stall=10s", deadline: 200 * time.Millisecond, wantDeadline: true, wantOutcome: outcomeClientGone},
		{name: "stall within the deadline", spec: "stall=150ms", deadline: 10 * time.Second, wantOutcome: outcomeOK, minElapsed: 150 * time.Millisecond},
		{name: "stall then an error", spec: "stall=100ms,error=ThrottlingException", deadline: 10 * time.Second, wantCode: CodeThrottling, wantOutcome: CodeThrottling, minElapsed: 100 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := emu.Stats().Count(OpConverse, tt.wantOutcome)
			ctx, cancel := context.WithTimeout(context.Background(), tt.deadline)
			defer cancel()
			start := time.Now()
			_, err := client.Converse(ctx, txConverse(txModel, "hello"), txWithFault(tt.spec))
			elapsed := time.Since(start)
			if got := errors.Is(err, context.DeadlineExceeded); got != tt.wantDeadline {
				t.Errorf("Converse: %v; deadline exceeded = %v, want %v", err, got, tt.wantDeadline)
			}
			if code, _ := txAPIError(err); code != tt.wantCode {
				t.Errorf("code %q, want %q", code, tt.wantCode)
			}
			if elapsed < tt.minElapsed {
				t.Errorf("answered after %v, want at least %v", elapsed, tt.minElapsed)
			}
			if tt.wantDeadline && elapsed > 5*time.Second {
				t.Errorf("the client waited %v; the stall outlived its deadline", elapsed)
			}
			txWaitFor(t, "outcome "+tt.wantOutcome, func() bool { return emu.Stats().Count(OpConverse, tt.wantOutcome) == before+1 })
		})
	}
	if s := emu.Stats(); s.ClientGone != 1 || s.InFlight != 0 {
		t.Errorf("stats: client gone %d, in flight %d; want 1 and 0", s.ClientGone, s.InFlight)
	}
}

func TestTTFTFault(t *testing.T) {
	t.Parallel()
	_, srv := txServe(t, txSigV4Options(), nil)
	client := txRuntime(t, srv.URL, testAccessKey, testSecretKey, nil)
	const ttft = 300 * time.Millisecond
	ctx := testContext(t)

	t.Run("converse", func(t *testing.T) {
		start := time.Now()
		if _, err := client.Converse(ctx, txConverse(txModel, "hello"), txWithFault("ttft=300ms")); err != nil {
			t.Fatalf("Converse: %v", err)
		}
		if elapsed := time.Since(start); elapsed < ttft {
			t.Errorf("Converse answered after %v, want at least %v", elapsed, ttft)
		}
	})
	t.Run("converse-stream", func(t *testing.T) {
		start := time.Now()
		out, err := client.ConverseStream(ctx, txConverseStream(txModel, "hello"), txWithFault("ttft=300ms"))
		if err != nil {
			t.Fatalf("ConverseStream: %v", err)
		}
		stream := out.GetStream()
		defer stream.Close()
		var firstDelta time.Duration
		stop := false
		for ev := range stream.Events() {
			switch ev.(type) {
			case *types.ConverseStreamOutputMemberContentBlockDelta:
				if firstDelta == 0 {
					firstDelta = time.Since(start)
				}
			case *types.ConverseStreamOutputMemberMessageStop:
				stop = true
			}
		}
		if err := stream.Err(); err != nil || !stop {
			t.Fatalf("stream: err %v, messageStop %v", err, stop)
		}
		if firstDelta < ttft {
			t.Errorf("first token after %v, want at least %v", firstDelta, ttft)
		}
	})
	t.Run("without the fault", func(t *testing.T) {
		start := time.Now()
		if _, err := client.Converse(ctx, txConverse(txModel, "hello")); err != nil {
			t.Fatalf("Converse: %v", err)
		}
		if elapsed := time.Since(start); elapsed >= ttft {
			t.Errorf("Converse without a fault took %v", elapsed)
		}
	})
}

// txAdmin sends an unsigned request to the emulator's own endpoints and decodes the JSON answer.
func txAdmin(t *testing.T, method, url, body string, out any) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(testContext(t), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := txHTTPClient(t, nil).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, url, err, b)
		}
	}
	code, _, _ := strings.Cut(resp.Header.Get("X-Amzn-ErrorType"), ":")
	return resp.StatusCode, code
}

func TestFaultsEndpoint(t *testing.T) {
	t.Parallel()
	_, srv := txServe(t, txSigV4Options(), nil)
	client := txRuntime(t, srv.URL, testAccessKey, testSecretKey, nil)
	url := srv.URL + "/_emulator/faults"
	type faults struct {
		Faults []string `json:"faults"`
	}
	two := []string{"error=ThrottlingException,every=2", "cut-after=2,op=converse-stream"}
	// Steps run in order; each is followed by a GET, and then by Converse calls whose pattern
	// shows the faults in force (a PUT or DELETE restarts their counts; a refused PUT does not).
	steps := []struct {
		name        string
		method      string
		body        string
		wantStatus  int
		wantCode    string
		wantFaults  []string
		wantPattern string
	}{
		{name: "none at start", method: http.MethodGet, wantStatus: 200, wantFaults: []string{}, wantPattern: "...."},
		{name: "put two, blank lines skipped", method: http.MethodPut, body: "error=throttlingException,every=2\n\n  cut-after=2,op=converse-stream\n",
			wantStatus: 200, wantFaults: two, wantPattern: ".X.X"},
		{name: "a bad line refuses the whole put", method: http.MethodPut, body: "error=ThrottlingException,times=1\nerror=Nope\n",
			wantStatus: 400, wantCode: CodeValidation, wantFaults: two, wantPattern: ".X.X"},
		{name: "put replaces", method: http.MethodPut, body: "error=ThrottlingException,times=1", wantStatus: 200,
			wantFaults: []string{"error=ThrottlingException,times=1"}, wantPattern: "X..."},
		{name: "delete clears", method: http.MethodDelete, wantStatus: 200, wantFaults: []string{}, wantPattern: "...."},
		{name: "put again", method: http.MethodPut, body: "error=ThrottlingException", wantStatus: 200,
			wantFaults: []string{"error=ThrottlingException"}, wantPattern: "XX"},
		{name: "empty put clears", method: http.MethodPut, body: "", wantStatus: 200, wantFaults: []string{}, wantPattern: ".."},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			var got faults
			status, code := txAdmin(t, st.method, url, st.body, &got)
			if status != st.wantStatus || code != st.wantCode {
				t.Fatalf("%s: %d %q, want %d %q", st.method, status, code, st.wantStatus, st.wantCode)
			}
			if status == http.StatusOK && !reflect.DeepEqual(got.Faults, st.wantFaults) {
				t.Errorf("%s answered faults %#v, want %#v", st.method, got.Faults, st.wantFaults)
			}
			var listed faults
			if status, _ := txAdmin(t, http.MethodGet, url, "", &listed); status != http.StatusOK || !reflect.DeepEqual(listed.Faults, st.wantFaults) {
				t.Errorf("GET: %d %#v, want %#v", status, listed.Faults, st.wantFaults)
			}
			if got := txPattern(t, client, txModel, len(st.wantPattern)); got != st.wantPattern {
				t.Errorf("pattern %s, want %s", got, st.wantPattern)
			}
		})
	}
}

func TestStats(t *testing.T) {
	t.Parallel()
	emu, srv := txServe(t, txSigV4Options(), nil)
	client := txRuntime(t, srv.URL, testAccessKey, testSecretKey, nil)
	wrong := txRuntime(t, srv.URL, testAccessKey, "wrong", nil)
	ctx := testContext(t)

	for range 2 {
		if _, err := client.Converse(ctx, txConverse(txModel, "hello")); err != nil {
			t.Fatalf("Converse: %v", err)
		}
	}
	_, _ = client.Converse(ctx, txConverse(txModel, "hello"), txWithFault("error=ThrottlingException"))
	_, _ = client.Converse(ctx, txConverse("amazon.no-such-model-v1:0", "hello"))
	_, _ = wrong.Converse(ctx, txConverse(txModel, "hello"))
	if out, err := client.ConverseStream(ctx, txConverseStream(txModel, "hello")); err == nil {
		txDrain(out)
	}
	if out, err := client.ConverseStream(ctx, txConverseStream(txModel, "hello"), txWithFault("error=ThrottlingException,cut-after=1")); err == nil {
		txDrain(out)
	}
	stalled, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	_, _ = client.Converse(stalled, txConverse(txModel, "hello"), txWithFault("stall=10s"))
	cancel()
	if _, err := client.InvokeModel(ctx, txInvoke()); err != nil {
		t.Fatalf("InvokeModel: %v", err)
	}
	if _, err := client.CountTokens(ctx, &bedrockruntime.CountTokensInput{
		ModelId: aws.String("anthropic.claude-haiku-4-5-20251001-v1:0"),
		Input:   &types.CountTokensInputMemberConverse{Value: types.ConverseTokensRequest{Messages: txMessages("hello")}},
	}); err != nil {
		t.Fatalf("CountTokens: %v", err)
	}
	control := bedrock.New(bedrock.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Credentials: client.Options().Credentials,
		Retryer: aws.NopRetryer{}, HTTPClient: txHTTPClient(t, nil)})
	if _, err := control.ListFoundationModels(ctx, nil); err != nil {
		t.Fatalf("ListFoundationModels: %v", err)
	}
	txWaitFor(t, "client_gone", func() bool { return emu.Stats().ClientGone == 1 })

	want := Stats{
		Requests: map[string]map[string]int64{
			OpConverse:       {outcomeOK: 2, CodeThrottling: 1, CodeValidation: 1, CodeInvalidSignature: 1, outcomeClientGone: 1},
			OpConverseStream: {outcomeOK: 1, CodeThrottling: 1},
			OpInvoke:         {outcomeOK: 1},
			OpCountTokens:    {outcomeOK: 1},
			OpListModels:     {outcomeOK: 1},
		},
		ClientGone: 1,
	}
	got := emu.Stats()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Stats() = %+v\nwant     %+v", got, want)
	}
	if got.Count(OpConverse, outcomeOK) != 2 || got.Total(OpConverse) != 6 || got.Total(OpGetModel) != 0 {
		t.Errorf("Count/Total disagree with %v", got.Requests)
	}

	var overHTTP Stats
	if status, _ := txAdmin(t, http.MethodGet, srv.URL+"/_emulator/stats", "", &overHTTP); status != http.StatusOK {
		t.Fatalf("GET /_emulator/stats: %d", status)
	}
	if !reflect.DeepEqual(overHTTP, want) {
		t.Errorf("GET /_emulator/stats = %+v\nwant                 %+v", overHTTP, want)
	}
	// Stats returns a copy: changing it changes nothing.
	got.Requests[OpConverse][outcomeOK] = 99
	if emu.Stats().Count(OpConverse, outcomeOK) != 2 {
		t.Error("Stats() shares its maps with the emulator")
	}
}

// TestReplyFault: a reply fault puts its text in the model's mouth in Bedrock's shape (a text
// block after any reasoning, counted in usage, cut by maxTokens), unary and streamed, under auto
// instead of a tool call but never instead of a forced one; with times=1 the next reply is
// generated again.
func TestReplyFault(t *testing.T) {
	t.Parallel()
	const bad = "Sure, here you go: {\"city\": \"Canberra\""
	weather := `{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}`
	schema := `{"type":"object","properties":{"city":{"type":"string"}},"required":["city"],"additionalProperties":false}`
	tests := []struct {
		name     string
		in       func(t *testing.T) *bedrockruntime.ConverseInput
		wantText string // the whole reply text; "" when a tool is called
		wantStop types.StopReason
	}{
		{"plain text", func(t *testing.T) *bedrockruntime.ConverseInput { return sdkAsk(sdkNova, "Give me JSON.") }, bad, types.StopReasonEndTurn},
		{"instead of native structured output", func(t *testing.T) *bedrockruntime.ConverseInput {
			in := sdkAsk(sdkHaiku45, "Give me JSON.")
			in.OutputConfig = &types.OutputConfig{TextFormat: &types.OutputFormat{Type: types.OutputFormatTypeJsonSchema,
				Structure: &types.OutputFormatStructureMemberJsonSchema{Value: types.JsonSchemaDefinition{Name: aws.String("city"), Schema: aws.String(schema)}}}}
			return in
		}, bad, types.StopReasonEndTurn},
		{"after claude's thinking", func(t *testing.T) *bedrockruntime.ConverseInput {
			in := sdkAsk(sdkSonnet45, "Give me JSON.")
			in.AdditionalModelRequestFields = sdkThinking(1024)
			in.InferenceConfig = &types.InferenceConfiguration{MaxTokens: aws.Int32(2048)}
			return in
		}, bad, types.StopReasonEndTurn},
		{"cut by maxTokens", func(t *testing.T) *bedrockruntime.ConverseInput {
			in := sdkAsk(sdkNova, "Give me JSON.")
			in.InferenceConfig = &types.InferenceConfiguration{MaxTokens: aws.Int32(2)}
			return in
		}, "Sure,", types.StopReasonMaxTokens},
		{"an answer instead of an offered tool", func(t *testing.T) *bedrockruntime.ConverseInput {
			in := sdkAsk(sdkNova, "What is the weather in Paris?")
			in.ToolConfig = &types.ToolConfiguration{Tools: []types.Tool{sdkTool(t, "get_weather", weather)}}
			return in
		}, bad, types.StopReasonEndTurn},
		{"a forced tool is still called", func(t *testing.T) *bedrockruntime.ConverseInput {
			in := sdkAsk(sdkNova, "What is the weather in Paris?")
			in.ToolConfig = &types.ToolConfiguration{Tools: []types.Tool{sdkTool(t, "get_weather", weather)},
				ToolChoice: &types.ToolChoiceMemberTool{Value: types.SpecificToolChoice{Name: aws.String("get_weather")}}}
			return in
		}, "", types.StopReasonToolUse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fault, err := ParseFault("reply=" + url.QueryEscape(bad) + ",times=2")
			if err != nil {
				t.Fatal(err)
			}
			te := sdkStart(t, Options{Faults: []Fault{fault}})
			in := tt.in(t)
			out := sdkConverse(t, te, in)
			if got := sdkReplyText(t, out); got != tt.wantText || out.StopReason != tt.wantStop {
				t.Errorf("Converse: text %q, stop %q; want %q, %q", got, out.StopReason, tt.wantText, tt.wantStop)
			}
			sdkCheckUsage(t, out.Usage)
			if tt.wantText != "" && sdkI32(out.Usage.OutputTokens) < countTokens(tt.wantText) {
				t.Errorf("outputTokens = %d, fewer than the reply's %d", sdkI32(out.Usage.OutputTokens), countTokens(tt.wantText))
			}
			if tt.wantStop == types.StopReasonToolUse && len(sdkToolUses(t, out)) != 1 {
				t.Errorf("content %#v, want the forced call", sdkMessage(t, out).Content)
			}
			if in.AdditionalModelRequestFields != nil {
				sdkReasoning(t, out) // reasoning first, then the injected text
			}
			if tt.wantStop != types.StopReasonToolUse {
				streamed := ""
				for _, ev := range sdkStream(t, te, in) {
					if d, ok := ev.(*types.ConverseStreamOutputMemberContentBlockDelta); ok {
						if text, ok := d.Value.Delta.(*types.ContentBlockDeltaMemberText); ok {
							streamed += text.Value
						}
					}
				}
				if streamed != tt.wantText {
					t.Errorf("ConverseStream text %q, want %q", streamed, tt.wantText)
				}
			}
			// times=2 is spent: the model answers as it would have.
			if got := sdkReplyText(t, sdkConverse(t, te, in)); tt.wantStop != types.StopReasonToolUse && got == tt.wantText {
				t.Errorf("after the fault was spent the reply is still %q", got)
			}
		})
	}
}
