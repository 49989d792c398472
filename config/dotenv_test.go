package config

import (
	"maps"
	"slices"
	"testing"
)

func TestParseDotenv(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		src          string
		environ      map[string]string
		want         map[string]string
		wantProblems []dotenvProblem
	}{
		{
			name: "comments, blank lines and export",
			src:  "# a comment\n\n  # indented comment\nA=1\nexport B=2\nexport\tC=3\n",
			want: map[string]string{"A": "1", "B": "2", "C": "3"},
		},
		{
			name: "spaces around the equal sign",
			src:  "A = 1\nB=   two words  \n",
			want: map[string]string{"A": "1", "B": "two words"},
		},
		{
			name: "inline comments need whitespace before #",
			src:  "A=value # comment\nB=val#ue\nC=  # only a comment\nD=#value\nE='x' # after quotes\nF=\"y\"# no space needed after quotes\n",
			want: map[string]string{"A": "value", "B": "val#ue", "C": "", "D": "#value", "E": "x", "F": "y"},
		},
		{
			name: "single quotes are literal but for \\' and \\\\",
			src:  `A='it\'s ${HOME} \n \\ \t'` + "\n",
			want: map[string]string{"A": `it's ${HOME} \n \ \t`},
		},
		{
			name: "double quotes decode python-dotenv's escapes",
			src:  `A="tab\there \"q\" \'s\' back\\slash new\nline \x"` + "\n",
			want: map[string]string{"A": "tab\there \"q\" 's' back\\slash new\nline \\x"},
		},
		{
			name: "multi-line single-quoted JSON",
			src: "export LITELLM_CHAT_MODEL_MAP='{\n" +
				"  \"coding\": {\"model\": \"m1\", \"temperature\": \"0.7\"},\n" +
				"  \"running\": {\"model\": \"m2\"}\n" +
				"}'\n" +
				"AFTER=1\n",
			want: map[string]string{
				"LITELLM_CHAT_MODEL_MAP": "{\n  \"coding\": {\"model\": \"m1\", \"temperature\": \"0.7\"},\n  \"running\": {\"model\": \"m2\"}\n}",
				"AFTER":                  "1",
			},
		},
		{
			name: "multi-line double-quoted value",
			src:  "A=\"line 1\nline 2\"\nB=2",
			want: map[string]string{"A": "line 1\nline 2", "B": "2"},
		},
		{
			name: "CRLF line endings and a byte order mark",
			src:  "\ufeffA=1\r\nB='x\r\ny'\r\n",
			want: map[string]string{"A": "1", "B": "x\ny"},
		},
		{
			name: "empty values and a name without =",
			src:  "A=\nB=''\nC=\"\"\nLONELY\nD=4",
			want: map[string]string{"A": "", "B": "", "C": "", "D": "4"},
		},
		{
			name: "quoted name",
			src:  "'A'=1\n",
			want: map[string]string{"A": "1"},
		},
		{
			name: "the last value wins",
			src:  "A=1\nA=2\n",
			want: map[string]string{"A": "2"},
		},
		{
			name:    "expansion: environment first, then the file, then the default",
			src:     "FILE=f\nA=${FILE}\nB=\"${ENV}-${FILE}\"\nC=${MISSING:-dflt}\nD=${MISSING}\nE='${FILE}'\nF=$FILE\n",
			environ: map[string]string{"ENV": "e", "FILE": "from-env"},
			want:    map[string]string{"FILE": "f", "A": "from-env", "B": "e-from-env", "C": "dflt", "D": "", "E": "${FILE}", "F": "$FILE"},
		},
		{
			name: "export as a name",
			src:  "export=1\nexportX=2\n",
			want: map[string]string{"export": "1", "exportX": "2"},
		},
		{
			name:         "unclosed single quote is reported at its line; the next lines parse on",
			src:          "A=1\nSECRET='abc\nB=2\n",
			want:         map[string]string{"A": "1", "B": "2"},
			wantProblems: []dotenvProblem{{2, "the single-quoted value of SECRET is not closed"}},
		},
		{
			name:         "unclosed double quote",
			src:          "A=\"abc\n",
			want:         map[string]string{},
			wantProblems: []dotenvProblem{{1, "the double-quoted value of A is not closed"}},
		},
		{
			name:         "text after a quoted value",
			src:          "A='x'junk\nB=2\n",
			want:         map[string]string{"B": "2"},
			wantProblems: []dotenvProblem{{1, "unexpected text after the value of A"}},
		},
		{
			name: "lines that are not statements; parsing goes on after them",
			src:  "just some words\n=value\nB=2\n'unclosed=1\n",
			want: map[string]string{"B": "2"},
			wantProblems: []dotenvProblem{
				{1, "expected NAME=value"},
				{2, "expected NAME=value"},
				{4, "a quoted variable name is empty or not closed"},
			},
		},
		{
			name:         "line numbers count the lines of multi-line values",
			src:          "A='1\n2\n3'\nB=x y'z\nC 1\n",
			want:         map[string]string{"A": "1\n2\n3", "B": "x y'z"},
			wantProblems: []dotenvProblem{{5, "expected NAME=value"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, problems := parseDotenv(tt.src, func(name string) (string, bool) {
				v, ok := tt.environ[name]
				return v, ok
			})
			if !maps.Equal(got, tt.want) {
				t.Errorf("values = %q, want %q", got, tt.want)
			}
			if !slices.Equal(problems, tt.wantProblems) {
				t.Errorf("problems = %v, want %v", problems, tt.wantProblems)
			}
		})
	}
}
