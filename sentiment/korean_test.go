package sentiment

import (
	"bytes"
	"errors"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/internal/sharedtest"
	"github.com/earshot-dev/earshot/msg"
)

// koreanContactCenterTurns are Korean call-center turns, written as a
// transcriber writes them, with the label a quality analyst would give them:
// complaints, thanks, plain requests and information (neutral), polite
// refusals (negative: the turn refuses what the caller asked for), and the
// churn and escalation requests (해지, 환불, 상담원 바꿔 주세요) and repeat
// calls that the English turns have too.
var koreanContactCenterTurns = []struct{ text, label string }{
	// Complaints, churn, escalation, repeat calls.
	{"너무 화가 나요. 해지해 주세요.", msg.Negative},
	{"해지하고 싶어요.", msg.Negative},
	{"인터넷 해지 신청하려고요.", msg.Negative},
	{"환불해 주세요.", msg.Negative},
	{"결제한 거 환불 받고 싶어요.", msg.Negative},
	{"상담원 바꿔 주세요.", msg.Negative},
	{"책임자 바꿔 주세요.", msg.Negative},
	{"이번이 세 번째 전화예요.", msg.Negative},
	{"벌써 세 번째 전화하는 거예요.", msg.Negative},
	{"한 시간째 기다리고 있어요.", msg.Negative},
	{"아직도 안 돼요.", msg.Negative},
	{"업데이트 이후로 앱이 안 돼요.", msg.Negative},
	{"요금이 두 번 청구됐어요.", msg.Negative},
	{"아무도 다시 연락을 안 줬어요.", msg.Negative},
	{"정말 어이가 없네요.", msg.Negative},
	{"짜증나 죽겠어요.", msg.Negative},
	{"민원 넣을 거예요.", msg.Negative},
	{"서비스가 너무 불친절해요.", msg.Negative},
	{"인터넷이 계속 끊겨요.", msg.Negative},
	{"이게 말이 됩니까?", msg.Negative},
	// Polite refusals.
	{"죄송하지만 환불은 어렵습니다.", msg.Negative},
	{"죄송합니다만 규정상 처리가 불가능합니다.", msg.Negative},
	// Thanks and good outcomes.
	{"감사합니다.", msg.Positive},
	{"정말 감사합니다, 덕분에 해결됐어요.", msg.Positive},
	{"친절하게 안내해 주셔서 고맙습니다.", msg.Positive},
	{"네, 이제 잘 돼요.", msg.Positive},
	{"빠르게 처리해 주셔서 감사해요.", msg.Positive},
	{"도와주셔서 정말 고마워요.", msg.Positive},
	{"좋은 하루 보내세요.", msg.Positive},
	{"문제가 해결돼서 다행이에요.", msg.Positive},
	{"전화 주셔서 감사합니다, 무엇을 도와드릴까요?", msg.Positive},
	// Information and plain requests.
	{"안녕하세요.", msg.Neutral},
	{"네.", msg.Neutral},
	{"네, 맞습니다.", msg.Neutral},
	{"잠시만요.", msg.Neutral},
	{"잠시만 기다려 주세요.", msg.Neutral},
	{"주소 확인해 드릴게요.", msg.Neutral},
	{"고객님 성함이 어떻게 되세요?", msg.Neutral},
	{"생년월일 말씀해 주시겠어요?", msg.Neutral},
	{"카드 번호 뒷자리 네 자리 불러 주세요.", msg.Neutral},
	{"아니요, 다른 계정이요.", msg.Neutral},
	{"확인해 보겠습니다.", msg.Neutral},
	{"요금제 변경하고 싶은데요.", msg.Neutral},
}

func TestKoreanContactCenterTurns(t *testing.T) {
	k, err := NewKorean()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range koreanContactCenterTurns {
		if s := k.Score(c.text); s.Label != c.label {
			t.Errorf("%q is %s (compound %.3f), want %s", c.text, s.Label, s.Compound, c.label)
		}
	}
}

// TestKoreanModelAlone: without the phrase lexicon the movie-review model
// gets fewer of the call turns right: the lexicon is what makes it a
// contact-center model. (Logged, for the README.)
func TestKoreanModelAlone(t *testing.T) {
	k, err := NewKorean()
	if err != nil {
		t.Fatal(err)
	}
	s := &koScratch{}
	alone, with := 0, 0
	for _, c := range koreanContactCenterTurns {
		if koSentiment(k.margin(s, c.text)).Label == c.label {
			alone++
		}
		if k.Score(c.text).Label == c.label {
			with++
		}
	}
	t.Logf("labels right on %d Korean call turns: with the phrases %d, the model alone %d", len(koreanContactCenterTurns), with, alone)
	if with <= alone {
		t.Errorf("with phrases %d right, model alone %d: the phrases should help", with, alone)
	}
}

func TestKoreanNegation(t *testing.T) {
	k, err := NewKorean()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ text, label string }{
		{"정말 친절하시네요.", msg.Positive},
		{"별로 친절하지 않아요.", msg.Negative},
		{"불만 없어요.", msg.Positive},
		{"잘 돼요.", msg.Positive},
		{"잘 안 돼요.", msg.Negative},
		{"", msg.Neutral},
		{" \t ", msg.Neutral},
		{"...", msg.Neutral},
	} {
		if s := k.Score(c.text); s.Label != c.label {
			t.Errorf("%q is %s (compound %.3f), want %s", c.text, s.Label, s.Compound, c.label)
		}
	}
}

// TestKoreanDevAccuracy measures the committed model on the NSMC reviews
// training held out (every tenth): by the sign of the model's margin, and
// by the sign of Score's compound, where 0 (the neutral band, the phrases)
// counts as wrong. Both must reach 0.87.
func TestKoreanDevAccuracy(t *testing.T) {
	path := sharedtest.Path(t, "data/korean/nsmc/ratings_train.txt")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, dev, err := readNSMC(f, 0)
	if err != nil {
		t.Fatal(err)
	}
	k, err := NewKorean()
	if err != nil {
		t.Fatal(err)
	}
	raw := k.rawAccuracy(dev)
	right, zero := 0, 0
	for _, rv := range dev {
		c := k.Score(rv.text).Compound
		switch {
		case c == 0:
			zero++
		case c > 0 == rv.positive:
			right++
		}
	}
	scored := float64(right) / float64(len(dev))
	t.Logf("NSMC held-out reviews: %d; accuracy by the margin's sign %.4f, by Score's compound %.4f (%d scored 0, counted wrong)", len(dev), raw, scored, zero)
	if len(dev) != 15000 || raw < 0.87 || scored < 0.87 {
		t.Errorf("%d held-out reviews, accuracy %.4f (margin), %.4f (compound): want 15000 and at least 0.87", len(dev), raw, scored)
	}
}

// koreanTestData opens the training data, or skips.
func koreanTestData(t *testing.T) (nsmc, kosac []byte) {
	t.Helper()
	n, err := os.ReadFile(sharedtest.Path(t, "data/korean/nsmc/ratings_train.txt"))
	if err != nil {
		t.Fatal(err)
	}
	k, err := os.ReadFile(sharedtest.Path(t, "data/korean/kosac/polarity.csv"))
	if err != nil {
		t.Fatal(err)
	}
	return n, k
}

// TestTrainKoreanDeterministic: the same data and seed give the same bytes;
// another seed, other bytes.
func TestTrainKoreanDeterministic(t *testing.T) {
	nsmc, kosac := koreanTestData(t)
	train := func(seed uint64) ([]byte, KoreanTrainStats) {
		var out bytes.Buffer
		st, err := TrainKorean(bytes.NewReader(nsmc), bytes.NewReader(kosac), &out, KoreanTrainConfig{Bits: 16, Limit: 4000, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		return out.Bytes(), st
	}
	a, st := train(1)
	b, _ := train(1)
	c, _ := train(2)
	if !bytes.Equal(a, b) {
		t.Error("two trainings with the same seed wrote different model files")
	}
	if bytes.Equal(a, c) {
		t.Error("trainings with seeds 1 and 2 wrote the same model file: the seed is not used")
	}
	if st.Train != 3600 || st.Dev != 400 || st.Lexicon < 100 || st.DevAccuracy < 0.6 {
		t.Errorf("stats %+v: want 3600 training and 400 held-out reviews, a lexicon, accuracy above chance", st)
	}
	if _, err := LoadKorean(bytes.NewReader(a)); err != nil {
		t.Errorf("the trained model does not load: %v", err)
	}
}

func TestTrainKoreanBadData(t *testing.T) {
	kosac := "ngram,COMP,NEG,NEUT,None,POS\n짜증/NNG,0,9,0,0,0\n"
	for name, nsmc := range map[string]string{
		"no header":   "1\t좋다\t1\n",
		"bad label":   "id\tdocument\tlabel\n1\t좋다\t5\n",
		"no reviews":  "id\tdocument\tlabel\n",
		"two columns": "id\tdocument\tlabel\n1\t좋다\n",
	} {
		if _, err := TrainKorean(strings.NewReader(nsmc), strings.NewReader(kosac), &bytes.Buffer{}, KoreanTrainConfig{Bits: 10}); err == nil {
			t.Errorf("%s: trained without an error", name)
		}
	}
	nsmc := "id\tdocument\tlabel\n1\t좋다\t1\n"
	if _, err := TrainKorean(strings.NewReader(nsmc), strings.NewReader("ngram,NEG\n짜증/NNG,x\n"), &bytes.Buffer{}, KoreanTrainConfig{Bits: 10}); err == nil {
		t.Error("a KOSAC file without a POS column: no error")
	}
}

func TestLoadKoreanBad(t *testing.T) {
	var good bytes.Buffer
	if err := writeKorean(&good, 10, koLexicon{"짜증": -1}, 0.1, make([]float64, 1<<10)); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKorean(bytes.NewReader(good.Bytes())); err != nil {
		t.Fatalf("a good file: %v", err)
	}
	for name, b := range map[string][]byte{
		"empty":     nil,
		"garbage":   []byte("ESKO\x01 plain"),
		"truncated": good.Bytes()[:good.Len()/2],
	} {
		if _, err := LoadKorean(bytes.NewReader(b)); !errors.Is(err, ErrKoreanModel) {
			t.Errorf("%s: error %v, want ErrKoreanModel", name, err)
		}
	}
}

func TestModelsLanguage(t *testing.T) {
	ms, err := NewModels()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		lang, text, wantLang, label string
		unscored                    bool
	}{
		{"", "너무 화가 나요. 해지해 주세요.", "ko", msg.Negative, false},
		{"ko-KR", "감사합니다", "ko", msg.Positive, false},
		{"", "I want to cancel my account", "en", msg.Negative, false},
		{"", "제 account 해지해 주세요", "ko", msg.Negative, false}, // Hangul is half the letters
		{"", "my 인터넷 account is broken", "en", msg.Negative, false},
		{"", "1234 5678", "en", msg.Neutral, false},
		{"ja", "最悪です", "ja", msg.Neutral, true},
		{"EN", "this is ridiculous", "en", msg.Negative, false},
		{"auto", "해지해 주세요", "ko", msg.Negative, false},
		{"und", "thank you", "en", msg.Positive, false},
	} {
		s := ms.Score(c.lang, c.text)
		if s.Language != c.wantLang || s.Label != c.label || (s.Unscored != "") != c.unscored {
			t.Errorf("Score(%q, %q) = %+v: want language %s, label %s, unscored %v", c.lang, c.text, s, c.wantLang, c.label, c.unscored)
		}
	}
	if s := ms.Score("ja", "x"); !strings.Contains(s.Unscored, `"ja"`) {
		t.Errorf("unscored reason %q does not name the language", s.Unscored)
	}
}

// TestKoreanCallScores: the Contact Lens scores work on Korean turns as on
// English ones: a customer who starts angry and ends thankful gets -5 in
// the first quarter, +5 in the last, a positive shift.
func TestKoreanCallScores(t *testing.T) {
	ms, err := NewModels()
	if err != nil {
		t.Fatal(err)
	}
	tr, err := NewTracker(TrackerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	A, C := msg.RoleAgent, msg.RoleCustomer
	for _, tu := range []struct {
		leg        msg.Role
		start, end int64
		text       string
	}{
		{A, 0, 3000, "전화 주셔서 감사합니다, 무엇을 도와드릴까요?"},
		{C, 3000, 6000, "이번이 세 번째 전화예요. 인터넷이 계속 끊겨요."},
		{C, 6000, 9000, "너무 화가 나요. 해지해 주세요."},
		{A, 9000, 12000, "주소 확인해 드릴게요."},
		{C, 14000, 16000, "네."},
		{A, 20000, 24000, "잠시만 기다려 주세요."},
		{C, 31000, 34000, "네, 이제 잘 돼요."},
		{C, 35000, 38000, "정말 감사합니다, 덕분에 해결됐어요."},
	} {
		s := ms.Score("", tu.text)
		tr.Add(tu.leg, Turn{StartMS: tu.start, EndMS: tu.end, Label: s.Label})
	}
	c := tr.Snapshot("ko-call", 40000, 40000, true).Participants[C]
	want := []float64{-5, 0, 0, 5}
	for i := range want {
		if c.Periods[i] != want[i] {
			t.Fatalf("customer periods %v, want %v", c.Periods, want)
		}
	}
	if c.Shift != 10 || c.Turns != 5 || len(c.Trend) != 5 || c.Trend[1].Score != -5 || c.Trend[4].Score <= c.Trend[2].Score {
		t.Errorf("customer %+v: want shift 10, 5 turns, a trend from -5 rising", c)
	}
}

func TestKoreanConcurrent(t *testing.T) {
	k, err := NewKorean()
	if err != nil {
		t.Fatal(err)
	}
	checkConcurrent(t, k, "상담원 바꿔 주세요. 벌써 세 번째 전화예요.")
}

// TestKoreanLongLine: a 100 kB line scores (its first koMaxRunes runes)
// without trouble, and fast.
func TestKoreanLongLine(t *testing.T) {
	k, err := NewKorean()
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Repeat("서비스가 너무 불친절해요 ", 100<<10/len("서비스가 너무 불친절해요 "))
	if s := k.Score(line); s.Label != msg.Negative || math.IsNaN(s.Compound) {
		t.Errorf("100 kB of complaint: %+v", s)
	}
}

// koreanBenchTexts are short Korean call turns.
var koreanBenchTexts = []string{
	"주소 확인해 드릴게요.",
	"한 시간째 기다리고 있어요. 정말 어이가 없네요.",
	"정말 감사합니다, 덕분에 해결됐어요!",
	"고객님 성함이 어떻게 되세요?",
	"해지하고 싶어요.",
	"네, 잠시만요.",
	"아직도 안 돼요, 벌써 세 번째 전화예요.",
	"더 도와드릴 일은 없으실까요?",
}

func BenchmarkKoreanScore(b *testing.B) {
	k, err := NewKorean()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k.Score(koreanBenchTexts[i%len(koreanBenchTexts)])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "segments/s")
}

// BenchmarkLoadKorean: the time to load the built-in model; B/op is the
// memory it takes.
func BenchmarkLoadKorean(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := NewKorean(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/load")
}

// TestLoadKoreanQuick guards against a model grown too big: loading it
// takes far less than a second even on a loaded machine (the README's
// figure is from BenchmarkLoadKorean).
func TestLoadKoreanQuick(t *testing.T) {
	start := time.Now()
	k, err := NewKorean()
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second || len(k.weights) > 1<<22 {
		t.Errorf("loading took %v, %d weights", d, len(k.weights))
	}
}
