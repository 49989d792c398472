package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		args       []string
		wantErr    string
		wantStdout string
	}{
		{name: "no command", args: nil, wantErr: "no command given"},
		{name: "unknown command", args: []string{"frobnicate"}, wantErr: `unknown command "frobnicate"`},
		{name: "version", args: []string{"version"}, wantStdout: "strata dev"},
		{name: "help", args: []string{"help"}, wantStdout: "emulator"},
		{name: "emulator rejects a bad flag", args: []string{"emulator", "--ttft", "soon"}, wantErr: "--ttft"},
		{name: "bench rejects a bad flag", args: []string{"bench", "--server", "cloud"}, wantErr: "--server"},
		{name: "help lists bench", args: []string{"help"}, wantStdout: "bench"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tt.args, map[string]string{}, &stdout, &stderr)
			switch {
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("run(%q) error = %v, want it to mention %q", tt.args, err, tt.wantErr)
			case tt.wantErr == "" && err != nil:
				t.Fatalf("run(%q) error = %v", tt.args, err)
			}
			if !strings.Contains(stdout.String(), tt.wantStdout) {
				t.Errorf("stdout = %q, want it to contain %q", stdout.String(), tt.wantStdout)
			}
		})
	}
}
