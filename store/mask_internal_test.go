package store

import (
	"slices"
	"strings"
	"testing"

	"github.com/earshot-dev/earshot/msg"
	"github.com/earshot-dev/earshot/redact"
)

func TestMaskWords(t *testing.T) {
	text := "my card number is 4111 1111 1111 1111 thanks"
	var words []msg.Word
	for i, w := range strings.Fields(text) {
		words = append(words, msg.Word{Text: " " + w, StartMS: int64(1000 + 500*i), EndMS: int64(1400 + 500*i)})
	}
	seg := msg.Segment{StartMS: 1000, EndMS: 6000, Words: words}
	got := maskWords(text, seg, redact.FindLang(text, "en"))
	var masked []int
	for i, w := range got {
		if w.Redacted {
			masked = append(masked, i)
			if w.Text != "" || w.StartMS != words[i].StartMS {
				t.Errorf("masked word %d = %+v: want its time and no text", i, w)
			}
		} else if w != words[i] {
			t.Errorf("word %d changed: %+v", i, w)
		}
	}
	if !slices.Equal(masked, []int{4, 5, 6, 7}) {
		t.Errorf("masked words %v, want the card number's 4-7", masked)
	}
	if words[4].Text != " 4111" {
		t.Error("maskWords changed the segment's own words")
	}
	// A word not in the text: the whole segment.
	seg.Words = append(slices.Clone(words[:4]), msg.Word{Text: "elsewhere"})
	if got := maskWords(text, seg, redact.FindLang(text, "en")); len(got) != 1 || !got[0].Redacted || got[0].StartMS != 1000 || got[0].EndMS != 6000 {
		t.Errorf("unplaced word: %+v, want the whole segment masked", got)
	}
}
