package sentiment

import (
	"html"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/jdkato/prose/v2"
)

// word is one token the valence rules see.
type word struct {
	text  string // as written (for the capitals rule)
	lower string // lower case, trimmed of punctuation unless the lexicon knows it whole
	sent  int    // sentence number, from 0
	// aside: the word opens its sentence, or follows asides only, and a
	// comma or a full stop follows it ("Okay, let me check", "Yeah, no,
	// that's fine", "No. I said"): where discourse markers stand.
	aside bool
}

// vaderPunct is the punctuation VADER strips from the ends of words.
const vaderPunct = "\"!#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"

// sanitizer makes the same replacements prose's tokenizer makes, so token
// texts can be found again in the text.
var sanitizer = strings.NewReplacer(
	"\u201c", `"`,
	"\u201d", `"`,
	"\u2018", "'",
	"\u2019", "'",
	"&rsquo;", "'")

// clitics are the word endings prose splits off, which VADER's rules expect
// on their word ("don't" is a negation, "n't" alone only through its
// suffix rule).
var clitics = map[string]bool{"n't": true, "'s": true, "'ll": true, "'re": true, "'m": true}

// tokenize splits text into words with prose's tokenizer, and numbers the
// sentences. prose splits punctuation from words, so "ok." and "no," are
// found in the lexicon (VADER's whitespace split misses them); a
// whitespace-separated chunk the lexicon knows whole (an emoticon such as
// ":)", which prose would cut in two) stays one word; clitics go back on
// their word; sentences end at prose's tokens made of '.', '!' and '?'.
// prose's own sentence segmenter (Punkt) reloads its model for every
// document, about 9 ms each, which is far too slow for live segments.
func (e *English) tokenize(text string, buf []word) []word {
	clean := text
	if strings.IndexByte(text, '&') >= 0 {
		clean = html.UnescapeString(clean) // web text: "&gt;" is ">", not the word "gt"
	}
	clean = sanitizer.Replace(strings.ToValidUTF8(clean, "\uFFFD"))
	toks := proseTokens(clean)
	sent := 0
	pos := 0         // byte offset in clean after the previous token
	chunkEnd := -1   // end of the whitespace chunk the lexicon knows whole
	endsSent := true // the previous token ended a sentence (or none yet)
	for _, t := range toks {
		at := strings.Index(clean[pos:], t.Text)
		if at < 0 {
			continue // prose changed the text; leave the token out
		}
		start := pos + at
		glued := at == 0 && start > 0 // no space before this token
		pos = start + len(t.Text)
		if start < chunkEnd {
			continue // inside a chunk already taken whole
		}
		if !glued {
			end := chunkEndAt(clean, start)
			if chunk := clean[start:end]; end > pos && e.inLexicon(strings.ToLower(chunk)) {
				if endsSent && len(buf) > 0 {
					sent++
				}
				endsSent = false
				buf = append(buf, word{text: chunk, lower: strings.ToLower(chunk), sent: sent})
				chunkEnd = end
				continue
			}
		}
		lower := strings.ToLower(t.Text)
		if (t.Text == "," || t.Text == ".") && len(buf) > 0 && !endsSent {
			// The sentence's head so far is asides only: "Yeah, no, ..."
			if w := &buf[len(buf)-1]; len(buf) == 1 || buf[len(buf)-2].sent != w.sent || buf[len(buf)-2].aside {
				w.aside = true
			}
		}
		if glued && clitics[lower] && len(buf) > 0 && !endsSent {
			w := &buf[len(buf)-1]
			w.text += t.Text
			w.lower += lower
			continue
		}
		if sentenceEnd(t.Text) {
			endsSent = true
			continue
		}
		if isPunct(t.Text) && !e.inLexicon(lower) {
			continue
		}
		if !e.inLexicon(lower) {
			if trimmed := strings.Trim(lower, vaderPunct); trimmed != "" {
				lower = trimmed
			}
		}
		if endsSent && len(buf) > 0 {
			sent++
		}
		endsSent = false
		buf = append(buf, word{text: t.Text, lower: lower, sent: sent})
	}
	return buf
}

// proseTokens returns prose's tokens of text. prose indexes a token with
// offsets found in its lower-case form, which is longer for a few letters
// ("İ", "Ⱥ") and panics then; such a text is split at white space instead,
// as VADER does.
func proseTokens(text string) (toks []prose.Token) {
	defer func() {
		if recover() != nil {
			toks = toks[:0]
			for _, f := range strings.Fields(text) {
				toks = append(toks, prose.Token{Text: f})
			}
		}
	}()
	doc, err := prose.NewDocument(text,
		prose.WithSegmentation(false), prose.WithTagging(false), prose.WithExtraction(false))
	if err != nil {
		return nil
	}
	return doc.Tokens()
}

// chunkEndAt returns the end of the whitespace-separated chunk at start.
func chunkEndAt(s string, start int) int {
	for i, r := range s[start:] {
		if unicode.IsSpace(r) {
			return start + i
		}
	}
	return len(s)
}

// sentenceEnd reports whether tok is made only of '.', '!' and '?'.
func sentenceEnd(tok string) bool {
	if tok == "" {
		return false
	}
	for i := 0; i < len(tok); i++ {
		switch tok[i] {
		case '.', '!', '?':
		default:
			return false
		}
	}
	return true
}

// isPunct reports whether tok has no letter or digit.
func isPunct(tok string) bool {
	for len(tok) > 0 {
		r, n := utf8.DecodeRuneInString(tok)
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return false
		}
		tok = tok[n:]
	}
	return true
}
