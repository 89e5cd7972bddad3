// Command gen renders the demo's example calls: for each NAME.json script in
// examples/calls (English) and examples/calls-ko (Korean) it speaks every
// turn with espeak-ng, in the script's voice, and writes NAME.agent.wav and
// NAME.customer.wav (8 kHz, 16-bit) beside it. Run it from the repository
// root:
//
//	go run ./examples/gen
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/earshot-dev/earshot/internal/synthcall"
	"github.com/earshot-dev/earshot/internal/wav"
	"github.com/earshot-dev/earshot/msg"
)

func main() {
	for _, dir := range []string{"examples/calls", "examples/calls-ko"} {
		if err := run(context.Background(), dir); err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
	}
}

func run(ctx context.Context, dir string) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return err
	}
	for _, f := range files {
		s, err := synthcall.LoadScript(f)
		if err != nil {
			return err
		}
		call, err := synthcall.Render(ctx, s.SynthTurns(), 1500)
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		for leg, pcm := range call.Legs {
			out := synthcall.LegFile(f, leg)
			if err := wav.WriteFile(out, &wav.Audio{SampleRate: msg.SampleRate, Channels: 1, Samples: pcm}); err != nil {
				return err
			}
			fmt.Printf("%s: %.1f s\n", out, float64(len(pcm))/msg.SampleRate)
		}
	}
	return nil
}
