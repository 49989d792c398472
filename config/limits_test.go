package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestModelLimitsSetting(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		value   string
		want    ModelLimits
		wantErr string
	}{
		{name: "numbers and strings", value: `{"us.amazon.nova-micro-v1:0": {"concurrency": 8, "requests_per_minute": "120"}, "amazon.nova-lite-v1:0": {"tokens_per_minute": 200000}}`,
			want: ModelLimits{"us.amazon.nova-micro-v1:0": {Concurrency: 8, RequestsPerMinute: 120}, "amazon.nova-lite-v1:0": {TokensPerMinute: 200000}}},
		{name: "not an object", value: `[1]`, wantErr: "is not a JSON object"},
		{name: "an unknown limit", value: `{"m": {"rps": 2}}`, wantErr: `"m": unknown limit "rps"`},
		{name: "a negative one", value: `{"m": {"concurrency": -1}}`, wantErr: `"m": concurrency -1 is not a whole number of at least 0`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Load(map[string]string{"MODEL_LIMITS": tt.value}, "")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.LLM.ModelLimits, tt.want) {
				t.Errorf("limits %v, want %v", c.LLM.ModelLimits, tt.want)
			}
		})
	}
	m, problems, _ := parseModelMap(`{"a": {"model": "m", "limits": {"concurrency": "2", "tokens_per_minute": 1000}}, "b": {"model": "n", "limits": 5}}`, "")
	if len(m) != 2 || m[0].LimitConcurrency != 2 || m[0].LimitTokensPerMinute != 1000 || len(problems) != 1 || !strings.Contains(problems[0], `entry "b": limits 5`) {
		t.Errorf("map %+v, problems %q", m, problems)
	}
}

// TestSharedBackends: CACHE_BACKEND and LIMITS_BACKEND take their local words or a Redis URL;
// anything else is refused without repeating the value, which may hold a password.
func TestSharedBackends(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, value string
		wantErr     string
	}{
		{"LIMITS_BACKEND", "local", ""},
		{"LIMITS_BACKEND", "redis://:hunter2@127.0.0.1:6379/1", ""},
		{"LIMITS_BACKEND", "rediss://cache.internal:6380/0", ""},
		{"LIMITS_BACKEND", "memory", "LIMITS_BACKEND: is not local, or a redis:// or rediss:// URL"},
		{"LIMITS_BACKEND", "memcached://:hunter2@127.0.0.1", "LIMITS_BACKEND: is not local, or a redis:// or rediss:// URL"},
		{"CACHE_BACKEND", "memory", ""},
		{"CACHE_BACKEND", "local", "CACHE_BACKEND: is not none, memory, or a redis:// or rediss:// URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name+"="+tt.value, func(t *testing.T) {
			t.Parallel()
			_, err := Load(map[string]string{tt.name: tt.value}, "")
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error %v, want one saying %q", err, tt.wantErr)
			case err != nil && strings.Contains(err.Error(), "hunter2"):
				t.Errorf("the error repeats the password: %v", err)
			}
		})
	}
}
