package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

const (
	secretKey   = "wJalrXUtnFEMI-secret-access-key"
	secretToken = "FwoGZXIvYXdzE-session-token"
	secretAPI   = "ABSKQmVkcm9jay-api-key"
	accessKeyID = "AKIAIOSFODNN7EXAMPLE"
)

// renderings prints v every way a caller might: fmt verbs, JSON, and slog's two handlers.
func renderings(t *testing.T, v any) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X"} {
		out[verb] = fmt.Sprintf(verb, v)
	}
	out["Sprint"] = fmt.Sprint(v)
	out["Sprintln"] = fmt.Sprintln(v)
	j, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	out["json"] = string(j)
	var jb, tb bytes.Buffer
	slog.New(slog.NewJSONHandler(&jb, nil)).Info("config", "cfg", v)
	slog.New(slog.NewTextHandler(&tb, nil)).Info("config", "cfg", v)
	out["slog json"], out["slog text"] = jb.String(), tb.String()
	return out
}

func TestSecretsNeverPrint(t *testing.T) {
	t.Parallel()
	cfg, err := Load(map[string]string{
		"AWS_ACCESS_KEY_ID":     accessKeyID,
		"AWS_SECRET_ACCESS_KEY": secretKey,
		"AWS_SESSION_TOKEN":     secretToken,
		"LITELLM_API_KEY":       secretAPI,
	}, emptyEnv(t))
	if err != nil {
		t.Fatal(err)
	}
	for what, v := range map[string]any{"*Config": cfg, "Config": *cfg, "AWS": cfg.AWS, "Secret": cfg.AWS.SecretAccessKey} {
		for how, s := range renderings(t, v) {
			for _, secret := range []string{secretKey, secretToken, secretAPI, accessKeyID} {
				if what == "AWS" && secret == accessKeyID {
					continue // the AWS struct alone is printed field by field; only Config masks the id
				}
				if strings.Contains(s, secret) || strings.Contains(strings.ToLower(s), fmt.Sprintf("%x", secret)) {
					t.Errorf("%s printed with %s shows %q:\n%s", what, how, secret, s)
				}
			}
		}
	}

	s := cfg.String()
	for _, want := range []string{
		"aws.AWS_SECRET_ACCESS_KEY=" + Redacted, "aws.AWS_SESSION_TOKEN=" + Redacted, "aws.API_KEY=" + Redacted,
		"aws.AWS_ACCESS_KEY_ID=****************MPLE", `aws.AWS_PROFILE=""`, "llm.CHAT_MODEL=us.amazon.nova-micro-v1:0",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("String() lacks %s:\n%s", want, s)
		}
	}
	if got := cfg.AWS.SecretAccessKey.Value(); got != secretKey {
		t.Errorf("Value() = %q", got)
	}
	if got := fmt.Sprint(Secret("")); got != "" {
		t.Errorf("an unset secret prints %q, want empty", got)
	}
}

func TestSecretsNeverInErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		environ map[string]string
		file    string
		secret  string
	}{
		{
			name:    "secret set without its access key, next to other problems",
			environ: map[string]string{"AWS_SECRET_ACCESS_KEY": secretKey, "AWS_SESSION_TOKEN": secretToken, "CHAT_TEMPERATURE": "hot"},
			secret:  secretKey,
		},
		{
			name:   "an unclosed quote on the secret's line",
			file:   "A=1\nAWS_SECRET_ACCESS_KEY=\"" + secretKey + "\nB=2\n",
			secret: secretKey,
		},
		{
			name:   "text after a quoted secret",
			file:   "API_KEY='" + secretAPI + "'" + secretAPI + "\n",
			secret: secretAPI,
		},
		{
			name:    "a password in the endpoint",
			environ: map[string]string{"API_BASE": "https://user:" + secretAPI + "@bedrock.example.com"},
			secret:  secretAPI,
		},
		{
			name:    "a password in an endpoint that does not parse",
			environ: map[string]string{"API_BASE": "https://user:" + secretAPI + "@bedrock example.com:port"},
			secret:  secretAPI,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(tt.environ, writeEnv(t, tt.file))
			if err == nil {
				t.Fatal("want an error")
			}
			for _, s := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
				if strings.Contains(s, tt.secret) {
					t.Errorf("the error shows the secret:\n%s", s)
				}
			}
		})
	}
}

func TestLogValue(t *testing.T) {
	t.Parallel()
	cfg, err := Load(map[string]string{
		"CHAT_MAX_TOKENS": "1000",
		"CHAT_MODEL_MAP":  `{"coding": {"model": "m", "temperature": 0.2}, "": {"model": "all"}}`,
	}, emptyEnv(t))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	slog.New(slog.NewJSONHandler(&b, nil)).Info("start", "config", cfg)
	var line struct {
		Config map[string]any `json:"config"`
	}
	if err := json.Unmarshal(b.Bytes(), &line); err != nil {
		t.Fatalf("%v: %s", err, b.String())
	}
	group := func(name string) map[string]any {
		g, _ := line.Config[name].(map[string]any)
		return g
	}
	llm := group("llm")
	if llm["CHAT_MAX_TOKENS"] != 1000.0 || llm["RETRY_WAIT_SECONDS"] != "1s" {
		t.Errorf("llm = %v", llm)
	}
	routes, _ := llm["CHAT_MODEL_MAP"].(map[string]any)
	if coding, _ := routes["coding"].(map[string]any); coding["model"] != "m" || coding["temperature"] != 0.2 {
		t.Errorf("CHAT_MODEL_MAP = %v", llm["CHAT_MODEL_MAP"])
	}
	if all, _ := routes[`""`].(map[string]any); all["model"] != "all" {
		t.Errorf("CHAT_MODEL_MAP = %v", llm["CHAT_MODEL_MAP"])
	}
	for _, name := range []string{"llm", "aws", "server", "pool"} {
		if len(group(name)) == 0 {
			t.Errorf("group %s is missing: %s", name, b.String())
		}
	}
	if group("server")["STRATA_LOG_LEVEL"] != "info" || line.Config["env_file"] != cfg.EnvFile {
		t.Errorf("server = %v, env_file = %v", group("server"), line.Config["env_file"])
	}
	j, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b.Bytes(), j) {
		t.Errorf("json.Marshal(cfg) differs from the log's view:\n%s\n%s", j, b.String())
	}
}
