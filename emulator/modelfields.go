package emulator

import (
	"fmt"
	"slices"

	"github.com/strata-gateway/strata/catalog"
)

// anthropicErrorf words an error the way Bedrock relays Claude's own validation errors.
func anthropicErrorf(format string, args ...any) *apiError {
	return validationf("The model returned the following errors: "+format, args...)
}

const thinkingDocs = "Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking"

// checkModelFields validates additionalModelRequestFields, the model-native knobs (bedrock-wire.md
// §2.2), and sets the turn's reasoning from them.
func checkModelFields(m *catalog.Model, req *converseRequest, t *turn) *apiError {
	f := req.AdditionalModelRequestFields
	switch m.Family {
	case catalog.FamilyClaude:
		return checkClaudeFields(m, req, t)
	case catalog.FamilyNova:
		if ic, ok := f["inferenceConfig"].(map[string]any); ok {
			if k, ok := ic["topK"]; ok {
				if n, ok := k.(float64); !ok || n < 0 || n != float64(int(n)) {
					return validationf("Malformed input request: #/inferenceConfig/topK: expected a non-negative integer, please reformat your input and try again.")
				}
			}
		}
		if rc, ok := f["reasoningConfig"].(map[string]any); ok {
			if m.Reasoning != catalog.ReasoningNova {
				return validationf("Malformed input request: extraneous key [reasoningConfig] is not permitted, please reformat your input and try again.")
			}
			switch rc["type"] {
			case "enabled":
				if eff, ok := rc["maxReasoningEffort"]; ok && !slices.Contains([]any{"low", "medium", "high"}, eff) {
					return validationf("Malformed input request: #/reasoningConfig/maxReasoningEffort: %v is not a valid enum value, please reformat your input and try again.", eff)
				}
				t.reasoning.enabled = true
			case "disabled", nil:
			default:
				return validationf("Malformed input request: #/reasoningConfig/type: %v is not a valid enum value, please reformat your input and try again.", rc["type"])
			}
		}
	case catalog.FamilyGPTOSS:
		if eff, ok := f["reasoning_effort"]; ok && !slices.Contains([]any{"low", "medium", "high"}, eff) {
			return validationf("The model returned the following errors: reasoning_effort must be one of low, medium or high, got %v", eff)
		}
		t.reasoning.enabled = true // gpt-oss always reasons; the effort only sets how much
	case catalog.FamilyQwen:
		if eff, ok := f["reasoning_config"]; ok {
			if !slices.Contains([]any{"low", "medium", "high"}, eff) {
				return validationf("The model returned the following errors: reasoning_config must be one of low, medium or high, got %v", eff)
			}
			t.reasoning.enabled = true
		}
	}
	if m.Reasoning == catalog.ReasoningAlways {
		t.reasoning.enabled = true
	}
	return nil
}

func checkClaudeFields(m *catalog.Model, req *converseRequest, t *turn) *apiError {
	f := req.AdditionalModelRequestFields
	if ic := req.InferenceConfig; m.TemperatureOrTopP && ic != nil && ic.Temperature != nil && ic.TopP != nil {
		// Claude Opus 4.1 and the 4.5+ models take one of the two (reported by LiteLLM,
		// bedrock-access-gateway users: BerriAI/litellm#15070).
		return anthropicErrorf("`temperature` and `top_p` cannot both be specified for this model. Please use only one.")
	}
	if k, ok := f["top_k"]; ok {
		if n, ok := k.(float64); !ok || n < 0 || n != float64(int(n)) {
			return anthropicErrorf("top_k: Input should be a valid integer greater than or equal to 0")
		}
	}
	if b, ok := f["anthropic_beta"]; ok {
		if _, ok := b.([]any); !ok {
			return anthropicErrorf("anthropic_beta: Input should be a valid list")
		}
	}
	raw, ok := f["thinking"]
	if !ok {
		return nil
	}
	thinking, ok := raw.(map[string]any)
	if !ok {
		return anthropicErrorf("thinking: Input should be a valid dictionary or object")
	}
	if m.Reasoning != catalog.ReasoningBudget && m.Reasoning != catalog.ReasoningAdaptive {
		return anthropicErrorf("thinking: Extra inputs are not permitted")
	}
	switch thinking["type"] {
	case "disabled":
		return nil
	case "enabled":
		budget, ok := thinking["budget_tokens"].(float64)
		if !ok {
			return anthropicErrorf("thinking.enabled.budget_tokens: Field required")
		}
		if budget < 1024 {
			return anthropicErrorf("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")
		}
		if int(budget) >= t.maxTokens {
			return anthropicErrorf("`max_tokens` must be greater than `thinking.budget_tokens`. %s#max-tokens-and-context-window-size", thinkingDocs)
		}
		t.reasoning = reasoningMode{enabled: true, budget: int(budget), signed: true}
	case "adaptive":
		if m.Reasoning != catalog.ReasoningAdaptive {
			return anthropicErrorf("thinking.type: Input tag 'adaptive' found using 'type' does not match any of the expected tags: 'disabled', 'enabled'")
		}
		t.reasoning = reasoningMode{enabled: true, signed: true}
	default:
		return anthropicErrorf("thinking.type: Input tag '%v' found using 'type' does not match any of the expected tags: 'disabled', 'enabled'%s", thinking["type"], adaptiveTag(m))
	}
	if oc, ok := f["output_config"].(map[string]any); ok {
		if eff, ok := oc["effort"]; ok && !slices.Contains([]any{"low", "medium", "high", "max"}, eff) {
			return anthropicErrorf("output_config.effort: Input should be 'low', 'medium', 'high' or 'max'")
		}
	}
	// What Claude refuses while thinking (bedrock-wire.md §2.2; Anthropic's extended-thinking rules).
	if ic := req.InferenceConfig; ic != nil {
		if ic.Temperature != nil && *ic.Temperature != 1 {
			return anthropicErrorf("`temperature` may only be set to 1 when thinking is enabled. %s#feature-compatibility", thinkingDocs)
		}
		if ic.TopP != nil && *ic.TopP < 0.95 {
			return anthropicErrorf("`top_p` must be greater than or equal to 0.95 or unset when thinking is enabled. %s#feature-compatibility", thinkingDocs)
		}
	}
	if _, ok := f["top_k"]; ok {
		return anthropicErrorf("`top_k` must be unset when thinking is enabled. %s#feature-compatibility", thinkingDocs)
	}
	if t.choice == choiceAny || t.choice == choiceTool {
		return anthropicErrorf("Thinking may not be enabled when tool_choice forces tool use.")
	}
	return checkThinkingBeforeToolUse(req.Messages)
}

func adaptiveTag(m *catalog.Model) string {
	if m.Reasoning == catalog.ReasoningAdaptive {
		return ", 'adaptive'"
	}
	return ""
}

// checkThinkingBeforeToolUse applies Claude's rule that, with thinking on, the assistant turn whose
// tool calls the conversation is answering must start with its thinking block.
func checkThinkingBeforeToolUse(msgs []message) *apiError {
	n := len(msgs)
	if n < 2 || msgs[n-1].Role != "user" || msgs[n-2].Role != "assistant" {
		return nil
	}
	answersTools := slices.ContainsFunc(msgs[n-1].Content, func(b contentBlock) bool { return b.ToolResult != nil })
	asst := msgs[n-2]
	if !answersTools || len(asst.Content) == 0 || asst.Content[0].ReasoningContent != nil {
		return nil
	}
	found := "text"
	if asst.Content[0].ToolUse != nil {
		found = "tool_use"
	}
	return anthropicErrorf("messages.%d.content.0.type: Expected `thinking` or `redacted_thinking`, but found `%s`. When `thinking` is enabled, a final `assistant` message must start with a thinking block (preceeding the lastmost set of `tool_use` and `tool_result` blocks). We recommend you include thinking blocks from previous turns. To avoid this requirement, disable `thinking`. %s",
		n-2, found, fmt.Sprint(thinkingDocs))
}
