package ui

import (
	"errors"
	"net/http"
	"strings"

	"github.com/earshot-dev/earshot/msg"
)

// The forms page (analysts and admins: list, edit with line:column
// problems, save a new version, past versions, re-score a time range) and
// the call view's evaluations (whoever may see the call reads them;
// analysts and admins change answers).

func (s *Server) formsOr503(w http.ResponseWriter) bool {
	if s.cfg.Forms == nil {
		writeErrorKey(w, http.StatusServiceUnavailable, "err.no_forms", nil, "evaluation forms are not available: no evaluate stage is connected")
		return false
	}
	return true
}

// writeFormsError answers an error of the forms: a request to fix, what
// is not there, or the store failing.
func (s *Server) writeFormsError(w http.ResponseWriter, what string, err error) {
	switch {
	case errors.Is(err, msg.ErrBadQuery):
		writeErrorKey(w, http.StatusBadRequest, "err.bad_request", map[string]any{"detail": err.Error()}, err.Error())
	case errors.Is(err, msg.ErrNotFound):
		writeErrorKey(w, http.StatusNotFound, "err.not_found", map[string]any{"detail": err.Error()}, err.Error())
	default:
		s.log.Error(what+" failed", "err", err)
		writeErrorKey(w, http.StatusBadGateway, "err.store_failed", nil, "the store failed to answer")
	}
}

func (s *Server) handleForms(w http.ResponseWriter, r *http.Request) {
	if !s.formsOr503(w) {
		return
	}
	fs, err := s.cfg.Forms.Forms(r.Context())
	if err != nil {
		s.writeFormsError(w, "forms list", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"forms": fs})
}

func (s *Server) handleFormVersions(w http.ResponseWriter, r *http.Request) {
	if !s.formsOr503(w) {
		return
	}
	vs, err := s.cfg.Forms.Versions(r.Context(), r.PathValue("form"))
	if err != nil {
		s.writeFormsError(w, "form versions", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"versions": vs})
}

type formIn struct {
	Text string `json:"text"`
}

func (s *Server) handleFormCheck(w http.ResponseWriter, r *http.Request) {
	var in formIn
	if !s.formsOr503(w) || !readJSON(w, r, &in) {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"problems": nonNil(s.cfg.Forms.Check([]byte(in.Text)))})
}

func (s *Server) handleFormSave(w http.ResponseWriter, r *http.Request) {
	var in formIn
	if !s.formsOr503(w) || !readJSON(w, r, &in) {
		return
	}
	p := me(r)
	saved, probs, err := s.cfg.Forms.Save(r.Context(), []byte(in.Text), p.Name)
	switch {
	case len(probs) > 0:
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"problems": probs})
	case err != nil:
		s.writeFormsError(w, "form save", err)
	default:
		writeJSON(w, http.StatusCreated, map[string]any{"form": saved, "problems": []msg.Problem{}})
	}
}

func (s *Server) handleRescore(w http.ResponseWriter, r *http.Request) {
	var in msg.RescoreRequest
	if !s.formsOr503(w) || !readJSON(w, r, &in) {
		return
	}
	res, err := s.cfg.Forms.Rescore(r.Context(), in)
	if err != nil {
		s.writeFormsError(w, "re-scoring", err)
		return
	}
	if !in.DryRun {
		s.log.Info("calls re-scored", "form", res.Form, "version", res.Version, "calls", res.Calls, "changed", res.Changed, "by", me(r).Name)
	}
	writeJSON(w, http.StatusOK, res)
}

// scoredForm is an evaluation with the form version it was scored with
// (nil when that version is not a saved one).
type scoredForm struct {
	Evaluation msg.Evaluation `json:"evaluation"`
	Spec       *msg.FormSpec  `json:"spec"`
}

func (s *Server) scored(r *http.Request, ev msg.Evaluation) (scoredForm, error) {
	out := scoredForm{Evaluation: ev}
	if ev.FormRevision == 0 {
		return out, nil
	}
	spec, err := s.cfg.Forms.Spec(r.Context(), ev.Form, ev.FormRevision)
	if errors.Is(err, msg.ErrNotFound) {
		return out, nil
	}
	out.Spec = &spec
	return out, err
}

// handleEvaluations answers a call's evaluations with their forms, to
// whoever may see the call (agents: their own).
func (s *Server) handleEvaluations(w http.ResponseWriter, r *http.Request) {
	if !s.formsOr503(w) {
		return
	}
	id, _, ok := callAccess(w, r)
	if !ok {
		return
	}
	rec, _, err := s.callRecord(r, id, false)
	switch {
	case errors.Is(err, msg.ErrNotFound):
		writeErrorKey(w, http.StatusNotFound, "err.no_call", nil, "no call "+id)
		return
	case err != nil:
		s.writeFormsError(w, "evaluations", err)
		return
	}
	if a := agentFilter(me(r)); a != "" && rec.Call.Agent != a {
		writeError(w, http.StatusForbidden, "agents see only their own calls")
		return
	}
	out := []scoredForm{}
	for _, ev := range rec.Evaluations {
		sf, err := s.scored(r, ev)
		if err != nil {
			s.writeFormsError(w, "evaluations", err)
			return
		}
		out = append(out, sf)
	}
	writeJSON(w, http.StatusOK, map[string]any{"evaluations": out})
}

// handleAmend takes an analyst's changed answers to a call's evaluation.
func (s *Server) handleAmend(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Changes []msg.AnswerChange `json:"changes"`
	}
	if !s.formsOr503(w) {
		return
	}
	id, _, ok := callAccess(w, r)
	if !ok || !readJSON(w, r, &in) {
		return
	}
	for i := range in.Changes {
		in.Changes[i].Comment = strings.TrimSpace(in.Changes[i].Comment)
	}
	ev, err := s.cfg.Forms.Amend(r.Context(), id, r.PathValue("form"), in.Changes, me(r).Name)
	if err != nil {
		s.writeFormsError(w, "evaluation change", err)
		return
	}
	sf, err := s.scored(r, ev)
	if err != nil {
		s.writeFormsError(w, "evaluation change", err)
		return
	}
	writeJSON(w, http.StatusOK, sf)
}
