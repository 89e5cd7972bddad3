package main

import (
	"context"
	"errors"
	"flag"
)

// asrStage is the asr stage.
type asrStage struct{}

func (*asrStage) name() string           { return "asr" }
func (*asrStage) summary() string        { return "transcription workers" }
func (*asrStage) flags(fs *flag.FlagSet) {}

func (*asrStage) start(ctx context.Context, e *env) (func(context.Context) error, error) {
	return waitDone, nil
}

func transcribeCmd(ctx context.Context, args []string, std stdio) error {
	return errors.New("not built yet")
}
