package emulator

import (
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
)

// TestConverseParallelToolCalls: a question that names two offered tools gets both called in one
// turn (in the order of the tool list), and Bedrock's rules hold for the next turn: it must answer
// both calls, and then the model answers in text.
func TestConverseParallelToolCalls(t *testing.T) {
	t.Parallel()
	te := sdkStart(t, Options{})
	weather := `{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}`
	clock := `{"type":"object","properties":{"zone":{"type":"string","enum":["UTC","CET"]}},"required":["zone"]}`
	tests := []struct {
		name, model string
		choice      types.ToolChoice
		fields      string
		wantFirst   string // the first block's kind: text, reasoning or tool
	}{
		{"nova under auto", sdkNova, nil, "", "text"},
		{"claude under any", sdkHaiku45, &types.ToolChoiceMemberAny{}, "", "tool"},
		{"claude thinking", sdkSonnet45, nil, `{"thinking":{"type":"enabled","budget_tokens":1024}}`, "reasoning"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := sdkAsk(tt.model, "Call get_time and get_weather for Paris, please.")
			in.ToolConfig = &types.ToolConfiguration{Tools: []types.Tool{sdkTool(t, "get_weather", weather), sdkTool(t, "get_time", clock)}, ToolChoice: tt.choice}
			in.InferenceConfig = &types.InferenceConfiguration{MaxTokens: aws.Int32(4096)}
			if tt.fields != "" {
				in.AdditionalModelRequestFields = sdkDoc(t, tt.fields)
			}
			out := sdkConverse(t, te, in)
			uses := sdkToolUses(t, out)
			if out.StopReason != types.StopReasonToolUse || len(uses) != 2 {
				t.Fatalf("stop %q, %d tool calls; want tool_use with two", out.StopReason, len(uses))
			}
			if a, b := aws.ToString(uses[0].Name), aws.ToString(uses[1].Name); a != "get_weather" || b != "get_time" {
				t.Errorf("calls %s, %s; want get_weather then get_time (the tool list's order)", a, b)
			}
			if aws.ToString(uses[0].ToolUseId) == aws.ToString(uses[1].ToolUseId) {
				t.Error("the two calls share an id")
			}
			sdkValidate(t, sdkSchema(t, weather), sdkDocJSON(t, uses[0].Input))
			sdkValidate(t, sdkSchema(t, clock), sdkDocJSON(t, uses[1].Input))
			var first string
			switch sdkMessage(t, out).Content[0].(type) {
			case *types.ContentBlockMemberText:
				first = "text"
			case *types.ContentBlockMemberReasoningContent:
				first = "reasoning"
			case *types.ContentBlockMemberToolUse:
				first = "tool"
			}
			if first != tt.wantFirst {
				t.Errorf("the reply starts with %s, want %s", first, tt.wantFirst)
			}

			result := func(id *string, text string) types.ContentBlock {
				return &types.ContentBlockMemberToolResult{Value: types.ToolResultBlock{ToolUseId: id,
					Content: []types.ToolResultContentBlock{&types.ToolResultContentBlockMemberText{Value: text}}}}
			}
			next := *in
			// Under any the model would have to call a tool again: the answer is asked for under auto.
			next.ToolConfig = &types.ToolConfiguration{Tools: in.ToolConfig.Tools}
			// One result is not enough: Bedrock wants every call of the turn answered.
			next.Messages = []types.Message{in.Messages[0], sdkMessage(t, out), sdkUser(result(uses[0].ToolUseId, "18 °C"))}
			if _, err := te.runtime.Converse(testContext(t), &next); err == nil || !strings.Contains(err.Error(), "Expected toolResult blocks") {
				t.Errorf("a turn answering one of two calls: %v, want Bedrock's refusal", err)
			}
			next.Messages = []types.Message{in.Messages[0], sdkMessage(t, out), sdkUser(result(uses[0].ToolUseId, "18 °C"), result(uses[1].ToolUseId, "14:05 CET"))}
			answer := sdkConverse(t, te, &next)
			if answer.StopReason != types.StopReasonEndTurn || len(sdkToolUses(t, answer)) != 0 || !strings.Contains(sdkReplyText(t, answer), "18 °C 14:05 CET") {
				t.Errorf("after both results: stop %q, text %q; want an answer quoting both", answer.StopReason, sdkReplyText(t, answer))
			}

			// Streamed: one start, input fragments and stop per call, at their own block indexes.
			starts := map[int32]string{}
			inputs := map[int32]string{}
			for _, ev := range sdkStream(t, te, in) {
				switch e := ev.(type) {
				case *types.ConverseStreamOutputMemberContentBlockStart:
					if tu, ok := e.Value.Start.(*types.ContentBlockStartMemberToolUse); ok {
						starts[aws.ToInt32(e.Value.ContentBlockIndex)] = aws.ToString(tu.Value.Name)
					}
				case *types.ConverseStreamOutputMemberContentBlockDelta:
					if d, ok := e.Value.Delta.(*types.ContentBlockDeltaMemberToolUse); ok {
						inputs[aws.ToInt32(e.Value.ContentBlockIndex)] += aws.ToString(d.Value.Input)
					}
				}
			}
			if len(starts) != 2 || len(inputs) != 2 {
				t.Fatalf("streamed tool starts %v, inputs %v; want two of each", starts, inputs)
			}
			for idx, name := range starts {
				if !json.Valid([]byte(inputs[idx])) {
					t.Errorf("streamed input of %s (block %d) is %q, not JSON", name, idx, inputs[idx])
				}
			}
		})
	}
	t.Run("one tool named, one call", func(t *testing.T) {
		t.Parallel()
		in := sdkAsk(sdkNova, "Use get_time.")
		in.ToolConfig = &types.ToolConfiguration{Tools: []types.Tool{sdkTool(t, "get_weather", weather), sdkTool(t, "get_time", clock)}}
		if uses := sdkToolUses(t, sdkConverse(t, te, in)); len(uses) != 1 || aws.ToString(uses[0].Name) != "get_time" {
			t.Errorf("calls %v, want get_time alone", uses)
		}
	})
}

// TestConverseStreamToolWithoutArguments: a call of a tool that takes no arguments is a toolUse
// block with input {} in Converse, and in ConverseStream a contentBlockStart and contentBlockStop
// with no toolUse.input delta between them, as Bedrock streams it.
func TestConverseStreamToolWithoutArguments(t *testing.T) {
	t.Parallel()
	te := sdkStart(t, Options{})
	for _, model := range []string{sdkNova, sdkHaiku45} {
		t.Run(model, func(t *testing.T) {
			t.Parallel()
			in := sdkAsk(model, "What time is it?")
			in.ToolConfig = &types.ToolConfiguration{Tools: []types.Tool{sdkTool(t, "now", `{"type":"object","properties":{}}`)},
				ToolChoice: &types.ToolChoiceMemberAny{}}
			uses := sdkToolUses(t, sdkConverse(t, te, in))
			if len(uses) != 1 || string(sdkDocJSON(t, uses[0].Input)) != "{}" {
				t.Fatalf("calls %v, want one with input {}", uses)
			}
			var kinds []string
			for _, ev := range sdkStream(t, te, in) {
				switch e := ev.(type) {
				case *types.ConverseStreamOutputMemberContentBlockStart:
					kinds = append(kinds, "start")
				case *types.ConverseStreamOutputMemberContentBlockDelta:
					if _, ok := e.Value.Delta.(*types.ContentBlockDeltaMemberToolUse); ok {
						kinds = append(kinds, "input")
					}
				case *types.ConverseStreamOutputMemberContentBlockStop:
					kinds = append(kinds, "stop")
				}
			}
			if !slices.Equal(kinds, []string{"start", "stop"}) {
				t.Errorf("tool block events %v, want start, stop", kinds)
			}
		})
	}
}

// TestRedactedThinking: a conversation that carries Anthropic's redacted-thinking test string gets
// Claude's thinking back encrypted, as recorded in test_bedrock_model_thinking_part_redacted.yaml:
// a reasoningContent.redactedContent block before the text in Converse, one redactedContent delta
// in ConverseStream, redacted_thinking in Claude's native body; sent back, the block is accepted
// and the next turn is redacted too, while the string stays in the history.
func TestRedactedThinking(t *testing.T) {
	t.Parallel()
	te := sdkStart(t, Options{})
	ask := func(msgs ...types.Message) *bedrockruntime.ConverseInput {
		return &bedrockruntime.ConverseInput{ModelId: aws.String("us.anthropic.claude-3-7-sonnet-20250219-v1:0"), Messages: msgs,
			AdditionalModelRequestFields: sdkThinking(1024)}
	}
	redacted := func(t *testing.T, out *bedrockruntime.ConverseOutput) []byte {
		t.Helper()
		content := sdkMessage(t, out).Content
		rc, ok := content[0].(*types.ContentBlockMemberReasoningContent)
		if !ok || len(content) != 2 {
			t.Fatalf("content %#v, want reasoning then text", content)
		}
		r, ok := rc.Value.(*types.ReasoningContentBlockMemberRedactedContent)
		if !ok {
			t.Fatalf("reasoning is %T, want redactedContent", rc.Value)
		}
		// Anthropic's data is base64 text; Bedrock carries its bytes.
		if _, err := base64.StdEncoding.DecodeString(string(r.Value)); err != nil || len(r.Value) < 64 {
			t.Errorf("redacted data %q: want Anthropic's base64 text (%v)", r.Value, err)
		}
		return r.Value
	}
	first := ask(sdkUser(sdkText(redactedThinkingTrigger)))
	out := sdkConverse(t, te, first)
	data := redacted(t, out)
	sdkCheckUsage(t, out.Usage)

	var streamed []byte
	var reasoningText string
	for _, ev := range sdkStream(t, te, first) {
		if d, ok := ev.(*types.ConverseStreamOutputMemberContentBlockDelta); ok {
			if rd, ok := d.Value.Delta.(*types.ContentBlockDeltaMemberReasoningContent); ok {
				switch v := rd.Value.(type) {
				case *types.ReasoningContentBlockDeltaMemberRedactedContent:
					streamed = append(streamed, v.Value...)
				case *types.ReasoningContentBlockDeltaMemberText:
					reasoningText += v.Value
				}
			}
		}
	}
	if string(streamed) != string(data) || reasoningText != "" {
		t.Errorf("streamed redacted %q, reasoning text %q; want the unary reply's data and no text", streamed, reasoningText)
	}

	second := ask(first.Messages[0], sdkMessage(t, out), sdkUser(sdkText("What was that?")))
	redacted(t, sdkConverse(t, te, second))

	plain := sdkConverse(t, te, ask(sdkUser(sdkText("Is 17 a prime number?"))))
	if _, sig := sdkReasoning(t, plain); sig == "" {
		t.Error("without the trigger the thinking is not signed text")
	}

	// Claude's native body on InvokeModel: a redacted_thinking block with the same data.
	body := `{"anthropic_version":"bedrock-2023-05-31","max_tokens":2048,"thinking":{"type":"enabled","budget_tokens":1024},` +
		`"messages":[{"role":"user","content":"` + redactedThinkingTrigger + `"}]}`
	inv, err := te.runtime.InvokeModel(testContext(t), &bedrockruntime.InvokeModelInput{ModelId: first.ModelId,
		ContentType: aws.String("application/json"), Body: []byte(body)})
	if err != nil {
		t.Fatalf("InvokeModel: %v", err)
	}
	var native struct {
		Content []struct{ Type, Data string } `json:"content"`
	}
	if err := json.Unmarshal(inv.Body, &native); err != nil || len(native.Content) == 0 || native.Content[0].Type != "redacted_thinking" || native.Content[0].Data == "" {
		t.Errorf("native content %s, want redacted_thinking first (%v)", inv.Body, err)
	}
}
