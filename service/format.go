package service

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/strata-gateway/strata/backend"
	stratav1 "github.com/strata-gateway/strata/gen/strata/v1"
)

// formatNamePattern is what Bedrock takes as a structured-output or tool name.
var formatNamePattern = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// replyFormat is a request's response format, compiled: the backend's form and the validator of
// replies.
type replyFormat struct {
	backend backend.ResponseFormat
	// schema validates a JSON-schema reply; nil for a JSON object.
	schema *jsonschema.Schema
}

// compileFormat checks a request's response_format and compiles its schema. It returns nil for a
// text reply.
func compileFormat(rf *stratav1.ResponseFormat, add func(field, format string, args ...any)) *replyFormat {
	switch rf.GetType() {
	case stratav1.ResponseFormat_TYPE_UNSPECIFIED, stratav1.ResponseFormat_TYPE_TEXT:
		return nil
	case stratav1.ResponseFormat_TYPE_JSON_OBJECT, stratav1.ResponseFormat_TYPE_JSON_SCHEMA:
	default:
		add("response_format.type", "unknown type %v", rf.GetType())
		return nil
	}
	if n := rf.GetName(); n != "" && !formatNamePattern.MatchString(n) {
		add("response_format.name", "must be 1 to 64 letters, digits, _ or -, got %q", n)
		return nil
	}
	f := &replyFormat{backend: backend.ResponseFormat{Kind: backend.FormatJSONObject, Name: rf.GetName()}}
	if rf.GetType() == stratav1.ResponseFormat_TYPE_JSON_OBJECT {
		return f
	}
	if rf.GetSchema() == nil {
		add("response_format.schema", "is required with TYPE_JSON_SCHEMA")
		return nil
	}
	f.backend.Kind, f.backend.Schema = backend.FormatJSONSchema, rf.GetSchema().AsMap()
	raw, err := json.Marshal(f.backend.Schema)
	if err == nil {
		f.schema, err = compileSchema(raw)
	}
	if err != nil {
		add("response_format.schema", "is not a valid JSON Schema: %v", err)
		return nil
	}
	return f
}

func compileSchema(raw []byte) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	// No loader: a caller's $ref must never make the server read a file or fetch a URL (the
	// default loader opens file: URLs, relative ones against the working directory).
	c.UseLoader(jsonschema.SchemeURLLoader{})
	if err := c.AddResource("response_format.json", doc); err != nil {
		return nil, err
	}
	return c.Compile("response_format.json")
}

// errFormat is a reply that does not match the response format; its text names the rule.
type errFormat struct{ rule string }

func (e *errFormat) Error() string { return e.rule }

// check validates a reply's text and returns the JSON itself: a reply wrapped in one Markdown
// code fence, as models asked in words sometimes write it, is unwrapped.
func (f *replyFormat) check(text string) (string, error) {
	text = unfence(strings.TrimSpace(text))
	if text == "" {
		return "", &errFormat{"the reply is empty, not a JSON object"}
	}
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(text))
	if err != nil {
		return "", &errFormat{"the reply is not JSON: " + err.Error()}
	}
	if _, ok := v.(map[string]any); !ok {
		return "", &errFormat{"the reply is JSON but not an object"}
	}
	if f.schema != nil {
		if err := f.schema.Validate(v); err != nil {
			var ve *jsonschema.ValidationError
			if errors.As(err, &ve) {
				return "", &errFormat{"the reply does not match the schema: " + strings.Join(strings.Fields(ve.Error()), " ")}
			}
			return "", &errFormat{"the reply does not match the schema: " + err.Error()}
		}
	}
	return text, nil
}

// unfence strips one ```json ... ``` fence around the whole text.
func unfence(text string) string {
	rest, ok := strings.CutPrefix(text, "```")
	if !ok || !strings.HasSuffix(rest, "```") {
		return text
	}
	rest = strings.TrimSuffix(rest, "```")
	if i := strings.IndexByte(rest, '\n'); i >= 0 && !strings.ContainsAny(rest[:i], "{[") {
		rest = rest[i+1:] // the fence's language tag
	}
	return strings.TrimSpace(rest)
}

// feedback is the turn that asks the model to correct a reply that broke the format.
func feedback(reply string, broke error) []backend.Message {
	if strings.TrimSpace(reply) == "" {
		reply = "(no reply)" // Bedrock refuses a blank text block
	}
	return []backend.Message{
		{Role: backend.RoleAssistant, Parts: []backend.Part{{Kind: backend.PartText, Text: reply}}},
		{Role: backend.RoleUser, Parts: []backend.Part{{Kind: backend.PartText, Text: fmt.Sprintf(
			"That reply cannot be used: %v. Reply again with only the corrected JSON object.", broke)}}},
	}
}

// joinText is a reply's text, its text parts joined.
func joinText(parts []backend.Part) string {
	var sb strings.Builder
	for _, p := range parts {
		if p.Kind == backend.PartText {
			sb.WriteString(p.Text)
		}
	}
	return sb.String()
}

// withText replaces a reply's text parts with one holding text, where the first one was.
func withText(parts []backend.Part, text string) []backend.Part {
	out := make([]backend.Part, 0, len(parts))
	placed := false
	for _, p := range parts {
		if p.Kind != backend.PartText {
			out = append(out, p)
			continue
		}
		if !placed {
			out = append(out, backend.Part{Kind: backend.PartText, Text: text})
			placed = true
		}
	}
	if !placed {
		out = append(out, backend.Part{Kind: backend.PartText, Text: text})
	}
	return out
}

// addUsage is the usage of two calls together.
func addUsage(a, b backend.Usage) backend.Usage {
	return backend.Usage{Input: a.Input + b.Input, Output: a.Output + b.Output, CacheRead: a.CacheRead + b.CacheRead, CacheWrite: a.CacheWrite + b.CacheWrite,
		CacheWrite1h: a.CacheWrite1h + b.CacheWrite1h}
}
