package sentiment

import (
	"sync"
	"testing"

	"github.com/earshot-dev/earshot/msg"
	"github.com/jonreiter/govader"
)

func TestEnglishLabels(t *testing.T) {
	m := NewEnglish(EnglishConfig{})
	for _, c := range []struct {
		text, label string
	}{
		{"i want to cancel my account", msg.Negative},
		{"I've been on hold for an hour.", msg.Negative},
		{"I was on hold for 45 minutes", msg.Negative},
		{"we've been waiting for three weeks", msg.Negative},
		{"It is on hold. For two minutes I think.", msg.Neutral}, // a phrase stays inside its sentence
		{"let me speak to a manager", msg.Negative},
		{"this is ridiculous", msg.Negative},
		{"it's still not working", msg.Negative},
		{"thank you so much", msg.Positive},
		{"great, that fixed the problem", msg.Positive},
		{"no problem at all", msg.Positive},
		{"Okay, let me check that for you.", msg.Neutral},
		{"Yes. One moment please.", msg.Positive}, // "please" after the marker still counts
		{"No, the other account.", msg.Neutral},
		{"No! Not again.", msg.Negative},
		{"I don't want to cancel my account", msg.Positive}, // negation before a phrase flips it, as for a word
		{"the phone is great but the billing is awful and terrible", msg.Negative},
		{"I love the new plan. The billing is a horrible disaster.", msg.Mixed},
		{"the bill was sent on the tenth", msg.Neutral},
		{"", msg.Neutral},
		{"   ", msg.Neutral},
		{":) :)", msg.Positive},
	} {
		s := m.Score(c.text)
		if s.Label != c.label {
			t.Errorf("%q: %s (compound %.3f, pos %.2f, neg %.2f), want %s", c.text, s.Label, s.Compound, s.Pos, s.Neg, c.label)
		}
		if s.Compound < -1 || s.Compound > 1 {
			t.Errorf("%q: compound %v out of -1..1", c.text, s.Compound)
		}
	}
}

// TestExtensionsMeasured checks each contact-center extension changes what it
// is for: the phrase lexicon makes "cancel my account" more negative than
// plain VADER rules do, sentence-scoped rules stop a negation at a full stop.
func TestExtensionsMeasured(t *testing.T) {
	with := NewEnglish(EnglishConfig{})
	without := NewEnglish(EnglishConfig{NoPhrases: true, CrossSentence: true, KeepMarkers: true})
	for _, text := range []string{"I want to cancel my account", "I have been on hold for an hour", "can I speak to a manager"} {
		if a, b := with.Score(text).Compound, without.Score(text).Compound; a >= b {
			t.Errorf("%q: with phrases %.3f, without %.3f: want more negative with", text, a, b)
		}
	}
	text := "Nothing happened. You're great."
	if a, b := with.Score(text).Compound, without.Score(text).Compound; a <= 0 || b >= a {
		t.Errorf("%q: sentence-scoped %.3f, VADER's %.3f: want the negation kept out of the second sentence", text, a, b)
	}
	if s := without.Score("Okay, let me check."); s.Label != msg.Positive {
		t.Errorf("KeepMarkers: %q is %s, want VADER's positive", "Okay, let me check.", s.Label)
	}
}

func TestEnglishConcurrent(t *testing.T) {
	checkConcurrent(t, NewEnglish(EnglishConfig{}), "this is ridiculous, I want a refund")
}

// checkConcurrent scores text from four goroutines at once and checks every
// score is the one scored alone.
func checkConcurrent(t *testing.T, m Model, text string) {
	t.Helper()
	want := m.Score(text)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				if got := m.Score(text); got != want {
					t.Errorf("concurrent score of %q %+v, want %+v", text, got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestModelsFor(t *testing.T) {
	en := NewEnglish(EnglishConfig{})
	ko := ModelFunc(func(string) msg.Sentiment { return msg.Sentiment{Label: msg.Positive, Compound: 1} })
	ms := &Models{ByLanguage: map[string]Model{"ko": ko}, Default: en}
	for lang, want := range map[string]string{"ko": msg.Positive, "ko-KR": msg.Positive, "KO": msg.Positive, "en": msg.Neutral, "": msg.Neutral} {
		if got := ms.For(lang).Score("plain words").Label; got != want {
			t.Errorf("For(%q) scored %s, want %s", lang, got, want)
		}
	}
}

// benchTexts are short contact-center segments.
var benchTexts = []string{
	"Okay, let me check that for you.",
	"I've been on hold for an hour and this is ridiculous.",
	"Thank you so much, that fixed it!",
	"Can you give me your account number please?",
	"I want to cancel my account.",
	"Sure, no problem.",
	"It's still not working, I called three times already.",
	"Is there anything else I can help you with today?",
}

func BenchmarkScore(b *testing.B) {
	m := NewEnglish(EnglishConfig{})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.Score(benchTexts[i%len(benchTexts)])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "segments/s")
}

// BenchmarkScoreGovader is plain VADER on the same texts, for comparison.
func BenchmarkScoreGovader(b *testing.B) {
	m := govader.NewSentimentIntensityAnalyzer()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.PolarityScores(benchTexts[i%len(benchTexts)])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "segments/s")
}

// BenchmarkProseTokens is prose's tokenizer alone, the largest part of Score.
func BenchmarkProseTokens(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		proseTokens(benchTexts[i%len(benchTexts)])
	}
}

// contactCenterTurns are call-center turns, written as whisper writes them
// (sentence case, punctuation, no emphasis), with the label a quality
// analyst would give them.
var contactCenterTurns = []struct{ text, label string }{
	{"Thank you for calling, my name is Sarah, how can I help you today?", msg.Positive},
	{"Okay, let me pull up your account.", msg.Neutral},
	{"I am sorry to hear that, let me look into your account.", msg.Positive},
	{"I understand your frustration, I can refund the duplicate charge right now.", msg.Positive},
	{"Yes, that's correct.", msg.Neutral},
	{"No, the other one.", msg.Neutral},
	{"Sure, one moment.", msg.Neutral},
	{"Can I have your account number?", msg.Neutral},
	{"I've been on hold for over an hour.", msg.Negative},
	{"I was on hold for 40 minutes before anyone picked up.", msg.Negative},
	{"I want to cancel my account.", msg.Negative},
	{"Please just close my account.", msg.Negative},
	{"Let me speak to a manager.", msg.Negative},
	{"I need to talk to your supervisor right now.", msg.Negative},
	{"It's still not working.", msg.Negative},
	{"The app doesn't work since the update.", msg.Negative},
	{"You charged me twice this month.", msg.Negative},
	{"I was double charged.", msg.Negative},
	{"Nobody called me back.", msg.Negative},
	{"This is the third time calling about this.", msg.Negative},
	{"This is ridiculous.", msg.Negative},
	{"I'm going to file a complaint.", msg.Negative},
	{"Great, that fixed it.", msg.Positive},
	{"Okay, it works now.", msg.Positive},
	{"Thank you so much for your help.", msg.Positive},
	{"I really appreciate it.", msg.Positive},
	{"That's perfect, thanks.", msg.Positive},
	{"I'm sorry to hear that, let me fix the problem for you.", msg.Negative},
	{"Is there anything else I can help you with?", msg.Positive},
	{"Have a great day.", msg.Positive},
	{"Well, I guess.", msg.Neutral},
	{"Yeah, no, that's fine.", msg.Positive},
}

// TestContactCenterTurns measures the extensions where they are meant to
// help: Earshot's labels against an analyst's, next to plain VADER's.
func TestContactCenterTurns(t *testing.T) {
	m := NewEnglish(EnglishConfig{})
	vader := govader.NewSentimentIntensityAnalyzer()
	ours, theirs := 0, 0
	for _, c := range contactCenterTurns {
		s := m.Score(c.text)
		v := vader.PolarityScores(c.text).Compound
		vl := label(v, 0, 0)
		if s.Label == c.label {
			ours++
		} else {
			t.Logf("earshot: %q is %s (%.3f), want %s", c.text, s.Label, s.Compound, c.label)
		}
		if vl == c.label {
			theirs++
		}
	}
	t.Logf("labels right on %d contact-center turns: earshot %d, govader %d", len(contactCenterTurns), ours, theirs)
	if ours <= theirs {
		t.Errorf("earshot got %d labels right, plain VADER %d: the extensions should help here", ours, theirs)
	}
}
