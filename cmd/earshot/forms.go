package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/earshot-dev/earshot/evaluate"
	"github.com/earshot-dev/earshot/msg"
)

const formsUsage = "usage: earshot forms check FILE...\n       earshot forms score FORM.yaml --calls PATH[,PATH...]\n       earshot forms " + formsRescoreUsage + "\n\n" +
	"PATH is a call record (JSON, as the store's API returns it), a JSONL file of them, or a directory of those.\n" +
	"rescore scores the ended calls of a store that started in [--from, --to) again with a saved version of a form\n" +
	"(the newest unless --version), keeping analysts' answers; --dry-run only says how many totals would change, and by how much."

const formsRescoreUsage = "rescore --form ID --from T --to T [--version N] [--dry-run] [--json] [--data DIR | --db DSN]"

func formsCmd(ctx context.Context, args []string, std stdio) error {
	if len(args) == 0 {
		return badInputf("want a subcommand: check FILE... | score FORM.yaml --calls PATH[,PATH...] | %s", formsRescoreUsage)
	}
	switch args[0] {
	case "check":
		return formsCheck(args[1:], std)
	case "score":
		return formsScore(args[1:], std)
	case "rescore":
		return formsRescore(ctx, args[1:], std)
	case "-h", "--help", "help":
		fmt.Fprintln(std.err, formsUsage)
		return flag.ErrHelp
	}
	return badInputf("unknown subcommand %q (want check, score or rescore)", args[0])
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

// formsRescore re-scores a store's calls in a time range with a saved
// version of a form, or, with --dry-run, says what that would change.
func formsRescore(ctx context.Context, args []string, std stdio) error {
	fs := flag.NewFlagSet("earshot forms rescore", flag.ContinueOnError)
	fs.SetOutput(std.err)
	form := fs.String("form", "", "the form's id")
	version := fs.Int("version", 0, "the saved version to score with (default: the newest)")
	from := fs.String("from", "", "calls that started at or after this time (RFC 3339 or YYYY-MM-DD)")
	to := fs.String("to", "", "calls that started before this time (RFC 3339 or YYYY-MM-DD)")
	dry := fs.Bool("dry-run", false, "change nothing: say how many totals would change, and by how much")
	asJSON := fs.Bool("json", false, "print the result as JSON (msg.RescoreResult)")
	dataDir := fs.String("data", defaultDataDir, "data directory of the embedded (SQLite) store")
	dsn := fs.String("db", "", "PostgreSQL DSN of the store")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return badInputf("rescore: unexpected argument %q: %s", fs.Arg(0), formsRescoreUsage)
	}
	if *form == "" || *from == "" || *to == "" {
		return badInputf("rescore: want --form, --from and --to: %s", formsRescoreUsage)
	}
	req := msg.RescoreRequest{Form: *form, Version: *version, DryRun: *dry}
	for _, t := range []struct {
		name, v string
		at      *time.Time
	}{{"--from", *from, &req.From}, {"--to", *to, &req.To}} {
		v, err := time.Parse(time.RFC3339, t.v)
		if err != nil {
			if v, err = time.Parse(time.DateOnly, t.v); err != nil {
				return badInputf("rescore: %s %q: want a time like 2026-11-30T09:00:00Z or a date like 2026-11-30", t.name, t.v)
			}
		}
		*t.at = v
	}
	st, err := openStore(ctx, *dsn, *dataDir, *dry)
	if err != nil {
		return withDemoHint(err, *dsn, *dataDir)
	}
	defer st.Close()
	m, err := formsManager(st, nil, nil)
	if err != nil {
		return err
	}
	res, err := m.Rescore(ctx, req)
	if errors.Is(err, msg.ErrBadQuery) || errors.Is(err, msg.ErrNotFound) {
		return badInput(err)
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(std.out).Encode(res)
	}
	verb := "re-scored"
	if res.DryRun {
		verb = "dry run: would re-score"
	}
	fmt.Fprintf(std.out, "%s %d calls with form %s version %d: %d totals change (%d newly scored), %d unchanged\n",
		verb, res.Calls, res.Form, res.Version, res.Changed, res.Scored, res.Unchanged)
	if res.MeanDelta != nil {
		fmt.Fprintf(std.out, "  %d up, %d down; change %+.2f points on average, from %+.2f to %+.2f\n", res.Up, res.Down, *res.MeanDelta, *res.MinDelta, *res.MaxDelta)
	}
	for _, c := range res.Examples {
		fmt.Fprintf(std.out, "  %s: %s -> %s\n", c.CallID, pct(c.Before), pct(c.After))
	}
	return nil
}

func pct(v *float64) string {
	if v == nil {
		return "unscored"
	}
	return strconv.FormatFloat(*v, 'f', -1, 64) + "%"
}
