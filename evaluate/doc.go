// Package evaluate scores calls against quality teams' evaluation forms.
// A form is YAML, checked like a rule file (every problem with its line and
// column; earshot forms check):
//
//	form: service-qa                 # the form's id
//	name: Customer service QA
//	sections:
//	  - id: opening
//	    weight: 1                    # the section's weight in the form's total (default 1)
//	    questions:
//	      - id: greeting
//	        text: Did the agent greet the customer?
//	        type: yes_no             # yes_no (yes: 1, no: 0 unless given), choice, number
//	        weight: 2                # the question's weight in its section (default 1)
//	        auto: {category: Greeted}
//	      - id: resolved
//	        type: choice
//	        text: Was the issue resolved?
//	        choices: [{answer: Fully, score: 2}, {answer: Partly, score: 1}, {answer: No, score: 0}]
//	      - id: pace
//	        type: number
//	        text: Agent talk speed
//	        range: [0, 400]
//	        bands: [{min: 120, max: 180, score: 2}, {min: 90, max: 220, score: 1}]
//	        auto: {value: talk_speed, by: agent}
//
// A question scores its answer's score over the best its answers have; a
// section is the weighted mean of its answered questions, in percent; the
// form the weighted mean of its answered sections. Unanswered questions
// (no automation, or the call lacks what it reads) count in no total.
//
// An automatic answer (auto) reads one source: category (the call has it),
// alert (a rule of this id or name alerted), phrase (one or a list, said by
// agent or customer, within first or last N seconds), value (sentiment,
// sentiment_shift, sentiment_end, non_talk_share, non_talk_ms, talk_share,
// talk_speed, interruptions, duration_s; by a leg), attribute (a call
// attribute) or dtmf (the digits a leg pressed). A yes/no question from a
// number says at_least and/or at_most (an attribute may say equals); not:
// true turns the answer round. A number question takes the number itself.
// Choice questions are answered by an analyst.
//
// # The stage
//
// A Manager keeps the forms in the store, each save a new version, and the
// calls' evaluations: ScoreCall scores a call with each form's version in
// force when the call ended, Amend takes an analyst's changed answers (with
// a comment, who and when; the automatic answer is kept), Rescore scores a
// time range again with a version, or says what that would change. The
// Stage scores each call the store announces as stored (msg.CallStored).
// Analysts' answers survive scoring again while the form allows them.
package evaluate
