package whisper

import (
	"reflect"
	"testing"

	"github.com/earshot-dev/earshot/msg"
)

func TestGroupWords(t *testing.T) {
	ko := []byte("계좌") // split inside a character, as byte-level BPE does
	toks := []token{
		{text: []byte(" I"), t0: 0, t1: 20, p: 0.9},
		{text: []byte(" can"), t0: 20, t1: 40, p: 0.8},
		{text: []byte("cel"), t0: 40, t1: 60, p: 0.6},
		{text: []byte("."), t0: 60, t1: 61, p: 1.0},
		{text: []byte(" "), t0: 61, t1: 61, p: 0.5},
		{text: append([]byte(" "), ko[:4]...), t0: 70, t1: 80, p: 0.5},
		{text: ko[4:], t0: 80, t1: 75, p: 0.7}, // an end earlier than the word's so far is ignored
	}
	want := []msg.Word{
		{Text: "I", StartMS: 0, EndMS: 200, Confidence: 0.9},
		{Text: "cancel.", StartMS: 200, EndMS: 610, Confidence: 0.8},
		{Text: "계좌", StartMS: 700, EndMS: 800, Confidence: 0.6},
	}
	got := groupWords(toks)
	for i := range got {
		got[i].Confidence = float64(int(got[i].Confidence*1000+0.5)) / 1000
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("groupWords =\n%+v\nwant\n%+v", got, want)
	}
	if groupWords(nil) != nil {
		t.Error("no tokens, some words")
	}
}
