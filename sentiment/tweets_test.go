package sentiment

import (
	"bufio"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/earshot-dev/earshot/internal/sharedtest"
	"github.com/jonreiter/govader"
)

// ratedText is one human-rated text.
type ratedText struct {
	mean float64
	text string
}

// readRated reads tweets_GroundTruth.txt: id, mean rating, text, tab-separated.
func readRated(t *testing.T, path string) []ratedText {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []ratedText
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimPrefix(strings.TrimRight(sc.Text(), "\r"), "\ufeff")
		if line == "" {
			continue
		}
		parts := strings.SplitN(line, "\t", 3)
		if len(parts) != 3 {
			t.Fatalf("%s:%d: want id, rating, text separated by tabs", path, n)
		}
		mean, err := strconv.ParseFloat(parts[1], 64)
		if err != nil {
			t.Fatalf("%s:%d: rating: %v", path, n, err)
		}
		out = append(out, ratedText{mean, parts[2]})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func pearson(x, y []float64) float64 {
	n := float64(len(x))
	var sx, sy float64
	for i := range x {
		sx += x[i]
		sy += y[i]
	}
	mx, my := sx/n, sy/n
	var cov, vx, vy float64
	for i := range x {
		cov += (x[i] - mx) * (y[i] - my)
		vx += (x[i] - mx) * (x[i] - mx)
		vy += (y[i] - my) * (y[i] - my)
	}
	return cov / math.Sqrt(vx*vy)
}

// class3 is the 3-class label of a value: positive at or above th,
// negative at or below -th (inclusive, as VADER's documentation puts its
// compound threshold; exclusive when strict).
func class3(v, th float64, strict bool) int {
	switch {
	case v > th || !strict && v == th:
		return 2
	case v < -th || !strict && v == -th:
		return 0
	}
	return 1
}

// macroF1 is the mean F1 over the classes negative, neutral and positive.
func macroF1(truth, pred []int) float64 {
	sum := 0.0
	for c := 0; c < 3; c++ {
		var tp, fp, fn float64
		for i := range truth {
			switch {
			case pred[i] == c && truth[i] == c:
				tp++
			case pred[i] == c:
				fp++
			case truth[i] == c:
				fn++
			}
		}
		if tp > 0 {
			p, r := tp/(tp+fp), tp/(tp+fn)
			sum += 2 * p * r / (p + r)
		}
	}
	return sum / 3
}

// evaluate returns Pearson r against the human means and the 3-class macro
// F1: the human class at ±0.5 of the mean (inclusive, and strict: many means
// are exactly ±0.5), the model class at ±0.05 compound (VADER's threshold).
func evaluate(data []ratedText, score func(string) float64) (r, f1, f1strict float64) {
	human := make([]float64, len(data))
	model := make([]float64, len(data))
	hc := make([]int, len(data))
	hs := make([]int, len(data))
	mc := make([]int, len(data))
	for i, d := range data {
		human[i] = d.mean
		model[i] = score(d.text)
		hc[i] = class3(d.mean, 0.5, false)
		hs[i] = class3(d.mean, 0.5, true)
		mc[i] = class3(model[i], CompoundThreshold, false)
	}
	return pearson(human, model), macroF1(hc, mc), macroF1(hs, mc)
}

// TestTweetsAgainstVADER scores the 4,200 human-rated tweets of Hutto &
// Gilbert (2014) with plain VADER (govader) and with Earshot's English
// model, and fails if Earshot's model is worse on either figure. It also
// logs each extension's effect alone (go test -v -run TestTweetsAgainstVADER).
func TestTweetsAgainstVADER(t *testing.T) {
	data := readRated(t, sharedtest.Path(t, "data/sentiment/tweets_GroundTruth.txt"))
	if len(data) != 4200 {
		t.Fatalf("read %d tweets, want 4200", len(data))
	}
	compareWithVADER(t, data)
}

// TestRatedSetsAgainstVADER does the same for the files listed in
// EARSHOT_RATED_SETS (separated by the OS's path list separator), each in
// the tweets file's format: id, mean human rating, text, tab-separated. For
// example Hutto & Gilbert's review and editorial snippets
// (amazonReviewSnippets_GroundTruth.txt, movieReviewSnippets_GroundTruth.txt,
// nytEditorialSnippets_GroundTruth.txt in vaderSentiment's
// additional_resources), which the model was not developed on.
func TestRatedSetsAgainstVADER(t *testing.T) {
	env := os.Getenv("EARSHOT_RATED_SETS")
	if env == "" {
		t.Skip("EARSHOT_RATED_SETS names no rated text files")
	}
	for _, path := range filepath.SplitList(env) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			compareWithVADER(t, readRated(t, path))
		})
	}
}

func compareWithVADER(t *testing.T, data []ratedText) {
	t.Helper()
	vader := govader.NewSentimentIntensityAnalyzer()
	vr, vf, vfs := evaluate(data, func(s string) float64 { return vader.PolarityScores(s).Compound })
	t.Logf("%d texts", len(data))
	t.Logf("govader (plain VADER):           r=%.4f macroF1=%.4f (strict human class: %.4f)", vr, vf, vfs)
	for _, v := range []struct {
		name string
		cfg  EnglishConfig
	}{
		{"prose tokens only", EnglishConfig{NoPhrases: true, CrossSentence: true, KeepMarkers: true}},
		{"+ sentence-scoped rules", EnglishConfig{NoPhrases: true, KeepMarkers: true}},
		{"+ discourse markers", EnglishConfig{NoPhrases: true, CrossSentence: true}},
		{"+ phrases", EnglishConfig{CrossSentence: true, KeepMarkers: true}},
	} {
		m := NewEnglish(v.cfg)
		r, f, fs := evaluate(data, func(s string) float64 { return m.Score(s).Compound })
		t.Logf("earshot %-24s r=%.4f macroF1=%.4f (strict human class: %.4f)", v.name+":", r, f, fs)
	}
	m := NewEnglish(EnglishConfig{})
	r, f, fs := evaluate(data, func(s string) float64 { return m.Score(s).Compound })
	t.Logf("earshot (as shipped):            r=%.4f macroF1=%.4f (strict human class: %.4f)", r, f, fs)
	if r < vr {
		t.Errorf("Pearson r %.4f is below plain VADER's %.4f", r, vr)
	}
	if f < vf {
		t.Errorf("macro F1 %.4f is below plain VADER's %.4f", f, vf)
	}
	if fs < vfs {
		t.Errorf("macro F1 (strict human class) %.4f is below plain VADER's %.4f", fs, vfs)
	}
}
