// Package corpus loads the recorded Bedrock Runtime exchanges in ../shared/bedrock-corpus and
// replays them over HTTP.
//
// The recordings are VCR cassettes from the pydantic-ai test suite (MIT License, Copyright (c)
// Pydantic Services Inc.): real requests to bedrock-runtime.*.amazonaws.com and what the real
// service sent back. Strata uses them two ways: the [Replayer] serves them to the real
// aws-sdk-go-v2 client so tests can check what the client parses, and the emulator's fidelity
// tests compare its responses with their shapes (docs: ../shared/bedrock-wire.md §5.4, §8).
package corpus

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// EnvDir names the environment variable that overrides where [Dir] looks for the corpus.
const EnvDir = "STRATA_BEDROCK_CORPUS"

// Operation is the Bedrock Runtime operation a recorded request addressed, taken from the last
// segment of its path (POST /model/{modelId}/{operation}).
type Operation string

// The operations in the corpus; OpOther is any other Bedrock path.
const (
	OpConverse                 Operation = "converse"
	OpConverseStream           Operation = "converse-stream"
	OpInvoke                   Operation = "invoke"
	OpInvokeWithResponseStream Operation = "invoke-with-response-stream"
	OpCountTokens              Operation = "count-tokens"
	OpOther                    Operation = "other"
)

const (
	eventStreamContentType = "application/vnd.amazon.eventstream"
	errorTypeNamespace     = ":http://internal.amazon.com/coral/com.amazon.bedrock/"
	// searchAboveModuleRoot is how many directories above the module root Dir still looks in:
	// one, for CI's layout (shared/ is a sibling of the clone).
	searchAboveModuleRoot = 1
)

// Cassette is one recorded test: a YAML file and the Bedrock exchanges in it, in recorded order.
type Cassette struct {
	// Name is the file's path under the corpus directory without ".yaml",
	// e.g. "converse/test_bedrock_model".
	Name string
	// Path is the file's path on disk.
	Path string
	// Interactions are the exchanges with Bedrock Runtime, in recorded order.
	Interactions []Interaction
	// Skipped lists the URIs of recorded exchanges with other hosts (documents fetched by URL,
	// an OpenAI call); they are not part of Interactions.
	Skipped []string
}

// Interaction is one recorded request and the response Bedrock sent to it.
type Interaction struct {
	// Index is the interaction's position in the cassette file, counting skipped ones, so that
	// names stay stable when reading the YAML.
	Index    int
	Request  Request
	Response Response
}

// Request is a recorded request.
type Request struct {
	Method string
	// URI is the full recorded URL, e.g.
	// "https://bedrock-runtime.us-east-1.amazonaws.com/model/us.amazon.nova-micro-v1%3A0/converse".
	URI string
	// Path is the escaped path only, as a server sees it on the wire, e.g.
	// "/model/us.amazon.nova-micro-v1%3A0/converse" (bedrock-wire.md §1.3).
	Path string
	// ModelID is the unescaped model id from the path, e.g. "us.amazon.nova-micro-v1:0".
	ModelID   string
	Operation Operation
	// Headers holds the recorded request headers with !!binary values decoded. The recorder
	// removed Authorization and X-Amz-Date.
	Headers http.Header
	Body    []byte
}

// Response is a recorded response.
type Response struct {
	Status int
	// Headers holds the recorded response headers. The recorder stripped x-amzn-requestid and
	// x-amzn-errortype from most cassettes; see [ErrorTypeForStatus].
	Headers http.Header
	// Body is the response body: the recorded bytes, or, when the recording kept only the parsed
	// JSON (Reserialized), that JSON written back compactly in recorded key order.
	Body []byte
	// Reserialized reports that Body was rebuilt from parsed JSON, so it is the same JSON value
	// but not necessarily the same bytes the service sent (whitespace, escaping, number spelling).
	Reserialized bool
	// IsEventStream reports an application/vnd.amazon.eventstream body (binary frames).
	IsEventStream bool
}

// ErrorTypeForStatus returns the Bedrock error code the service sends in X-Amzn-ErrorType with
// an HTTP status, or "" for a status that has none. The recorder stripped that header, and the Go
// SDK cannot type an error without it (bedrock-wire.md §5.4): the mapping is the one-to-one part
// of the SDK model's status table (§5.3), so ambiguous codes sharing a status
// (ServiceQuotaExceededException 400, ModelNotReadyException 429) are not produced.
func ErrorTypeForStatus(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "ValidationException"
	case http.StatusForbidden:
		return "AccessDeniedException"
	case http.StatusNotFound:
		return "ResourceNotFoundException"
	case http.StatusRequestTimeout:
		return "ModelTimeoutException"
	case http.StatusFailedDependency:
		return "ModelErrorException"
	case http.StatusTooManyRequests:
		return "ThrottlingException"
	case http.StatusInternalServerError:
		return "InternalServerException"
	case http.StatusServiceUnavailable:
		return "ServiceUnavailableException"
	default:
		return ""
	}
}

// ErrorTypeHeader returns the X-Amzn-ErrorType value Bedrock sends for code, e.g.
// "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/".
func ErrorTypeHeader(code string) string {
	return code + errorTypeNamespace
}

// Dir returns the corpus directory: $STRATA_BEDROCK_CORPUS if set, otherwise the first
// shared/bedrock-corpus found walking up from the working directory to the parent of the module
// root (CI checks shared/ out beside the repository, so ../shared/bedrock-corpus from the root).
// It returns an error, never an empty path, when the corpus is absent: the corpus is part of CI's
// checkout, so tests that need it must fail rather than skip.
func Dir() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("corpus: working directory: %w", err)
	}
	return dirFrom(wd, os.Getenv)
}

func dirFrom(start string, getenv func(string) string) (string, error) {
	if d := getenv(EnvDir); d != "" {
		if !isDir(d) {
			return "", fmt.Errorf("corpus: %s=%q is not a directory", EnvDir, d)
		}
		return d, nil
	}
	start, err := filepath.Abs(start)
	if err != nil {
		return "", fmt.Errorf("corpus: %w", err)
	}
	var looked []string
	left := -1 // directories still to search, counted once the module root is found
	for dir := start; ; dir = filepath.Dir(dir) {
		candidate := filepath.Join(dir, "shared", "bedrock-corpus")
		looked = append(looked, candidate)
		if isDir(candidate) {
			return candidate, nil
		}
		if left < 0 && isFile(filepath.Join(dir, "go.mod")) {
			left = searchAboveModuleRoot
		} else if left > 0 {
			left--
		}
		if left == 0 || filepath.Dir(dir) == dir {
			break
		}
	}
	return "", fmt.Errorf("corpus: shared/bedrock-corpus not found in %q; check out shared/ beside the repository or set %s",
		looked, EnvDir)
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// ForTest loads the whole corpus for a test, failing it when the corpus cannot be read: the corpus
// is part of CI's checkout, so its absence is an error, never a reason to skip.
func ForTest(t testing.TB) []Cassette {
	t.Helper()
	dir, err := Dir()
	if err != nil {
		t.Fatal(err)
	}
	cs, err := Load(dir)
	if err != nil {
		t.Fatalf("load corpus: %v", err)
	}
	return cs
}
