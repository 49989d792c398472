package emulator

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// signingName is the SigV4 service name of both Bedrock planes: `bedrock`, not `bedrock-runtime`
// (bedrock-wire.md §1.1).
const signingName = "bedrock"

const amzDateLayout = "20060102T150405Z"

// authenticate checks a request's credentials as AWS's front door does: a Bedrock API key as a
// bearer token, or a SigV4 signature. In demo mode (no keys configured) any well-formed one passes.
func (e *Emulator) authenticate(r *http.Request, body []byte) *apiError {
	authz := r.Header.Get("Authorization")
	switch {
	case authz == "Bearer" || strings.HasPrefix(authz, "Bearer "):
		// net/http trims the value, so an empty key arrives as a bare "Bearer".
		return e.checkBearer(strings.TrimSpace(strings.TrimPrefix(authz, "Bearer")))
	case strings.HasPrefix(authz, "AWS4-HMAC-SHA256 "):
		return e.checkSigV4(r, authz, body)
	case authz == "":
		return newAPIError(CodeMissingAuthToken, "")
	default:
		return newAPIError(CodeIncompleteSignature, fmt.Sprintf("Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters. Authorization=%s", authScheme(authz)))
	}
}

// authScheme returns only the scheme word of an Authorization header, so no secret is ever echoed.
func authScheme(authz string) string {
	scheme, _, _ := strings.Cut(authz, " ")
	return scheme
}

func (e *Emulator) checkBearer(key string) *apiError {
	if key == "" {
		return newAPIError(CodeMissingAuthToken, "")
	}
	if len(e.opts.APIKeys) == 0 {
		return nil
	}
	for _, k := range e.opts.APIKeys {
		if subtle.ConstantTimeCompare([]byte(k), []byte(key)) == 1 {
			return nil
		}
	}
	// [UNVERIFIED] the exact text Bedrock sends for a wrong API key.
	return newAPIError(CodeAccessDenied, "Authentication failed: Please make sure your API Key is valid.")
}

// sigV4Auth is a parsed `AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...` header.
type sigV4Auth struct {
	accessKey, date, region, service string
	signedHeaders                    []string
	signature                        string
}

func parseSigV4(authz string) (sigV4Auth, bool) {
	kv := map[string]string{}
	for _, p := range strings.Split(strings.TrimPrefix(authz, "AWS4-HMAC-SHA256 "), ",") {
		if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok {
			kv[k] = v
		}
	}
	scope := strings.Split(kv["Credential"], "/")
	if len(scope) != 5 || scope[4] != "aws4_request" || kv["SignedHeaders"] == "" || kv["Signature"] == "" {
		return sigV4Auth{}, false
	}
	return sigV4Auth{
		accessKey: scope[0], date: scope[1], region: scope[2], service: scope[3],
		signedHeaders: strings.Split(kv["SignedHeaders"], ";"),
		signature:     kv["Signature"],
	}, true
}

// checkSigV4 verifies a signature by signing the same request again with the configured secret,
// using the received escaped path, the signed headers only and sha256(body) (bedrock-wire.md §6.5).
func (e *Emulator) checkSigV4(r *http.Request, authz string, body []byte) *apiError {
	sig, ok := parseSigV4(authz)
	if !ok {
		return newAPIError(CodeIncompleteSignature, "")
	}
	if sig.service != signingName {
		return newAPIError(CodeInvalidSignature, fmt.Sprintf("Credential should be scoped to correct service: '%s'. ", signingName))
	}
	amzDate := r.Header.Get("X-Amz-Date")
	signedAt, err := time.Parse(amzDateLayout, amzDate)
	if err != nil {
		return newAPIError(CodeIncompleteSignature, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
	}
	if sig.date != amzDate[:8] {
		return newAPIError(CodeInvalidSignature, fmt.Sprintf("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.", sig.date, amzDate[:8], amzDate))
	}
	now := e.now().UTC()
	if skew := e.opts.MaxClockSkew; signedAt.Before(now.Add(-skew)) {
		return newAPIError(CodeInvalidSignature, fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - %s.)",
			amzDate, now.Add(-skew).Format(amzDateLayout), now.Format(amzDateLayout), skewText(skew)))
	} else if signedAt.After(now.Add(skew)) {
		return newAPIError(CodeInvalidSignature, fmt.Sprintf("Signature not yet current: %s is still later than %s (%s + %s.)",
			amzDate, now.Add(skew).Format(amzDateLayout), now.Format(amzDateLayout), skewText(skew)))
	}
	if e.opts.AccessKeyID == "" {
		return nil // demo mode: well-formed is enough
	}
	if sig.accessKey != e.opts.AccessKeyID {
		return newAPIError(CodeUnrecognizedClient, "")
	}
	want := expectedSignature(r, sig, body, amzDate, e.opts.SecretAccessKey)
	if subtle.ConstantTimeCompare([]byte(want), []byte(sig.signature)) != 1 {
		return newAPIError(CodeInvalidSignature, "")
	}
	return nil
}

func skewText(d time.Duration) string {
	if d%time.Minute == 0 {
		return fmt.Sprintf("%d min", int(d/time.Minute))
	}
	return d.String()
}
