package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// The reasoning efforts, as normalised in LLM.ReasoningEffort and Route.ReasoningEffort; "" is off.
const (
	EffortLow    = "low"
	EffortMedium = "medium"
	EffortHigh   = "high"
)

// normalizeEffort maps a reasoning effort as written to "low", "medium", "high" (any case), or ""
// for anything else, which means off (RD-Agent's rule). known is false for a value that is neither
// an effort nor a usual way of saying off, which deserves a warning.
func normalizeEffort(raw string) (effort string, known bool) {
	switch v := strings.ToLower(strings.TrimSpace(raw)); v {
	case EffortLow, EffortMedium, EffortHigh:
		return v, true
	case "", "none", "off", "null", "false", "disabled":
		return "", true
	}
	return "", false
}

// regionPattern matches AWS region names: us-east-1, eu-central-2, us-gov-west-1, us-isob-east-1.
var regionPattern = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`)

// finish normalises the parsed values and checks what spans more than one setting.
func (l *loader) finish() {
	c := l.cfg

	// LLM
	if raw, ok := l.values["REASONING_EFFORT"]; ok {
		effort, known := normalizeEffort(raw)
		c.LLM.ReasoningEffort = effort
		if !known {
			l.warn("REASONING_EFFORT", "%s is not low, medium or high, so reasoning is off", quote(raw))
		}
	}
	if raw, ok := l.values["CHAT_MODEL_MAP"]; ok {
		m, problems, warnings := parseModelMap(raw, c.LLM.ReasoningEffort)
		for _, p := range problems {
			l.problem("CHAT_MODEL_MAP", "%s", p)
		}
		for _, w := range warnings {
			l.warn("CHAT_MODEL_MAP", "%s", w)
		}
		c.LLM.ModelMap = m
	}
	if !l.bad["RETRY_WAIT_SECONDS"] && !l.bad["RETRY_MAX_WAIT_SECONDS"] && c.LLM.RetryMaxWait < c.LLM.RetryWait {
		l.problem("RETRY_MAX_WAIT_SECONDS", "must be at least RETRY_WAIT_SECONDS (%g s), but is %g s",
			c.LLM.RetryWait.Seconds(), c.LLM.RetryMaxWait.Seconds())
	}

	for _, b := range []struct {
		name, value string
		local       []string
	}{
		{"CACHE_BACKEND", string(c.LLM.CacheBackend), []string{"none", "memory"}},
		{"LIMITS_BACKEND", string(c.LLM.LimitsBackend), []string{"local"}},
	} {
		switch {
		case slices.Contains(b.local, b.value):
		case strings.HasPrefix(b.value, "redis://") || strings.HasPrefix(b.value, "rediss://"):
			if _, err := url.Parse(b.value); err != nil {
				l.problem(b.name, "is not a URL such as redis://host:6379/0")
			}
		default: // the value may hold a password: not quoted
			l.problem(b.name, "is not %s, or a redis:// or rediss:// URL", strings.Join(b.local, ", "))
		}
	}

	// AWS
	if !regionPattern.MatchString(c.AWS.Region) {
		l.problem("AWS_REGION", "%s is not an AWS region such as us-east-1", quote(c.AWS.Region))
	}
	switch key, secret := l.isSet("AWS_ACCESS_KEY_ID"), l.isSet("AWS_SECRET_ACCESS_KEY"); {
	case key && !secret:
		l.problem("AWS_SECRET_ACCESS_KEY", "is not set, but AWS_ACCESS_KEY_ID is: set both or neither")
	case secret && !key:
		l.problem("AWS_ACCESS_KEY_ID", "is not set, but AWS_SECRET_ACCESS_KEY is: set both or neither")
	case l.isSet("AWS_SESSION_TOKEN") && !key:
		l.problem("AWS_SESSION_TOKEN", "needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	}
	if l.isSet("AWS_ROLE_ARN") {
		if arn := c.AWS.RoleARN; !strings.HasPrefix(arn, "arn:") || !strings.Contains(arn, ":role/") {
			l.problem("AWS_ROLE_ARN", "%s is not an IAM role ARN such as arn:aws:iam::123456789012:role/name", quote(arn))
		}
	} else {
		for _, key := range []string{"AWS_ROLE_SESSION_NAME", "AWS_EXTERNAL_ID", "AWS_WEB_IDENTITY_TOKEN_FILE"} {
			if l.isSet(key) {
				l.problem(key, "needs AWS_ROLE_ARN, the role to assume")
			}
		}
	}
	if l.isSet("API_BASE") {
		base, msg := normalizeEndpoint(c.AWS.APIBase)
		if msg != "" {
			l.problem("API_BASE", "%s", msg)
		}
		c.AWS.APIBase = base
	}

	// Server
	if addr, ok := normalizeAddr(c.Server.Addr); ok {
		c.Server.Addr = addr
	} else {
		l.problem("STRATA_ADDR", "%s is not a listen address such as :50051 or 127.0.0.1:50051", quote(c.Server.Addr))
	}
	cert, key := l.isSet("STRATA_TLS_CERT"), l.isSet("STRATA_TLS_KEY")
	switch {
	case cert && !key:
		l.problem("STRATA_TLS_KEY", "is not set, but STRATA_TLS_CERT is: set both for TLS, or neither for plaintext")
	case key && !cert:
		l.problem("STRATA_TLS_CERT", "is not set, but STRATA_TLS_KEY is: set both for TLS, or neither for plaintext")
	}
	for _, f := range []struct{ key, path string }{
		{"STRATA_TLS_CERT", c.Server.TLSCert},
		{"STRATA_TLS_KEY", c.Server.TLSKey},
	} {
		if f.path != "" {
			if msg := checkFile(f.path); msg != "" {
				l.problem(f.key, "%s", msg)
			}
		}
	}
	c.Server.LogFormat = strings.ToLower(c.Server.LogFormat)
}

// normalizeEndpoint turns API_BASE into an endpoint URL: https:// when no scheme is given, no
// trailing slash. On failure it returns a message that never shows user info, which may hold a
// password.
func normalizeEndpoint(raw string) (string, string) {
	const want = "is not an endpoint URL such as https://bedrock-runtime.us-east-1.amazonaws.com"
	shown := quote(raw)
	if strings.Contains(raw, "@") {
		shown = "the value"
	}
	v := raw
	if !strings.Contains(v, "://") {
		v = "https://" + v
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return raw, shown + " " + want
	}
	if u.User != nil {
		return raw, "must not hold user info (user:password@): use API_KEY or AWS credentials"
	}
	if u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return raw, shown + " " + want + " (no query or fragment)"
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u.String(), ""
}

// normalizeAddr checks a listen address, turning a bare port into ":port".
func normalizeAddr(addr string) (string, bool) {
	if _, err := strconv.Atoi(addr); err == nil {
		addr = ":" + addr
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr, false
	}
	p, err := strconv.Atoi(port)
	return addr, err == nil && p >= 0 && p <= 65535
}

// checkFile returns why path is not a readable regular file, or "".
func checkFile(path string) string {
	info, err := os.Stat(path)
	if err != nil {
		var perr *fs.PathError
		if errors.As(err, &perr) {
			err = perr.Err
		}
		return fmt.Sprintf("cannot read %s: %v", quote(path), err)
	}
	if info.IsDir() {
		return fmt.Sprintf("%s is a directory, not a PEM file", quote(path))
	}
	return ""
}
