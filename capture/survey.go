package capture

import (
	"github.com/earshot-dev/earshot/msg"
	"github.com/earshot-dev/earshot/survey"
)

// startSurvey starts recording the answers to s on the call, unless a
// survey was started already (or s is nil).
func (cl *call) startSurvey(s *survey.Survey) {
	if cl.survey == nil && s != nil {
		cl.survey = survey.NewRecorder(s, cl.id)
	}
}

// agentLeft notes that the agent leg ended while the call goes on: the
// survey configured to start then begins.
func (cl *call) agentLeft() { cl.startSurvey(cl.c.cfg.Surveys.OnAgentLeft()) }

// surveyKey gives a key the customer pressed at atMS to the survey going
// on, and publishes its result once every question is answered.
func (cl *call) surveyKey(l *leg, key string, atMS int64) {
	if cl.survey == nil || cl.surveyed || l.role != msg.RoleCustomer {
		return
	}
	cl.survey.Press(key, atMS)
	if cl.survey.Done() {
		cl.publishSurvey()
	}
}

// publishSurvey publishes the survey's answers, once, when there are any.
func (cl *call) publishSurvey() {
	if cl.survey == nil || cl.surveyed {
		return
	}
	cl.surveyed = true
	if r, ok := cl.survey.Result(); ok {
		cl.c.out.add(cl.id, msg.SubjectSurvey(cl.id), &r)
	}
}
