package config_test

import (
	"os"
	"strings"
	"testing"

	"github.com/strata-gateway/strata/config"
)

// TestREADMEDocumentsEverySetting holds the README to its promise: every setting an operator can
// make is in its configuration table, with its default.
func TestREADMEDocumentsEverySetting(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range config.Variables() {
		if !strings.Contains(string(readme), "`"+v.Name+"`") && !strings.Contains(string(readme), "`"+v.Name+" (") {
			t.Errorf("README does not document %s", v.Name)
		}
		for _, a := range v.Aliases {
			if !strings.Contains(string(readme), "`"+a+"`") {
				t.Errorf("README does not document %s, the alias of %s", a, v.Name)
			}
		}
		if v.Default != "" && !strings.Contains(string(readme), "`"+v.Default+"`") {
			t.Errorf("README does not give %s's default %q", v.Name, v.Default)
		}
	}
}
