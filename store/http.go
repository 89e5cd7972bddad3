package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/earshot-dev/earshot/msg"
)

// HandlerConfig configures the HTTP API. Reader is required.
type HandlerConfig struct {
	Reader Reader
	// Original reports whether the request's user may read original
	// (unredacted) text; nil means nobody may, and ?original=true is
	// refused with 403.
	Original func(r *http.Request) bool
	Logger   *slog.Logger
}

// NewHandler returns the HTTP JSON API: GET /api/search and
// GET /api/calls/{id} (see the package documentation). Authentication is
// the job of whoever mounts it.
func NewHandler(cfg HandlerConfig) (http.Handler, error) {
	if cfg.Reader == nil {
		return nil, errors.New("store: http handler needs a reader")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	h := &handler{cfg}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/search", h.search)
	mux.HandleFunc("GET /api/calls/{id}", h.call)
	return mux, nil
}

type handler struct{ cfg HandlerConfig }

func (h *handler) search(w http.ResponseWriter, r *http.Request) {
	q, err := ParseSearchValues(r.URL.Query())
	if err == nil {
		var res msg.SearchResults
		if res, err = h.cfg.Reader.Search(r.Context(), q); err == nil {
			writeJSON(w, http.StatusOK, res)
			return
		}
	}
	h.fail(w, r, err)
}

func (h *handler) call(w http.ResponseWriter, r *http.Request) {
	original := false
	if v := r.URL.Query().Get("original"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			h.fail(w, r, fmt.Errorf("%w: original %q: want true or false", msg.ErrBadQuery, v))
			return
		}
		if b && (h.cfg.Original == nil || !h.cfg.Original(r)) {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "not allowed to read original (unredacted) text"})
			return
		}
		original = b
	}
	rec, err := h.cfg.Reader.Call(r.Context(), r.PathValue("id"), original)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rec)
}

func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, msg.ErrBadQuery):
		status = http.StatusBadRequest
	case errors.Is(err, msg.ErrNotFound):
		status = http.StatusNotFound
	case r.Context().Err() != nil:
		status = http.StatusServiceUnavailable
	default:
		h.cfg.Logger.Error("store api failed", "path", r.URL.Path, "err", err)
	}
	writeJSON(w, status, map[string]string{"error": err.Error()})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// ParseSearchValues reads a search from URL query parameters (the HTTP API's
// and the command line's filters): q, agent, queue, from, to (RFC 3339 or
// YYYY-MM-DD), leg, min_sentiment, max_sentiment, min_shift, max_shift,
// category, has_alert, min_non_talk_ms, attr (key:value, repeatable),
// min_score, max_score, answer (question:answer, repeatable), csat (a 1-5
// survey answer), limit, offset. Errors wrap msg.ErrBadQuery and name the parameter;
// unknown parameters are refused. The query text itself is checked by the
// store's Search.
func ParseSearchValues(v url.Values) (msg.SearchQuery, error) {
	var q msg.SearchQuery
	bad := func(name, val, want string) error {
		return fmt.Errorf("%w: %s %q: %s", msg.ErrBadQuery, name, val, want)
	}
	for name, vals := range v {
		if len(vals) == 0 {
			continue
		}
		if len(vals) > 1 && name != "attr" && name != "answer" {
			return q, fmt.Errorf("%w: %s given %d times", msg.ErrBadQuery, name, len(vals))
		}
		val := vals[0]
		var err error
		switch name {
		case "q":
			q.Text = val
		case "agent":
			q.Agent = val
		case "queue":
			q.Queue = val
		case "category":
			q.Category = val
		case "leg":
			q.Leg = msg.Role(val)
			if !q.Leg.Valid() {
				return q, bad(name, val, "want agent, customer, a or b")
			}
		case "from", "to":
			t, perr := parseTime(val)
			if perr != nil {
				return q, bad(name, val, "want a time like 2026-11-02T09:00:00Z or a date like 2026-11-02")
			}
			if name == "from" {
				q.From = &t
			} else {
				q.To = &t
			}
		case "min_sentiment", "max_sentiment", "min_shift", "max_shift":
			f, perr := strconv.ParseFloat(val, 64)
			if perr != nil || f < -5 || f > 5 {
				return q, bad(name, val, "want a number from -5 to 5")
			}
			switch name {
			case "min_sentiment":
				q.MinSentiment = &f
			case "max_sentiment":
				q.MaxSentiment = &f
			case "min_shift":
				q.MinShift = &f
			default:
				q.MaxShift = &f
			}
		case "min_score", "max_score":
			f, perr := strconv.ParseFloat(val, 64)
			if perr != nil || f < 0 || f > 100 {
				return q, bad(name, val, "want a score from 0 to 100")
			}
			if name == "min_score" {
				q.MinScore = &f
			} else {
				q.MaxScore = &f
			}
		case "csat":
			n, perr := strconv.Atoi(val)
			if perr != nil || n < 1 || n > 5 {
				return q, bad(name, val, "want a survey answer from 1 to 5")
			}
			q.CSAT = &n
		case "has_alert":
			b, perr := strconv.ParseBool(val)
			if perr != nil {
				return q, bad(name, val, "want true or false")
			}
			q.HasAlert = &b
		case "min_non_talk_ms":
			q.MinNonTalkMS, err = strconv.ParseInt(val, 10, 64)
			if err != nil || q.MinNonTalkMS < 0 {
				return q, bad(name, val, "want milliseconds, 0 or more")
			}
		case "limit", "offset":
			n, perr := strconv.Atoi(val)
			if perr != nil || n < 0 {
				return q, bad(name, val, "want a whole number, 0 or more")
			}
			if name == "limit" {
				q.Limit = n
			} else {
				q.Offset = n
			}
		case "attr":
			q.Attributes = map[string]string{}
			for _, kv := range vals {
				k, val, ok := strings.Cut(kv, ":")
				if !ok || k == "" {
					return q, bad(name, kv, "want key:value")
				}
				q.Attributes[k] = val
			}
		case "answer":
			q.Answers = map[string]string{}
			for _, kv := range vals {
				k, val, ok := strings.Cut(kv, ":")
				if !ok || k == "" || val == "" {
					return q, bad(name, kv, "want question:answer")
				}
				q.Answers[k] = val
			}
		default:
			return q, fmt.Errorf("%w: unknown parameter %q", msg.ErrBadQuery, name)
		}
	}
	return q, CheckQuery(&q)
}

func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Parse(time.DateOnly, s)
}
