package ui

import (
	"errors"
	"net/http"
	"strings"

	"github.com/earshot-dev/earshot/msg"
	"github.com/earshot-dev/earshot/record"
)

// handleRecording serves a call's recording with range requests: the
// redacted one, or the original (?original=1, admins); as stored (G.711
// WAV) or as 16-bit PCM WAV (?format=wav). Agents hear their own calls
// only. Every listen (a request from the start) is logged.
func (s *Server) handleRecording(w http.ResponseWriter, r *http.Request) {
	id, original, ok := callAccess(w, r)
	if !ok {
		return
	}
	format := r.URL.Query().Get("format")
	if format != "" && format != "wav" {
		writeError(w, http.StatusBadRequest, "format "+format+": want wav (16-bit PCM) or none (as stored)")
		return
	}
	if s.cfg.Recordings == nil {
		writeErrorKey(w, http.StatusNotFound, "err.no_recordings", nil, "recordings are not kept here")
		return
	}
	rec, _, err := s.callRecord(r, id, false)
	switch {
	case errors.Is(err, msg.ErrNotFound):
		writeErrorKey(w, http.StatusNotFound, "err.no_call", nil, "no call "+id)
		return
	case err != nil:
		s.log.Error("recording: store failed", "call", id, "err", err)
		writeErrorKey(w, http.StatusBadGateway, "err.store_failed", nil, "the store failed to answer")
		return
	}
	if a := agentFilter(me(r)); a != "" && rec.Call.Agent != a {
		writeError(w, http.StatusForbidden, "agents hear only their own calls")
		return
	}
	name := record.RedactedName(id)
	if original {
		name = record.OriginalName(id)
	}
	rd, err := record.OpenReader(r.Context(), s.cfg.Recordings, name, format == "wav")
	switch {
	case errors.Is(err, record.ErrNotFound):
		text := "no recording of call " + id + " yet: it is made when the call has ended and its transcript is redacted"
		if original {
			text = "no original recording of call " + id + ": it is not kept (--record redacted) or not sealed yet"
		}
		writeErrorKey(w, http.StatusNotFound, "err.no_recording", nil, text)
		return
	case err != nil:
		s.log.Error("recording: open failed", "call", id, "err", err)
		writeError(w, http.StatusBadGateway, "the recording could not be read")
		return
	}
	defer rd.Close()
	if rg := r.Header.Get("Range"); rg == "" || strings.HasPrefix(rg, "bytes=0-") {
		s.log.Info("recording listened", "user", me(r).Name, "call", id, "original", original, "format", format)
	}
	w.Header().Set("Content-Type", "audio/wav")
	w.Header().Set("Cache-Control", "private, no-store")
	http.ServeContent(w, r, "", rd.ModTime(), rd)
}
