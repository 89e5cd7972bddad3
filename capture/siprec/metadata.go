package siprec

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrMetadata is wrapped by the errors of metadata refused.
var ErrMetadata = errors.New("siprec: recording metadata")

// NS is the RFC 7865 metadata namespace.
const NS = "urn:ietf:params:xml:ns:recording:1"

// Bounds on what metadata may hold.
const (
	maxMetadata   = 64 << 10
	maxElements   = 64 // participants, streams, associations
	maxExtensions = 32
	maxValue      = 256
)

// Metadata is what an RS's recording metadata says (RFC 7865).
type Metadata struct {
	// SessionID is the recorded call's SIP session id (sipSessionID) or,
	// without one, its session_id.
	SessionID    string
	Participants []Participant
	// Streams maps a stream_id to its SDP label.
	Streams map[string]string
	// Extensions are the leaf elements of other namespaces (an SRC's
	// extension data), by local name: the call's attributes.
	Extensions map[string]string
}

// Participant is one party of the recorded call.
type Participant struct {
	ID, Name, AoR string
	// Send are the stream_ids of what the participant says.
	Send []string
}

// xml shapes of RFC 7865.
type xmlRecording struct {
	XMLName      xml.Name         `xml:"recording"`
	Sessions     []xmlSession     `xml:"session"`
	Participants []xmlParticipant `xml:"participant"`
	Streams      []xmlStream      `xml:"stream"`
	Assocs       []xmlAssoc       `xml:"participantstreamassoc"`
}

type xmlSession struct {
	ID           string `xml:"session_id,attr"`
	SIPSessionID string `xml:"sipSessionID"`
}

type xmlParticipant struct {
	ID     string `xml:"participant_id,attr"`
	NameID []struct {
		AoR  string `xml:"aor,attr"`
		Name string `xml:"name"`
	} `xml:"nameID"`
	Send []string `xml:"send"` // RFC 7865 drafts put send here
}

type xmlStream struct {
	ID    string `xml:"stream_id,attr"`
	Label string `xml:"label"`
}

type xmlAssoc struct {
	Participant string   `xml:"participant_id,attr"`
	Send        []string `xml:"send"`
}

// ParseMetadata reads RFC 7865 recording metadata. It refuses what is not
// a recording document of that namespace, and bounds what it keeps.
func ParseMetadata(b []byte) (*Metadata, error) {
	if len(b) > maxMetadata {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrMetadata, len(b), maxMetadata)
	}
	var r xmlRecording
	d := xml.NewDecoder(bytes.NewReader(b))
	if err := d.Decode(&r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMetadata, err)
	}
	if r.XMLName.Space != NS {
		return nil, fmt.Errorf("%w: root element in namespace %.60q, want %s", ErrMetadata, r.XMLName.Space, NS)
	}
	if n := len(r.Participants) + len(r.Streams) + len(r.Assocs); n > maxElements {
		return nil, fmt.Errorf("%w: %d participants, streams and associations, at most %d", ErrMetadata, n, maxElements)
	}
	m := &Metadata{Streams: map[string]string{}, Extensions: map[string]string{}}
	for _, s := range r.Sessions {
		if m.SessionID == "" {
			m.SessionID = clip(s.ID)
		}
		if s.SIPSessionID != "" {
			m.SessionID = clip(s.SIPSessionID)
		}
	}
	index := map[string]int{}
	for _, p := range r.Participants {
		if p.ID == "" {
			return nil, fmt.Errorf("%w: a participant without participant_id", ErrMetadata)
		}
		q := Participant{ID: clip(p.ID), Send: clipAll(p.Send)}
		for _, n := range p.NameID {
			q.AoR, q.Name = clip(strings.TrimSpace(n.AoR)), clip(strings.TrimSpace(n.Name))
		}
		if i, ok := index[q.ID]; ok { // an update repeats a participant
			m.Participants[i] = q
			continue
		}
		index[q.ID] = len(m.Participants)
		m.Participants = append(m.Participants, q)
	}
	for _, s := range r.Streams {
		if s.ID == "" {
			return nil, fmt.Errorf("%w: a stream without stream_id", ErrMetadata)
		}
		m.Streams[clip(s.ID)] = clip(strings.TrimSpace(s.Label))
	}
	for _, a := range r.Assocs {
		i, ok := index[a.Participant]
		if !ok {
			return nil, fmt.Errorf("%w: participantstreamassoc of participant %.60q, which is not one of the participants", ErrMetadata, a.Participant)
		}
		m.Participants[i].Send = append(m.Participants[i].Send, clipAll(a.Send)...)
	}
	if err := extensions(b, m.Extensions); err != nil {
		return nil, err
	}
	return m, nil
}

// extensions collects the text leaves of elements outside the recording
// namespace.
func extensions(b []byte, out map[string]string) error {
	d := xml.NewDecoder(bytes.NewReader(b))
	var text strings.Builder
	for {
		tok, err := d.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("%w: %v", ErrMetadata, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			text.Reset()
		case xml.CharData:
			if text.Len() < maxValue {
				text.Write(t)
			}
		case xml.EndElement:
			v := strings.TrimSpace(text.String())
			if t.Name.Space != NS && t.Name.Space != "" && v != "" && len(out) < maxExtensions {
				out[clip(t.Name.Local)] = clip(v)
			}
			text.Reset()
		}
	}
}

// Role hints: the recorded call's direction from an extension, as SRCs
// send it (Cisco CUBE's callData direction, others' likewise).
func (m *Metadata) direction() string {
	return strings.ToLower(m.Extensions["direction"])
}

// StreamOf returns the participant that sends the stream of SDP label
// label, or nil.
func (m *Metadata) StreamOf(label string) *Participant {
	for i := range m.Participants {
		for _, id := range m.Participants[i].Send {
			if m.Streams[id] == label {
				return &m.Participants[i]
			}
		}
	}
	return nil
}

func clip(s string) string {
	if len(s) > maxValue {
		return s[:maxValue]
	}
	return s
}

func clipAll(ss []string) []string {
	out := make([]string, 0, len(ss))
	for _, s := range ss {
		out = append(out, clip(strings.TrimSpace(s)))
	}
	return out
}
