package main

import (
	"context"
	"errors"
	"flag"
)

// sentimentOptions are the sentiment part of the analyze stage.
type sentimentOptions struct{}

func (*sentimentOptions) flags(fs *flag.FlagSet) {}

func (*sentimentOptions) start(ctx context.Context, e *env) (func(context.Context) error, error) {
	return waitDone, nil
}

func sentimentCmd(ctx context.Context, args []string, std stdio) error {
	return errors.New("not built yet")
}
