package main

import (
	"context"
	"errors"
	"flag"
)

// rulesOptions are the rules part of the analyze stage.
type rulesOptions struct{}

func (*rulesOptions) flags(fs *flag.FlagSet) {}

func (*rulesOptions) start(ctx context.Context, e *env) (func(context.Context) error, error) {
	return waitDone, nil
}

func rulesCmd(ctx context.Context, args []string, std stdio) error {
	return errors.New("not built yet")
}
