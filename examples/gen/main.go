// Command gen renders the demo's example calls: for each examples/calls/NAME.json
// script it speaks every turn with espeak-ng and writes NAME.agent.wav and
// NAME.customer.wav (8 kHz, 16-bit). Run it from the repository root:
//
//	go run ./examples/gen
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/earshot-dev/earshot/internal/synthcall"
	"github.com/earshot-dev/earshot/internal/wav"
	"github.com/earshot-dev/earshot/msg"
)

// script is one example call.
type script struct {
	CallID     string            `json:"call_id"`
	Agent      string            `json:"agent"`
	Queue      string            `json:"queue"`
	Attributes map[string]string `json:"attributes"`
	Turns      []struct {
		Leg  msg.Role `json:"leg"`
		AtMS int64    `json:"at_ms"`
		Text string   `json:"text"`
	} `json:"turns"`
}

func main() {
	if err := run(context.Background(), "examples/calls"); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, dir string) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return err
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var s script
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		turns := make([]synthcall.Turn, len(s.Turns))
		for i, t := range s.Turns {
			turns[i] = synthcall.Turn{Leg: t.Leg, AtMS: t.AtMS, Text: t.Text}
		}
		call, err := synthcall.Render(ctx, turns, 1500)
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		base := strings.TrimSuffix(f, ".json")
		for leg, pcm := range call.Legs {
			out := fmt.Sprintf("%s.%s.wav", base, leg)
			if err := wav.WriteFile(out, &wav.Audio{SampleRate: msg.SampleRate, Channels: 1, Samples: pcm}); err != nil {
				return err
			}
			fmt.Printf("%s: %.1f s\n", out, float64(len(pcm))/msg.SampleRate)
		}
	}
	return nil
}
