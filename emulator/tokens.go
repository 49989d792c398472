package emulator

import (
	"unicode"
	"unicode/utf8"
)

// countTokens estimates how many tokens a model's tokenizer makes of s: one per short word, more for
// long words and digit runs, one per punctuation mark. It lands within a few tokens of Claude's and
// Nova's counts for English prose (the corpus: "Hello, world!" is 4 tokens plus Claude's overhead).
func countTokens(s string) int {
	n := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case unicode.IsSpace(r):
			i += size
		case unicode.IsLetter(r):
			j := i
			for j < len(s) {
				r2, sz := utf8.DecodeRuneInString(s[j:])
				if !unicode.IsLetter(r2) {
					break
				}
				j += sz
			}
			n += 1 + utf8.RuneCountInString(s[i:j])/8
			i = j
		case unicode.IsDigit(r):
			j := i
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			if j == i {
				j = i + size
			}
			n += (j - i + 2) / 3
			i = j
		default:
			n++
			i += size
		}
	}
	return n
}

// Fixed token costs of non-text inputs, close to what the models report.
const (
	imageTokens        = 1600 // Claude: about (width × height) / 750 for a 1092×1092 image
	tokensPerMessage   = 3
	claudeRequestExtra = 7 // Claude counts a few tokens of framing: "Hello, world!" → 11 (corpus)
)

// bytesTokens estimates the tokens of a document or other blob from its size.
func bytesTokens(n int) int { return n/6 + 1 }
