package main

import (
	"context"
	"errors"
	"flag"
)

// captureStage is the capture stage.
type captureStage struct{}

func (*captureStage) name() string { return "capture" }
func (*captureStage) summary() string {
	return "RTP in, utterance jobs out (one stage against an external NATS)"
}
func (*captureStage) flags(fs *flag.FlagSet) {}

func (*captureStage) start(ctx context.Context, e *env) (func(context.Context) error, error) {
	return waitDone, nil
}

func replayCmd(ctx context.Context, args []string, std stdio) error {
	return errors.New("not built yet")
}

func sendCmd(ctx context.Context, args []string, std stdio) error {
	return errors.New("not built yet")
}
