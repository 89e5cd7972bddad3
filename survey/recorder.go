package survey

import "github.com/earshot-dev/earshot/msg"

// Recorder turns the digits one call's customer presses during a survey
// into answers: on 1-5 a digit 1 to 5 answers; on 0-10 a digit answers,
// but 1 waits for the next key (0 makes it 10, # or any other key keeps
// 1, and that other key goes to the next question). Keys off the scale
// are ignored; * clears a pending 1. Not safe for concurrent use.
type Recorder struct {
	s       *Survey
	callID  string
	answers []msg.SurveyAnswer
	pending bool  // a 1 on 0-10 waits for the next key
	at      int64 // when the pending 1 was pressed
}

// NewRecorder starts recording the call's answers to s.
func NewRecorder(s *Survey, callID string) *Recorder {
	return &Recorder{s: s, callID: callID}
}

// Done reports whether every question is answered.
func (r *Recorder) Done() bool { return len(r.answers) == len(r.s.Questions) }

// Press takes a key (0-9, *, #) pressed at atMS on the call clock.
func (r *Recorder) Press(key string, atMS int64) {
	if r.Done() {
		return
	}
	q := r.s.Questions[len(r.answers)]
	if r.pending {
		r.pending = false
		switch key {
		case "0":
			r.answer(q, 10, r.at)
			return
		case "*":
			return
		}
		r.answer(q, 1, r.at)
		if key == "#" || r.Done() {
			return
		}
		q = r.s.Questions[len(r.answers)]
	}
	if len(key) != 1 || key[0] < '0' || key[0] > '9' {
		return
	}
	v := int(key[0] - '0')
	lo, hi, _ := msg.ScaleRange(q.Scale)
	switch {
	case v < lo || v > hi:
	case q.Scale == msg.ScaleNPS && v == 1:
		r.pending, r.at = true, atMS
	default:
		r.answer(q, v, atMS)
	}
}

func (r *Recorder) answer(q Question, v int, atMS int64) {
	r.answers = append(r.answers, msg.SurveyAnswer{Question: q.ID, Prompt: q.Prompt, Scale: q.Scale, Value: v, AtMS: atMS})
}

// Result is what was answered so far, a pending 1 counted as 1 (the call
// ended or the survey is over); ok is false when nothing was answered.
func (r *Recorder) Result() (res msg.SurveyResult, ok bool) {
	if r.pending && !r.Done() {
		r.pending = false
		r.answer(r.s.Questions[len(r.answers)], 1, r.at)
	}
	if len(r.answers) == 0 {
		return msg.SurveyResult{}, false
	}
	return msg.SurveyResult{CallID: r.callID, Survey: r.s.Name, Answers: append([]msg.SurveyAnswer(nil), r.answers...)}, true
}
