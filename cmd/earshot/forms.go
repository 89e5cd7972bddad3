package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/earshot-dev/earshot/evaluate"
)

const formsUsage = "usage: earshot forms check FILE...\n       earshot forms score FORM.yaml --calls PATH[,PATH...]\n\nPATH is a call record (JSON, as the store's API returns it), a JSONL file of them, or a directory of those."

func formsCmd(_ context.Context, args []string, std stdio) error {
	if len(args) == 0 {
		return badInputf("want a subcommand: check FILE... | score FORM.yaml --calls PATH[,PATH...]")
	}
	switch args[0] {
	case "check":
		return formsCheck(args[1:], std)
	case "score":
		return formsScore(args[1:], std)
	case "-h", "--help", "help":
		fmt.Fprintln(std.err, formsUsage)
		return flag.ErrHelp
	}
	return badInputf("unknown subcommand %q (want check or score)", args[0])
}

// formRead reads and parses a form file, printing each problem as
// FILE:LINE:COLUMN: message.
func formRead(path string, std stdio) (*evaluate.Form, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, badInput(err)
	}
	f, err := evaluate.Parse(text)
	var pe *evaluate.ProblemsError
	if errors.As(err, &pe) {
		for _, p := range pe.Problems {
			fmt.Fprintf(std.err, "%s:%d:%d: %s\n", path, p.Line, p.Column, p.Message)
		}
		return nil, badInputf("%s: invalid form", path)
	}
	return f, err
}

// formsCheck validates form files.
func formsCheck(args []string, std stdio) error {
	fs := flag.NewFlagSet("earshot forms check", flag.ContinueOnError)
	fs.SetOutput(std.err)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return badInputf("check: want one or more form files")
	}
	bad := 0
	for _, path := range fs.Args() {
		f, err := formRead(path, std)
		if err != nil {
			var ue usageError
			if !errors.As(err, &ue) {
				return err
			}
			bad++
			continue
		}
		n := 0
		for _, s := range f.Sections {
			n += len(s.Questions)
		}
		fmt.Fprintf(std.out, "%s: form %s, %d sections, %d questions, valid (version %s)\n", path, f.ID, len(f.Sections), n, f.Version)
	}
	if bad > 0 {
		return badInputf("%d of %d form files invalid", bad, fs.NArg())
	}
	return nil
}

// formsScore scores call records with a form, as the evaluate stage would
// when they end, and prints one JSON evaluation (msg.Evaluation) a line.
func formsScore(args []string, std stdio) error {
	fs := flag.NewFlagSet("earshot forms score", flag.ContinueOnError)
	fs.SetOutput(std.err)
	calls := fs.String("calls", "", "call records: JSON or JSONL files, or directories of them (comma-separated)")
	// Flags may come after the form file too.
	var paths []string
	for rest := args; ; rest = fs.Args()[1:] {
		if err := parseFlags(fs, rest); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		paths = append(paths, fs.Arg(0))
	}
	if len(paths) != 1 || *calls == "" {
		return badInputf("score: want FORM.yaml --calls PATH[,PATH...]")
	}
	f, err := formRead(paths[0], std)
	if err != nil {
		return err
	}
	recs, err := rulesReadCalls(strings.Split(*calls, ","))
	if err != nil {
		return badInput(err)
	}
	enc := json.NewEncoder(std.out)
	now := time.Now()
	for _, rec := range recs {
		if err := enc.Encode(evaluate.Score(f, rec, now)); err != nil {
			return err
		}
	}
	return nil
}
