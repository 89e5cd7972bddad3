package mediastream

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrProtocol marks a message that is not of the media streams protocol.
var ErrProtocol = errors.New("mediastream: not a media stream message")

// The limits on what a stream's messages may carry.
const (
	maxMessage = 64 << 10 // bytes of one WebSocket message
	maxParams  = 32       // custom parameters of a start
	maxParam   = 256      // bytes of one parameter's name or value
)

// Message is one message of the Twilio Media Streams protocol. Event says
// which of its parts is set.
type Message struct {
	Event          string `json:"event"` // connected, start, media, dtmf, mark, stop
	SequenceNumber string `json:"sequenceNumber,omitempty"`
	StreamSid      string `json:"streamSid,omitempty"`
	Protocol       string `json:"protocol,omitempty"` // connected
	Version        string `json:"version,omitempty"`  // connected
	Start          *Start `json:"start,omitempty"`
	Media          *Media `json:"media,omitempty"`
	DTMF           *DTMF  `json:"dtmf,omitempty"`
	Mark           *Mark  `json:"mark,omitempty"`
	Stop           *Stop  `json:"stop,omitempty"`
}

// Start opens a stream: the call, its tracks and their format.
type Start struct {
	AccountSid       string            `json:"accountSid,omitempty"`
	StreamSid        string            `json:"streamSid,omitempty"`
	CallSid          string            `json:"callSid"`
	Tracks           []string          `json:"tracks"`
	MediaFormat      MediaFormat       `json:"mediaFormat"`
	CustomParameters map[string]string `json:"customParameters,omitempty"`
}

// MediaFormat is the audio's encoding.
type MediaFormat struct {
	Encoding   string `json:"encoding"` // audio/x-mulaw (or audio/x-alaw)
	SampleRate int    `json:"sampleRate"`
	Channels   int    `json:"channels"`
}

// Media is one chunk of one track's audio.
type Media struct {
	Track     string `json:"track"` // inbound or outbound
	Chunk     string `json:"chunk,omitempty"`
	Timestamp string `json:"timestamp"` // ms since the stream started
	Payload   string `json:"payload"`   // base64 of the G.711 bytes
}

// DTMF is a digit pressed.
type DTMF struct {
	Track string `json:"track"` // inbound_track
	Digit string `json:"digit"`
}

// Mark is the answer to a mark the server sent; capture sends none.
type Mark struct {
	Name string `json:"name"`
}

// Stop ends the stream.
type Stop struct {
	AccountSid string `json:"accountSid,omitempty"`
	CallSid    string `json:"callSid,omitempty"`
}

// Parse reads one message and checks the part its event needs. An event
// it does not know is returned as it is, for the caller to skip.
func Parse(b []byte) (*Message, error) {
	if len(b) > maxMessage {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrProtocol, len(b), maxMessage)
	}
	var m Message
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProtocol, err)
	}
	switch m.Event {
	case "":
		return nil, fmt.Errorf("%w: no event", ErrProtocol)
	case "start":
		if m.Start == nil || m.Start.CallSid == "" && m.Start.StreamSid == "" && m.StreamSid == "" {
			return nil, fmt.Errorf("%w: start without start.callSid or streamSid", ErrProtocol)
		}
		if len(m.Start.Tracks) == 0 || len(m.Start.Tracks) > 2 {
			return nil, fmt.Errorf("%w: start.tracks %q: want inbound and/or outbound", ErrProtocol, m.Start.Tracks)
		}
		for _, t := range m.Start.Tracks {
			if t != "inbound" && t != "outbound" {
				return nil, fmt.Errorf("%w: start.tracks: %q: want inbound or outbound", ErrProtocol, t)
			}
		}
		if len(m.Start.CustomParameters) > maxParams {
			return nil, fmt.Errorf("%w: %d custom parameters, more than %d", ErrProtocol, len(m.Start.CustomParameters), maxParams)
		}
		for k, v := range m.Start.CustomParameters {
			if k == "" || len(k) > maxParam || len(v) > maxParam {
				return nil, fmt.Errorf("%w: custom parameter %.40q: want a name and a value of at most %d bytes", ErrProtocol, k, maxParam)
			}
		}
	case "media":
		if m.Media == nil {
			return nil, fmt.Errorf("%w: media without media", ErrProtocol)
		}
	case "dtmf":
		if m.DTMF == nil || !validDigit(m.DTMF.Digit) {
			return nil, fmt.Errorf("%w: dtmf without a digit 0-9, *, #, A-D", ErrProtocol)
		}
	}
	return &m, nil
}

// Codec returns the capture codec of the format (PCMU or PCMA at 8 kHz
// mono).
func (f MediaFormat) Codec() (string, error) {
	codec := ""
	switch strings.ToLower(f.Encoding) {
	case "audio/x-mulaw", "audio/pcmu":
		codec = "PCMU"
	case "audio/x-alaw", "audio/pcma":
		codec = "PCMA"
	}
	if codec == "" || (f.SampleRate != 0 && f.SampleRate != 8000) || f.Channels > 1 {
		return "", fmt.Errorf("mediastream: media format %s at %d Hz, %d channels: capture takes audio/x-mulaw or audio/x-alaw, 8000 Hz, mono", f.Encoding, f.SampleRate, f.Channels)
	}
	return codec, nil
}

// Audio decodes a chunk: its place in samples at 8 kHz since the stream
// started, and its G.711 bytes.
func (m *Media) Audio() (at int64, payload []byte, err error) {
	ms, err := strconv.ParseInt(m.Timestamp, 10, 64)
	if err != nil || ms < 0 || ms > 1<<40 {
		return 0, nil, fmt.Errorf("%w: media.timestamp %.20q: want milliseconds", ErrProtocol, m.Timestamp)
	}
	payload, err = base64.StdEncoding.DecodeString(m.Payload)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: media.payload: base64: %v", ErrProtocol, err)
	}
	return ms * 8, payload, nil
}

func validDigit(d string) bool {
	return len(d) == 1 && strings.ContainsAny(d, "0123456789*#ABCD")
}
