// Package sentiment owns Earshot's sentiment scoring: a per-language text
// model (English: VADER, extended for contact-center speech) that labels each
// final segment, the per-call, per-participant Contact Lens scores built from
// those labels, and the analyze stage's live loop that publishes both, with
// the conversation characteristics, on NATS.
//
// # Models
//
// A [Model] scores one text. [Models] picks a model by the segment's
// language, or by the text's script when the segment names none
// ([DetectLanguage]); a language with no model is neutral and says why.
// [NewModels] has English ([NewEnglish]) and Korean ([NewKorean]).
//
// Korean is NB-LR (logistic regression over features scaled by their naive
// Bayes log-count ratios) over hashed character 1-3-grams across eojeol
// boundaries, eojeol unigrams and bigrams, eojeol under negation (안, 못
// before; 않다, 없다, 아니다 after) and the KOSAC lexicon's polarities,
// trained on the Naver movie reviews ([TrainKorean]; `go generate` or
// `earshot sentiment train` rebuilds korean.model, which is embedded); a
// contact-center phrase lexicon (해지, 상담원 바꿔, 세 번째, 감사) on top,
// and informational phrases (성함, 번호, 확인해 드릴게요) that keep plain turns
// neutral.
//
// # Call scores
//
// A [Tracker] keeps one call's labelled turns per participant and computes
// Contact Lens's scores: each period gets -5..+5 from how often each label
// occurs and from streaks of the same label; the overall score is the mean of
// the periods (the call's quarters); the current score is a trailing window;
// the shift is the last quarter minus the first.
//
// # The analyzer
//
// An [Analyzer] consumes call events, timeline spans and transcript segments
// from the events stream and publishes, for every final segment, a
// msg.ScoredSegment and an updated msg.CallSentiment; for every timeline span,
// updated msg.Characteristics (package characteristics); and once the call has
// ended and all the final segments its ended event counted are in (or a grace
// time has passed), the Final CallSentiment and Characteristics. Interim
// segments are not scored. Its state is per call, in memory; a call picked up
// mid-way (after a restart) is first read back from the stream.
package sentiment
