package bedrock

import (
	"sync"
	"testing"

	"github.com/strata-gateway/strata/backend"
	"github.com/strata-gateway/strata/emulator"
)

// TestConcurrentStreams runs many streams at once on the one shared client. Under -race it
// fails without ownEventStreamCodec: the SDK's client-wide event-stream codec is written by
// every stream's reader goroutine (aws/smithy-go#714).
func TestConcurrentStreams(t *testing.T) {
	h := newHarness(t, func(eo *emulator.Options, _ *Options) { eo.TokensPerSecond = 2000 })
	ctx := callCtx(t)
	const n = 8
	var wg sync.WaitGroup
	texts := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := h.b.ChatStream(ctx, &backend.ChatRequest{ModelID: novaMicro, Messages: []backend.Message{userText("tell me about streams")}})
			if err != nil {
				errs[i] = err
				return
			}
			defer s.Close()
			for {
				ev, err := s.Recv()
				if err != nil {
					break
				}
				texts[i] += ev.Text
			}
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("stream %d: %v", i, errs[i])
		}
		if texts[i] == "" || texts[i] != texts[0] {
			t.Fatalf("stream %d said %q, stream 0 %q", i, texts[i], texts[0])
		}
	}
}
