package corpus

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// The cassette format written by vcrpy through pydantic-ai's json_body_serializer. Bodies and
// header values are kept as nodes: a value may be a plain string, a !!binary (base64) scalar, or,
// for JSON bodies, a parsed_body tree whose key order and number spelling Load preserves.
type yamlCassette struct {
	Interactions []yamlInteraction `yaml:"interactions"`
}

type yamlInteraction struct {
	Request  yamlRequest  `yaml:"request"`
	Response yamlResponse `yaml:"response"`
}

type yamlRequest struct {
	Method     string                 `yaml:"method"`
	URI        string                 `yaml:"uri"`
	Headers    map[string][]yaml.Node `yaml:"headers"`
	Body       yaml.Node              `yaml:"body"`
	ParsedBody yaml.Node              `yaml:"parsed_body"`
}

type yamlResponse struct {
	Status struct {
		Code int `yaml:"code"`
	} `yaml:"status"`
	Headers map[string][]yaml.Node `yaml:"headers"`
	Body    struct {
		String yaml.Node `yaml:"string"`
	} `yaml:"body"`
	ParsedBody yaml.Node `yaml:"parsed_body"`
}

// Load reads every *.yaml cassette under dir/converse and dir/embeddings, sorted by name.
// Exchanges with hosts other than Bedrock Runtime are listed in [Cassette.Skipped].
func Load(dir string) ([]Cassette, error) {
	var out []Cassette
	for _, sub := range []string{"converse", "embeddings"} {
		files, err := filepath.Glob(filepath.Join(dir, sub, "*.yaml"))
		if err != nil {
			return nil, fmt.Errorf("corpus: %w", err)
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("corpus: no cassettes in %s", filepath.Join(dir, sub))
		}
		sort.Strings(files)
		for _, f := range files {
			c, err := loadCassette(f)
			if err != nil {
				return nil, err
			}
			c.Name = path.Join(sub, strings.TrimSuffix(filepath.Base(f), ".yaml"))
			out = append(out, c)
		}
	}
	return out, nil
}

func loadCassette(file string) (Cassette, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return Cassette{}, fmt.Errorf("corpus: %w", err)
	}
	var yc yamlCassette
	if err := yaml.Unmarshal(raw, &yc); err != nil {
		return Cassette{}, fmt.Errorf("corpus: %s: %w", file, err)
	}
	if len(yc.Interactions) == 0 {
		return Cassette{}, fmt.Errorf("corpus: %s: no interactions", file)
	}
	c := Cassette{Path: file}
	for i, yi := range yc.Interactions {
		if !isBedrockRuntime(yi.Request.URI) {
			c.Skipped = append(c.Skipped, yi.Request.URI)
			continue
		}
		in, err := convertInteraction(yi)
		if err != nil {
			return Cassette{}, fmt.Errorf("corpus: %s: interaction %d: %w", file, i, err)
		}
		in.Index = i
		c.Interactions = append(c.Interactions, in)
	}
	return c, nil
}

// isBedrockRuntime reports whether uri addresses the Bedrock Runtime data plane
// (bedrock-runtime.{region}.amazonaws.com, or its -fips variant).
func isBedrockRuntime(uri string) bool {
	u, err := url.Parse(uri)
	if err != nil {
		return false
	}
	h := u.Hostname()
	return strings.HasPrefix(h, "bedrock-runtime") && strings.HasSuffix(h, ".amazonaws.com")
}

func convertInteraction(yi yamlInteraction) (Interaction, error) {
	u, err := url.Parse(yi.Request.URI)
	if err != nil {
		return Interaction{}, err
	}
	req := Request{
		Method: yi.Request.Method,
		URI:    yi.Request.URI,
		// EscapedPath keeps %3A and %2F as recorded: it returns RawPath whenever RawPath is a
		// valid encoding of Path, which a recorded SDK path always is.
		Path:      u.EscapedPath(),
		Operation: OpOther,
	}
	if req.ModelID, req.Operation, err = parseModelPath(req.Path); err != nil {
		return Interaction{}, err
	}
	if req.Headers, err = convertHeaders(yi.Request.Headers); err != nil {
		return Interaction{}, fmt.Errorf("request headers: %w", err)
	}
	if req.Body, _, err = convertBody(&yi.Request.Body, &yi.Request.ParsedBody); err != nil {
		return Interaction{}, fmt.Errorf("request body: %w", err)
	}

	resp := Response{Status: yi.Response.Status.Code}
	if resp.Status < 100 || resp.Status > 599 {
		return Interaction{}, fmt.Errorf("response status %d", resp.Status)
	}
	if resp.Headers, err = convertHeaders(yi.Response.Headers); err != nil {
		return Interaction{}, fmt.Errorf("response headers: %w", err)
	}
	if resp.Body, resp.Reserialized, err = convertBody(&yi.Response.Body.String, &yi.Response.ParsedBody); err != nil {
		return Interaction{}, fmt.Errorf("response body: %w", err)
	}
	resp.IsEventStream = resp.Headers.Get("Content-Type") == eventStreamContentType
	return Interaction{Request: req, Response: resp}, nil
}

// parseModelPath splits "/model/{escaped id}/{operation}"; other paths are OpOther with no id.
func parseModelPath(escaped string) (string, Operation, error) {
	parts := strings.Split(escaped, "/")
	if len(parts) != 4 || parts[0] != "" || parts[1] != "model" {
		return "", OpOther, nil
	}
	id, err := url.PathUnescape(parts[2])
	if err != nil {
		return "", "", fmt.Errorf("model id in %q: %w", escaped, err)
	}
	switch op := Operation(parts[3]); op {
	case OpConverse, OpConverseStream, OpInvoke, OpInvokeWithResponseStream, OpCountTokens:
		return id, op, nil
	default:
		return id, OpOther, nil
	}
}

func convertHeaders(in map[string][]yaml.Node) (http.Header, error) {
	h := make(http.Header, len(in))
	for name, values := range in {
		for i := range values {
			b, err := scalarBytes(&values[i])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			h.Add(name, string(b))
		}
	}
	return h, nil
}

// convertBody returns the body from a raw scalar (plain or !!binary) or, failing that, from a
// parsed_body tree re-encoded as compact JSON; reserialized reports the latter.
func convertBody(raw, parsed *yaml.Node) (body []byte, reserialized bool, err error) {
	if raw.Kind != 0 {
		body, err = scalarBytes(raw)
		return body, false, err
	}
	if parsed.Kind == 0 {
		return nil, false, nil
	}
	var buf bytes.Buffer
	if err := writeJSON(&buf, parsed); err != nil {
		return nil, false, err
	}
	return buf.Bytes(), true, nil
}

// scalarBytes decodes a scalar node: !!binary values are base64 (vcrpy writes Python bytes
// that way), !!null is empty, anything else is its literal text.
func scalarBytes(n *yaml.Node) ([]byte, error) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind != yaml.ScalarNode {
		return nil, fmt.Errorf("line %d: want a scalar, got kind %d", n.Line, n.Kind)
	}
	switch n.ShortTag() {
	case "!!binary":
		b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(n.Value), ""))
		if err != nil {
			return nil, fmt.Errorf("line %d: !!binary: %w", n.Line, err)
		}
		return b, nil
	case "!!null":
		return nil, nil
	default:
		return []byte(n.Value), nil
	}
}

// writeJSON writes a YAML tree as compact JSON, keeping mapping order and the recorded spelling
// of numbers (7006652.0 stays 7006652.0), so the bytes are as close to the original body as the
// recording allows.
func writeJSON(buf *bytes.Buffer, n *yaml.Node) error {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) != 1 {
			return fmt.Errorf("line %d: document with %d nodes", n.Line, len(n.Content))
		}
		return writeJSON(buf, n.Content[0])
	case yaml.AliasNode:
		return writeJSON(buf, n.Alias)
	case yaml.MappingNode:
		buf.WriteByte('{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			if i > 0 {
				buf.WriteByte(',')
			}
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: non-scalar mapping key", k.Line)
			}
			writeJSONString(buf, k.Value)
			buf.WriteByte(':')
			if err := writeJSON(buf, n.Content[i+1]); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
		return nil
	case yaml.SequenceNode:
		buf.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeJSON(buf, c); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
		return nil
	case yaml.ScalarNode:
		return writeJSONScalar(buf, n)
	default:
		return fmt.Errorf("line %d: unexpected YAML node kind %d", n.Line, n.Kind)
	}
}

func writeJSONScalar(buf *bytes.Buffer, n *yaml.Node) error {
	switch n.ShortTag() {
	case "!!null":
		buf.WriteString("null")
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		buf.WriteString(strconv.FormatBool(b))
	case "!!int", "!!float":
		if isJSONNumber(n.Value) {
			buf.WriteString(n.Value)
			return nil
		}
		// YAML spellings JSON lacks (0x1F, +1, 1_000): normalise through float64.
		var f float64
		if err := n.Decode(&f); err != nil {
			return fmt.Errorf("line %d: number %q: %w", n.Line, n.Value, err)
		}
		b, err := json.Marshal(f)
		if err != nil {
			return fmt.Errorf("line %d: number %q: %w", n.Line, n.Value, err)
		}
		buf.Write(b)
	default: // !!str, and scalars YAML would resolve otherwise (!!timestamp, !!binary): text
		writeJSONString(buf, n.Value)
	}
	return nil
}

func isJSONNumber(s string) bool {
	if s == "" || (s[0] != '-' && (s[0] < '0' || s[0] > '9')) {
		return false
	}
	var num json.Number
	return json.Unmarshal([]byte(s), &num) == nil
}

// writeJSONString writes s as a JSON string without HTML escaping: bodies such as
// "<thinking>" must not turn into "\u003cthinking\u003e".
func writeJSONString(buf *bytes.Buffer, s string) {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)           // a string always encodes
	buf.Truncate(buf.Len() - 1) // Encode appends '\n'
}
