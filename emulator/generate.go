package emulator

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"unicode/utf8"
)

// generate answers a turn. The answer depends only on the emulator's seed and the request: a
// reasoning block when asked (encrypted when the conversation carries Anthropic's redacted-thinking
// trigger), then tool calls when a tool is forced, or offered and not yet answered, else text
// (JSON when a schema is given) that quotes the last user message, or the text of an injected
// reply fault. maxTokens and stop sequences cut it as a model's would.
func (e *Emulator) generate(t *turn, f *Fault) reply {
	if t.guardrail != nil {
		return guardrailReply(t.guardrail)
	}
	rng := seededRand(e.opts.Seed, []byte(t.model.ID), t.fingerprint)
	out := reply{stopReason: "end_turn"}
	budget := t.maxTokens
	emit := func(kind blockKind, pieces []string) (replyBlock, bool) {
		kept, used, full := takeTokens(pieces, budget)
		budget -= used
		out.usage.output += used
		return replyBlock{kind: kind, pieces: kept}, full
	}

	if t.reasoning.enabled {
		n := 2 + rng.IntN(4)
		if t.reasoning.budget > 0 {
			n = min(n, max(1, t.reasoning.budget/12))
		}
		b, full := emit(blockReasoning, splitPieces(pickSentences(rng, reasoningSentences, n, t.lastUserText)))
		switch {
		case t.redactThinking && t.reasoning.signed:
			// Claude's redacted_thinking: the same reasoning, counted the same, sent encrypted.
			b = replyBlock{kind: blockRedacted, redacted: redactedData(e.opts.Seed, b.text())}
		case t.reasoning.signed:
			b.signature = signature(e.opts.Seed, b.text())
		}
		out.blocks = append(out.blocks, b)
		if !full {
			out.stopReason = "max_tokens"
			return out
		}
	}

	// An injected reply is the model answering in text where it may: under auto, not when a tool is forced.
	if tools := t.pickTools(); len(tools) > 0 && (t.choice != choiceAuto || !f.repliesText()) {
		if t.choice == choiceAuto {
			b, full := emit(blockText, splitPieces(toolPreamble(tools)))
			out.blocks = append(out.blocks, b)
			if !full {
				out.stopReason = "max_tokens"
				return out
			}
		}
		for _, tool := range tools {
			input, _ := json.Marshal(generateFromSchema(rng, tool.schema)) // generated values always marshal
			if string(input) == "null" {
				input = []byte("{}")
			}
			b, full := emit(blockToolUse, splitJSON(string(input)))
			if !full {
				// A tool call cut short is no call: the model ran out of tokens first.
				out.stopReason = "max_tokens"
				return out
			}
			b.toolID, b.toolName = randomID(rng, "tooluse_", 22), tool.name
			if t.serverTools {
				b.toolType = "tool_use"
			}
			out.blocks = append(out.blocks, b)
		}
		out.stopReason = "tool_use"
		return out
	}

	var text string
	if reply, ok := f.replyText(); ok {
		text = reply
	} else if t.jsonSchema != nil {
		b, _ := json.Marshal(generateFromSchema(rng, t.jsonSchema)) // generated values always marshal
		text = string(b)
	} else {
		text = proseReply(rng, t.lastUserText, t.answeringToolResult)
	}
	if i, seq := firstStop(text, t.stopSequences); i >= 0 {
		text, out.stopReason, out.stopSequence = text[:i], "stop_sequence", seq
	}
	b, full := emit(blockText, splitPieces(text))
	if !full {
		out.stopReason, out.stopSequence = "max_tokens", ""
	}
	out.blocks = append(out.blocks, b)
	return out
}

// pickTools decides whether the turn calls tools, and which: the forced one; else, when any is
// required or under auto unless the turn answers a tool result, every tool whose name the user
// mentions, in the order of the tool list (parallel tool calls, as Claude and Nova make when asked
// for two things at once), or the first tool when none is named.
func (t *turn) pickTools() []toolDef {
	if len(t.tools) == 0 {
		return nil
	}
	switch t.choice {
	case choiceNone:
		return nil
	case choiceTool:
		for _, td := range t.tools {
			if td.name == t.forcedTool {
				return []toolDef{td}
			}
		}
		return nil
	case choiceAuto:
		if t.answeringToolResult {
			return nil
		}
	}
	lower := strings.ToLower(t.lastUserText)
	var named []toolDef
	for _, td := range t.tools {
		if strings.Contains(lower, strings.ToLower(td.name)) {
			named = append(named, td)
		}
	}
	if len(named) > 0 {
		return named
	}
	return t.tools[:1]
}

// toolPreamble is the sentence a model writes before its tool calls under auto.
func toolPreamble(tools []toolDef) string {
	if len(tools) == 1 {
		return "I'll use the " + tools[0].name + " tool for this."
	}
	names := make([]string, len(tools))
	for i, td := range tools {
		names[i] = td.name
	}
	return "I'll use the " + strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1] + " tools for this."
}

// redactedThinkingTrigger is the string Anthropic documents for testing redacted thinking: a
// conversation that carries it gets its thinking back as redacted_thinking, on every turn while
// it stays in the history (test_bedrock_model_thinking_part_redacted.yaml: both turns).
const redactedThinkingTrigger = "ANTHROPIC_MAGIC_STRING_TRIGGER_REDACTED_THINKING_46C9A13E193C177646C7398A98432ECCCE4C1253D5E2D82641AC0E52CC2876CB"

// redactedData is the opaque data of a redacted thinking block: like Anthropic's, base64 text of
// an encrypted blob (here derived from the reasoning, about as long), which Bedrock's
// redactedContent carries as bytes (so base64 again on the wire, as recorded: "RXU4RUNr...").
func redactedData(seed uint64, reasoning string) []byte {
	sum := sha256.Sum256([]byte(fmt.Sprint(seed) + "\x00redacted\x00" + reasoning))
	raw := make([]byte, 0, len(reasoning)+sha256.Size)
	for i := 0; len(raw) < max(len(reasoning), 4*sha256.Size); i++ {
		s := sha256.Sum256(append(sum[:], byte(i), byte(i>>8)))
		raw = append(raw, s[:]...)
	}
	return []byte(base64.StdEncoding.EncodeToString(raw))
}

// proseReply builds a few sentences around a quote of the user's last words.
func proseReply(rng *rand.Rand, lastUser string, afterTool bool) string {
	var b strings.Builder
	if afterTool {
		b.WriteString("Based on the tool result, here is the answer.")
	} else {
		b.WriteString(sentences[rng.IntN(len(sentences))])
	}
	if q := quote(lastUser, 240); q != "" {
		b.WriteString(" You wrote: \"")
		b.WriteString(q)
		b.WriteString("\".")
	}
	for range 1 + rng.IntN(4) {
		b.WriteByte(' ')
		b.WriteString(sentences[rng.IntN(len(sentences))])
	}
	return b.String()
}

func pickSentences(rng *rand.Rand, from []string, n int, topic string) string {
	var b strings.Builder
	if q := quote(topic, 80); q != "" {
		b.WriteString("The request is about \"" + q + "\". ")
	}
	for i := range n {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(from[rng.IntN(len(from))])
	}
	return b.String()
}

// quote shortens s to at most n bytes on a rune boundary, on one line.
func quote(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// firstStop returns where the earliest stop sequence starts in text, and which one.
func firstStop(text string, stops []string) (int, string) {
	at, seq := -1, ""
	for _, s := range stops {
		if s == "" {
			continue
		}
		if i := strings.Index(text, s); i >= 0 && (at < 0 || i < at) {
			at, seq = i, s
		}
	}
	return at, seq
}

// splitPieces cuts text into the pieces a model emits: each word with the space before it.
func splitPieces(text string) []string {
	var pieces []string
	start := 0
	for i := 1; i < len(text); i++ {
		if text[i] == ' ' && text[i-1] != ' ' {
			pieces = append(pieces, text[start:i])
			start = i
		}
	}
	if start < len(text) {
		pieces = append(pieces, text[start:])
	}
	return pieces
}

// splitJSON cuts a JSON text into fragments the way tool input streams: a few bytes at a time.
func splitJSON(s string) []string {
	const size = 12
	var out []string
	for len(s) > size {
		n := size
		for n < len(s) && !utf8.RuneStart(s[n]) {
			n++
		}
		out = append(out, s[:n])
		s = s[n:]
	}
	if s != "" {
		out = append(out, s)
	}
	return out
}

// takeTokens keeps the pieces that fit in budget tokens, and reports whether all did.
func takeTokens(pieces []string, budget int) ([]string, int, bool) {
	used := 0
	for i, p := range pieces {
		n := max(1, countTokens(p))
		if used+n > budget {
			return pieces[:i], used, false
		}
		used += n
	}
	return pieces, used, true
}

// guardrailBlockedMessage is a guardrail's default blocked-input message.
const guardrailBlockedMessage = "Sorry, the model cannot answer this question."

// guardrailReply is Bedrock's answer when a guardrail blocks the input: the guardrail's message in
// place of the model's, no model output, and the assessment in trace.guardrail when asked for.
func guardrailReply(hit *guardrailHit) reply {
	out := reply{
		stopReason: "guardrail_intervened",
		blocks:     []replyBlock{{kind: blockText, pieces: splitPieces(guardrailBlockedMessage)}},
	}
	out.usage.output = 0
	if hit.trace {
		out.trace = map[string]any{"guardrail": map[string]any{
			"actionReason": "Guardrail blocked.",
			"inputAssessment": map[string]any{hit.id: map[string]any{
				"wordPolicy": map[string]any{"customWords": []any{map[string]any{"action": "BLOCKED", "detected": true, "match": hit.word}}},
			}},
		}}
	}
	return out
}
