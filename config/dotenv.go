package config

import (
	"regexp"
	"strings"
)

// Strata reads .env files with its own parser rather than godotenv's. godotenv v1.5.1 does take
// multi-line single-quoted values, but it differs from python-dotenv, which is what RD-Agent's
// .env files are written for (it decodes "\t" to "t", keeps the backslash of \' in single quotes,
// expands $VAR), and its syntax errors quote the rest of the line, which may be a secret key.
//
// The grammar is python-dotenv's (parser.py): per statement, optional "export ", a name (quoted
// with '...' or not), optional spaces, "=", optional spaces, then a value:
//
//   - 'single-quoted': may span lines; \' and \\ are the only escapes; nothing is expanded.
//   - "double-quoted": may span lines; \\ \' \" \a \b \f \n \r \t \v are decoded; ${VAR} expanded.
//   - unquoted: to the end of the line, cut at the first whitespace followed by #, trimmed;
//     ${VAR} expanded. A value that is only a comment ("KEY=  # note") is empty.
//
// then optional spaces and a # comment. ${VAR} and ${VAR:-default} take the process environment
// first, then the file's earlier values (python-dotenv's rule without override; Strata's rule that
// the environment wins). Lines starting with # are comments; a name without "=" sets nothing.
// Unlike python-dotenv, which warns and skips a statement it cannot parse, Strata reports it, by
// line number and never with its text, so a broken .env stops start-up instead of half-applying.

// dotenvProblem is a syntax error in a .env file.
type dotenvProblem struct {
	line int
	msg  string
}

// expandPattern is python-dotenv's POSIX-style variable reference: ${NAME} or ${NAME:-default}.
var expandPattern = regexp.MustCompile(`\$\{([^}:]*)(?::-([^}]*))?\}`)

// parseDotenv parses the text of a .env file. lookupEnv reads the process environment for ${VAR}
// expansion. A name set twice keeps its last value.
func parseDotenv(src string, lookupEnv func(string) (string, bool)) (map[string]string, []dotenvProblem) {
	src = strings.TrimPrefix(src, "\ufeff")
	src = strings.ReplaceAll(src, "\r\n", "\n")
	src = strings.ReplaceAll(src, "\r", "\n")
	p := &dotenvParser{src: src, values: map[string]string{}, lookupEnv: lookupEnv}
	for p.statement() {
	}
	return p.values, p.problems
}

type dotenvParser struct {
	src       string
	pos       int
	values    map[string]string
	problems  []dotenvProblem
	lookupEnv func(string) (string, bool)
}

// lineAt is the 1-based line of byte offset pos.
func (p *dotenvParser) lineAt(pos int) int { return 1 + strings.Count(p.src[:pos], "\n") }

func (p *dotenvParser) peek() byte {
	if p.pos < len(p.src) {
		return p.src[p.pos]
	}
	return 0
}

// skipBlanks skips spaces and tabs, not newlines, and reports whether it skipped any.
func (p *dotenvParser) skipBlanks() bool {
	start := p.pos
	for p.pos < len(p.src) && (p.src[p.pos] == ' ' || p.src[p.pos] == '\t' || p.src[p.pos] == '\v' || p.src[p.pos] == '\f') {
		p.pos++
	}
	return p.pos > start
}

// skipLine moves past the end of the current line.
func (p *dotenvParser) skipLine() {
	if i := strings.IndexByte(p.src[p.pos:], '\n'); i >= 0 {
		p.pos += i + 1
	} else {
		p.pos = len(p.src)
	}
}

// fail records a problem at the statement starting at start and skips the rest of the line.
func (p *dotenvParser) fail(start int, msg string) {
	p.problems = append(p.problems, dotenvProblem{line: p.lineAt(start), msg: msg})
	p.skipLine()
}

// statement parses one statement (or blank line or comment), reporting false at the end.
func (p *dotenvParser) statement() bool {
	for p.pos < len(p.src) && strings.IndexByte(" \t\v\f\n", p.src[p.pos]) >= 0 {
		p.pos++
	}
	if p.pos >= len(p.src) {
		return false
	}
	start := p.pos
	if p.peek() == '#' {
		p.skipLine()
		return true
	}
	if rest := p.src[p.pos:]; strings.HasPrefix(rest, "export") && len(rest) > 6 && (rest[6] == ' ' || rest[6] == '\t') {
		p.pos += 6
		p.skipBlanks()
	}

	var key string
	if p.peek() == '\'' {
		end := strings.IndexByte(p.src[p.pos+1:], '\'')
		if end <= 0 {
			p.fail(start, "a quoted variable name is empty or not closed")
			return true
		}
		key = p.src[p.pos+1 : p.pos+1+end]
		p.pos += end + 2
	} else {
		end := p.pos
		for end < len(p.src) && strings.IndexByte("=# \t\v\f\n", p.src[end]) < 0 {
			end++
		}
		key = p.src[p.pos:end]
		p.pos = end
	}
	if key == "" {
		p.fail(start, "expected NAME=value")
		return true
	}
	p.skipBlanks()
	if p.peek() != '=' {
		// A name alone (python-dotenv: a value of None) sets nothing.
		if p.atEndOfStatement() {
			return true
		}
		p.fail(start, "expected NAME=value")
		return true
	}
	p.pos++
	spaced := p.skipBlanks()

	var value string
	switch p.peek() {
	case '\'':
		raw, ok := p.quoted('\'')
		if !ok {
			p.fail(start, "the single-quoted value of "+key+" is not closed")
			return true
		}
		value = unescape(raw, `\'`)
	case '"':
		raw, ok := p.quoted('"')
		if !ok {
			p.fail(start, "the double-quoted value of "+key+" is not closed")
			return true
		}
		value = p.expand(unescape(raw, `\'"abfnrtv`))
	default:
		end := strings.IndexByte(p.src[p.pos:], '\n')
		if end < 0 {
			end = len(p.src) - p.pos
		}
		raw := p.src[p.pos : p.pos+end]
		p.pos += end
		if spaced && strings.HasPrefix(raw, "#") {
			raw = ""
		}
		if loc := inlineComment.FindStringIndex(raw); loc != nil {
			raw = raw[:loc[0]]
		}
		value = p.expand(strings.TrimRight(raw, " \t\v\f"))
	}
	if !p.atEndOfStatement() {
		p.fail(start, "unexpected text after the value of "+key)
		return true
	}
	p.values[key] = value
	return true
}

// inlineComment is where an unquoted value's comment starts: whitespace, then #.
var inlineComment = regexp.MustCompile(`\s+#`)

// atEndOfStatement consumes blanks and a # comment up to the end of the line, reporting whether
// nothing else was there.
func (p *dotenvParser) atEndOfStatement() bool {
	p.skipBlanks()
	if p.peek() == '#' {
		p.skipLine()
		return true
	}
	if p.pos >= len(p.src) {
		return true
	}
	if p.peek() == '\n' {
		p.pos++
		return true
	}
	return false
}

// quoted reads a value in quotes q starting at p.pos, across lines; a backslash before q does not
// close it. It returns the text between the quotes, still escaped.
func (p *dotenvParser) quoted(q byte) (string, bool) {
	for i := p.pos + 1; i < len(p.src); i++ {
		switch p.src[i] {
		case '\\':
			if i+1 < len(p.src) && p.src[i+1] == q {
				i++
			}
		case q:
			raw := p.src[p.pos+1 : i]
			p.pos = i + 1
			return raw, true
		}
	}
	return "", false
}

// unescape decodes a backslash followed by a backslash or one of chars, as python-dotenv does.
func unescape(s, chars string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) || (s[i+1] != '\\' && strings.IndexByte(chars, s[i+1]) < 0) {
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'v':
			b.WriteByte('\v')
		default: // \\ \' \"
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// expand replaces ${NAME} and ${NAME:-default}: the environment first, then the file's values so
// far, then the default, else "".
func (p *dotenvParser) expand(s string) string {
	if !strings.Contains(s, "${") {
		return s
	}
	return expandPattern.ReplaceAllStringFunc(s, func(ref string) string {
		m := expandPattern.FindStringSubmatch(ref)
		if p.lookupEnv != nil {
			if v, ok := p.lookupEnv(m[1]); ok {
				return v
			}
		}
		if v, ok := p.values[m[1]]; ok {
			return v
		}
		return m[2]
	})
}
