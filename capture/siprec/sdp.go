package siprec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/netip"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// Errors of an offer refused: ErrSDP for what is not SDP (400), ErrCodec
// for an audio stream without G.711 (488).
var (
	ErrSDP   = errors.New("siprec: sdp")
	ErrCodec = errors.New("siprec: no codec taken")
	ErrBody  = errors.New("siprec: body")
)

// maxStreams bounds the streams of one recording session.
const maxStreams = 8

// Stream is one m= section of an offer.
type Stream struct {
	Label string // a=label, which the metadata's stream names
	// Audio is false for a stream refused with port 0 in the answer (not
	// audio, or port 0 in the offer).
	Audio   bool
	Codec   string // PCMU or PCMA
	PT      uint8
	EventPT int    // telephone-event's payload type; -1 when not offered
	Dir     string // sendonly, recvonly, sendrecv or inactive
}

// Offer is an SRC's SDP offer.
type Offer struct {
	Streams []Stream
}

// Held reports whether the offer pauses the media: every audio stream
// inactive (an SRC's streams are sendonly while they record).
func (o *Offer) Held() bool {
	held := false
	for _, s := range o.Streams {
		if s.Audio {
			if s.Dir != "inactive" && s.Dir != "recvonly" {
				return false
			}
			held = true
		}
	}
	return held
}

// ParseOffer reads an SDP offer and picks each audio stream's codec:
// PCMU or PCMA, with telephone-event when offered.
func ParseOffer(b []byte) (*Offer, error) {
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(b); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSDP, err)
	}
	if len(sd.MediaDescriptions) == 0 {
		return nil, fmt.Errorf("%w: no m= line", ErrSDP)
	}
	if len(sd.MediaDescriptions) > maxStreams {
		return nil, fmt.Errorf("%w: %d m= lines, at most %d", ErrSDP, len(sd.MediaDescriptions), maxStreams)
	}
	sessDir := direction(sd.Attributes, "sendrecv")
	o := &Offer{}
	for i, md := range sd.MediaDescriptions {
		s := Stream{EventPT: -1, Dir: direction(md.Attributes, sessDir)}
		s.Label, _ = md.Attribute("label")
		s.Label = clip(s.Label)
		o.Streams = append(o.Streams, s)
		if md.MediaName.Media != "audio" || md.MediaName.Port.Value == 0 {
			continue
		}
		names := map[int]string{0: "PCMU/8000", 8: "PCMA/8000"}
		for _, a := range md.Attributes {
			if a.Key != "rtpmap" {
				continue
			}
			pt, name, ok := strings.Cut(a.Value, " ")
			if n, err := strconv.Atoi(pt); ok && err == nil {
				names[n] = strings.ToUpper(strings.TrimSpace(name))
			}
		}
		var offered []string
		for _, f := range md.MediaName.Formats {
			n, err := strconv.Atoi(f)
			if err != nil || n < 0 || n > 127 {
				return nil, fmt.Errorf("%w: m= line %d: format %.20q is not an RTP payload type", ErrSDP, i+1, f)
			}
			name := names[n]
			offered = append(offered, f+" "+name)
			switch {
			case strings.HasPrefix(name, "TELEPHONE-EVENT/8000") && s.EventPT < 0:
				s.EventPT = n
			case (name == "PCMU/8000" || name == "PCMA/8000") && s.Codec == "":
				s.Codec, s.PT = name[:4], uint8(n)
			}
		}
		if s.Codec == "" {
			return nil, fmt.Errorf("%w: m= line %d (label %q) offers %s; capture takes PCMU or PCMA at 8000 Hz", ErrCodec, i+1, s.Label, strings.Join(offered, ", "))
		}
		s.Audio = true
		o.Streams[i] = s
	}
	return o, nil
}

func direction(attrs []sdp.Attribute, def string) string {
	for _, a := range attrs {
		switch a.Key {
		case "sendonly", "recvonly", "sendrecv", "inactive":
			return a.Key
		}
	}
	return def
}

// Answer is the SDP answer to o: each audio stream received on the port
// given for it on host (recvonly), the others refused with port 0.
func Answer(o *Offer, host netip.Addr, ports []int, version uint64) []byte {
	ip := "IP4"
	if host.Is6() {
		ip = "IP6"
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "v=0\r\no=earshot %d %d IN %s %s\r\ns=earshot\r\nc=IN %s %s\r\nt=0 0\r\n", version, version, ip, host, ip, host)
	for i, s := range o.Streams {
		if !s.Audio {
			fmt.Fprintf(&b, "m=audio 0 RTP/AVP 0\r\n")
			continue
		}
		fmts := strconv.Itoa(int(s.PT))
		if s.EventPT >= 0 {
			fmts += " " + strconv.Itoa(s.EventPT)
		}
		fmt.Fprintf(&b, "m=audio %d RTP/AVP %s\r\na=rtpmap:%d %s/8000\r\n", ports[i], fmts, s.PT, s.Codec)
		if s.EventPT >= 0 {
			fmt.Fprintf(&b, "a=rtpmap:%d telephone-event/8000\r\na=fmtp:%d 0-15\r\n", s.EventPT, s.EventPT)
		}
		if s.Label != "" {
			fmt.Fprintf(&b, "a=label:%s\r\n", s.Label)
		}
		dir := "recvonly"
		if s.Dir == "inactive" || s.Dir == "recvonly" {
			dir = "inactive"
		}
		fmt.Fprintf(&b, "a=%s\r\n", dir)
	}
	return b.Bytes()
}

// maxBody bounds a request's body.
const maxBody = 128 << 10

// SplitBody takes the SDP and the recording metadata out of a request's
// body: multipart/mixed with both (an INVITE), or a lone SDP or metadata
// (a re-INVITE or UPDATE may carry either). A part missing is nil.
func SplitBody(contentType string, body []byte) (sdpBody, metadata []byte, err error) {
	if len(body) > maxBody {
		return nil, nil, fmt.Errorf("%w: %d bytes, at most %d", ErrBody, len(body), maxBody)
	}
	if len(body) == 0 {
		return nil, nil, nil
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: Content-Type %.80q: %v", ErrBody, contentType, err)
	}
	switch mt {
	case "application/sdp":
		return body, nil, nil
	case "application/rs-metadata+xml":
		return nil, body, nil
	case "multipart/mixed":
	default:
		return nil, nil, fmt.Errorf("%w: Content-Type %.80q: want multipart/mixed, application/sdp or application/rs-metadata+xml", ErrBody, mt)
	}
	if params["boundary"] == "" {
		return nil, nil, fmt.Errorf("%w: multipart/mixed without a boundary", ErrBody)
	}
	r := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for {
		p, err := r.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%w: multipart: %v", ErrBody, err)
		}
		b, err := io.ReadAll(p)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: multipart: %v", ErrBody, err)
		}
		pt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		switch pt {
		case "application/sdp":
			sdpBody = b
		case "application/rs-metadata+xml":
			metadata = b
		}
	}
	return sdpBody, metadata, nil
}
