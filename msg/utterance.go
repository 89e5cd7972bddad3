package msg

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
)

// utteranceMagic starts every utterance frame; its digit is the frame version.
const utteranceMagic = "ESU1"

// maxUtteranceHeader bounds the JSON header of an utterance frame.
const maxUtteranceHeader = 64 << 10

// UtteranceSchema names the utterance frame in dead letters and logs.
const UtteranceSchema = "utterance/1"

// EncodeUtterance writes j as a binary frame:
//
//	"ESU1" | uint32 big-endian header length | JSON header | PCM16LE samples
func EncodeUtterance(j *UtteranceJob) ([]byte, error) {
	hdr, err := json.Marshal(j)
	if err != nil {
		return nil, fmt.Errorf("msg: utterance %s: %w", j.ID(), err)
	}
	out := make([]byte, 0, 8+len(hdr)+2*len(j.PCM))
	out = append(out, utteranceMagic...)
	out = binary.BigEndian.AppendUint32(out, uint32(len(hdr)))
	out = append(out, hdr...)
	for _, s := range j.PCM {
		out = binary.LittleEndian.AppendUint16(out, uint16(s))
	}
	return out, nil
}

// DecodeUtterance reads a frame written by EncodeUtterance and checks that
// the job is usable: a valid call id and leg, a positive sample rate, at
// least one sample and no more than MaxJobDuration of them.
func DecodeUtterance(b []byte) (*UtteranceJob, error) {
	if len(b) < 8 {
		return nil, fmt.Errorf("msg: %w: utterance frame of %d bytes, shorter than its 8-byte prefix", ErrMalformed, len(b))
	}
	if string(b[:4]) != utteranceMagic {
		if b[0] == 'E' && b[1] == 'S' && b[2] == 'U' {
			return nil, fmt.Errorf("msg: %w: utterance frame version %q, this build knows %q", ErrNewerVersion, b[:4], utteranceMagic)
		}
		return nil, fmt.Errorf("msg: %w: not an utterance frame (starts %q)", ErrMalformed, b[:4])
	}
	n := binary.BigEndian.Uint32(b[4:8])
	if n > maxUtteranceHeader || int(n) > len(b)-8 {
		return nil, fmt.Errorf("msg: %w: utterance header length %d, frame has %d bytes after the prefix", ErrMalformed, n, len(b)-8)
	}
	var j UtteranceJob
	if err := json.Unmarshal(b[8:8+n], &j); err != nil {
		return nil, fmt.Errorf("msg: %w: utterance header: %v", ErrMalformed, err)
	}
	pcm := b[8+n:]
	if len(pcm)%2 != 0 {
		return nil, fmt.Errorf("msg: %w: utterance %s: odd PCM length %d", ErrMalformed, j.ID(), len(pcm))
	}
	j.PCM = make([]int16, len(pcm)/2)
	for i := range j.PCM {
		j.PCM[i] = int16(binary.LittleEndian.Uint16(pcm[2*i:]))
	}
	if err := j.Validate(); err != nil {
		return nil, err
	}
	return &j, nil
}

// Validate reports the first thing wrong with a job.
func (j *UtteranceJob) Validate() error {
	if err := ValidateCallID(j.CallID); err != nil {
		return fmt.Errorf("msg: utterance: %w", err)
	}
	if !j.Leg.Valid() {
		return fmt.Errorf("msg: %w: utterance %s: leg %q", ErrInvalidField, j.ID(), j.Leg)
	}
	if j.SampleRate != SampleRate {
		return fmt.Errorf("msg: %w: utterance %s: sample rate %d Hz, want %d", ErrInvalidField, j.ID(), j.SampleRate, SampleRate)
	}
	if len(j.PCM) == 0 {
		return fmt.Errorf("msg: %w: utterance %s: no audio", ErrInvalidField, j.ID())
	}
	if max := int(MaxJobDuration.Seconds()) * j.SampleRate; len(j.PCM) > max {
		return fmt.Errorf("msg: %w: utterance %s: %d samples, more than %s", ErrInvalidField, j.ID(), len(j.PCM), MaxJobDuration)
	}
	if j.EndMS < j.StartMS {
		return fmt.Errorf("msg: %w: utterance %s: ends at %d ms before it starts at %d ms", ErrInvalidField, j.ID(), j.EndMS, j.StartMS)
	}
	return nil
}
