// Package synthcall renders test and demo calls: each turn is spoken by
// espeak-ng, resampled to 8 kHz with sox, and placed on its leg at a chosen
// offset, so the call's true timeline (who spoke when, overlaps, silences)
// is known to the sample.
package synthcall

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"

	"github.com/earshot-dev/earshot/internal/wav"
	"github.com/earshot-dev/earshot/msg"
)

// ErrNoTools is returned when espeak-ng or sox is not installed.
var ErrNoTools = errors.New("synthcall: espeak-ng and sox are needed (Debian packages espeak-ng and sox)")

// Turn is one stretch of speech on one leg.
type Turn struct {
	Leg   msg.Role
	AtMS  int64 // where the rendered audio (with espeak's own lead-in) starts
	Text  string
	Voice string // espeak-ng voice; default "en-us"
	Speed int    // words per minute; default 165
	Gain  float64
}

// Span is where a turn's speech truly is, measured from its samples.
type Span struct {
	Leg     msg.Role
	StartMS int64
	EndMS   int64
	Text    string
	Words   int
}

// Call is a rendered call: one 8 kHz track per leg, of equal length.
type Call struct {
	Legs  map[msg.Role][]int16
	Truth []Span // in start order
}

// Available reports whether espeak-ng and sox are installed.
func Available() bool {
	_, e := exec.LookPath("espeak-ng")
	_, s := exec.LookPath("sox")
	return e == nil && s == nil
}

// Render speaks every turn and lays the legs out; tailMS of silence ends the call.
func Render(ctx context.Context, turns []Turn, tailMS int64) (*Call, error) {
	if !Available() {
		return nil, ErrNoTools
	}
	c := &Call{Legs: map[msg.Role][]int16{}}
	end := 0
	type placed struct {
		at  int
		pcm []int16
		t   Turn
	}
	var all []placed
	for i, t := range turns {
		pcm, err := Speak(ctx, t)
		if err != nil {
			return nil, fmt.Errorf("turn %d: %w", i, err)
		}
		at := int(t.AtMS * msg.SampleRate / 1000)
		all = append(all, placed{at, pcm, t})
		end = max(end, at+len(pcm))
		if _, ok := c.Legs[t.Leg]; !ok {
			c.Legs[t.Leg] = nil
		}
		first, last := SpeechBounds(pcm)
		if first < 0 {
			return nil, fmt.Errorf("turn %d (%q): espeak-ng produced no audible speech", i, t.Text)
		}
		c.Truth = append(c.Truth, Span{
			Leg:     t.Leg,
			StartMS: int64(at+first) * 1000 / msg.SampleRate,
			EndMS:   int64(at+last+1) * 1000 / msg.SampleRate,
			Text:    t.Text,
			Words:   len(bytes.Fields([]byte(t.Text))),
		})
	}
	end += int(tailMS * msg.SampleRate / 1000)
	for leg := range c.Legs {
		c.Legs[leg] = make([]int16, end)
	}
	for _, p := range all {
		track := c.Legs[p.t.Leg]
		for i, s := range p.pcm {
			v := int32(track[p.at+i]) + int32(s)
			track[p.at+i] = int16(max(-32768, min(32767, v)))
		}
	}
	sort.SliceStable(c.Truth, func(i, j int) bool { return c.Truth[i].StartMS < c.Truth[j].StartMS })
	return c, nil
}

// Speak renders one turn as 8 kHz mono PCM16.
func Speak(ctx context.Context, t Turn) ([]int16, error) {
	voice, speed := t.Voice, t.Speed
	if voice == "" {
		voice = "en-us"
	}
	if speed == 0 {
		speed = 165
	}
	esp := exec.CommandContext(ctx, "espeak-ng", "-v", voice, "-s", fmt.Sprint(speed), "--stdout", t.Text)
	var speech, stderr bytes.Buffer
	esp.Stdout, esp.Stderr = &speech, &stderr
	if err := esp.Run(); err != nil {
		return nil, fmt.Errorf("espeak-ng: %v: %s", err, stderr.String())
	}
	args := []string{"-D", "-t", "wav", "-", "-t", "wav", "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer", "-"}
	if t.Gain != 0 {
		args = append(args, "gain", fmt.Sprint(t.Gain))
	}
	sx := exec.CommandContext(ctx, "sox", args...)
	var out bytes.Buffer
	stderr.Reset()
	sx.Stdin, sx.Stdout, sx.Stderr = &speech, &out, &stderr
	if err := sx.Run(); err != nil {
		return nil, fmt.Errorf("sox: %v: %s", err, stderr.String())
	}
	a, err := wav.Read(&out)
	if err != nil {
		return nil, fmt.Errorf("sox output: %w", err)
	}
	return a.Mono(), nil
}

// SpeechBounds returns the first and last sample index of a 10 ms frame whose
// level is above -45 dBFS, or -1, -1 when there is none.
func SpeechBounds(pcm []int16) (first, last int) {
	const frame = msg.SampleRate / 100
	const threshold = 184 // -45 dBFS RMS of full scale 32768
	first, last = -1, -1
	for off := 0; off+frame <= len(pcm); off += frame {
		var sum float64
		for _, s := range pcm[off : off+frame] {
			sum += float64(s) * float64(s)
		}
		if sum/frame > threshold*threshold {
			if first < 0 {
				first = off
			}
			last = off + frame - 1
		}
	}
	return first, last
}

// Script is a scripted call, as the demo's examples/calls/NAME.json keep
// them: who the call is with, and each turn's leg, offset and text. Its
// rendered legs sit beside it as NAME.agent.wav and NAME.customer.wav.
type Script struct {
	CallID     string            `json:"call_id"`
	Agent      string            `json:"agent"`
	Queue      string            `json:"queue"`
	Attributes map[string]string `json:"attributes,omitempty"`
	// Voice is the espeak-ng voice of every turn ("ko" for Korean);
	// default "en-us".
	Voice string `json:"voice,omitempty"`
	Turns []struct {
		Leg  msg.Role `json:"leg"`
		AtMS int64    `json:"at_ms"`
		Text string   `json:"text"`
	} `json:"turns"`
}

// LoadScript reads a script file.
func LoadScript(path string) (*Script, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s Script
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := msg.ValidateCallID(s.CallID); err != nil {
		return nil, fmt.Errorf("%s: call_id: %w", path, err)
	}
	return &s, nil
}

// SynthTurns returns the script's turns to Render.
func (s *Script) SynthTurns() []Turn {
	turns := make([]Turn, len(s.Turns))
	for i, t := range s.Turns {
		turns[i] = Turn{Leg: t.Leg, AtMS: t.AtMS, Text: t.Text, Voice: s.Voice}
	}
	return turns
}

// LegFile is where a script's rendered leg is kept.
func LegFile(scriptPath string, leg msg.Role) string {
	return fmt.Sprintf("%s.%s.wav", strings.TrimSuffix(scriptPath, ".json"), leg)
}
