package whisper

import (
	"bytes"

	"github.com/earshot-dev/earshot/msg"
)

// token is one text token of whisper's output: its bytes (a token may hold
// part of a multi-byte character), times in centiseconds from the start of
// the audio, and probability.
type token struct {
	text   []byte
	t0, t1 int64
	p      float64
}

// groupWords joins tokens into words: a token starting with a space starts
// a new word; others (the rest of a word, punctuation, the other bytes of a
// character) join the one before. A word's confidence is the mean of its
// tokens' probabilities; times are in milliseconds.
func groupWords(toks []token) []msg.Word {
	var words []msg.Word
	var text []byte
	var cur msg.Word
	var psum float64
	var n int
	flush := func() {
		if t := bytes.TrimSpace(text); len(t) > 0 {
			cur.Text, cur.Confidence = string(t), psum/float64(n)
			words = append(words, cur)
		}
		text, psum, n = text[:0], 0, 0
	}
	for _, tk := range toks {
		if len(tk.text) > 0 && tk.text[0] == ' ' && n > 0 {
			flush()
		}
		if n == 0 {
			cur = msg.Word{StartMS: tk.t0 * 10}
		}
		cur.EndMS = max(cur.EndMS, cur.StartMS, tk.t1*10)
		text = append(text, tk.text...)
		psum += tk.p
		n++
	}
	if n > 0 {
		flush()
	}
	return words
}
