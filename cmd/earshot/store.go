package main

import (
	"context"
	"errors"
	"flag"
)

// storeStage is the store stage.
type storeStage struct{}

func (*storeStage) name() string           { return "store" }
func (*storeStage) summary() string        { return "the archiver and indexer" }
func (*storeStage) flags(fs *flag.FlagSet) {}

func (*storeStage) start(ctx context.Context, e *env) (func(context.Context) error, error) {
	return waitDone, nil
}

func searchCmd(ctx context.Context, args []string, std stdio) error {
	return errors.New("not built yet")
}
