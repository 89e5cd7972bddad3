package main

import (
	"context"
	"flag"
)

// uiStage is the ui stage.
type uiStage struct{}

func (*uiStage) name() string           { return "ui" }
func (*uiStage) summary() string        { return "the web server" }
func (*uiStage) flags(fs *flag.FlagSet) {}

func (*uiStage) start(ctx context.Context, e *env) (func(context.Context) error, error) {
	return waitDone, nil
}
