package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/earshot-dev/earshot/bus"
	"github.com/earshot-dev/earshot/msg"
	"github.com/earshot-dev/earshot/redact"
	"github.com/earshot-dev/earshot/rules"
	"github.com/earshot-dev/earshot/store"
	"github.com/earshot-dev/earshot/store/sqlite"
)

// rulesOptions are the rules part of the analyze stage.
type rulesOptions struct {
	file  string
	grace time.Duration
	// calls, when set before start, is what the web view's dry runs read
	// (the store's read side).
	calls rules.CallReader
	// redactor, when set before start, masks what the rules publish
	// (earshot run: the store's, so alerts read as stored text does).
	redactor *redact.Redactor
	// manager is set by start: the rule set in force, for the web view.
	manager *rules.Manager
	// partitions, when set before start, are the calls this process
	// evaluates (the analyze stage's).
	partitions *bus.Partitions
}

func (o *rulesOptions) flags(fs *flag.FlagSet) {
	fs.StringVar(&o.file, "rules", "", "rules file (YAML), put in force at start and whenever it changes, for every analyze on this NATS (default: DATA/rules.yaml, put in force only when NATS has no rules yet)")
	fs.DurationVar(&o.grace, "rules-grace", 30*time.Second, "after a call ends, how long to wait for its final sentiment and characteristics before the post-call rules")
}

func (o *rulesOptions) start(ctx context.Context, e *env) (func(context.Context) error, error) {
	if o.grace <= 0 {
		return nil, badInputf("--rules-grace %s: want a positive duration", o.grace)
	}
	if o.file == "" {
		if err := os.MkdirAll(e.dataDir, 0o750); err != nil {
			return nil, fmt.Errorf("rules: data dir: %w", err)
		}
	}
	log := e.log.With("stage", "rules")
	kv, err := rules.OpenBucket(ctx, e.bus.JS)
	if err != nil {
		return nil, err
	}
	m, err := rules.NewManager(ctx, rules.ManagerConfig{
		KV: kv, PushFile: o.file != "", Path: o.file, DataDir: e.dataDir, Calls: o.calls, Logger: log,
	})
	if err != nil {
		if errors.Is(err, rules.ErrInvalid) {
			return nil, badInput(err)
		}
		return nil, err
	}
	eng, err := rules.NewEngine(rules.EngineConfig{
		JS: e.bus.JS, NC: e.bus.NC, Rules: m, Grace: o.grace, Redactor: o.redactor, Logger: log, Metrics: e.metrics,
		Partitions: o.partitions,
	})
	if err != nil {
		return nil, err
	}
	o.manager = m
	log.Info("rules in force", "bucket", msg.BucketRules, "file", m.Path(), "rules", m.Current().Len(), "version", m.Current().Version)
	return eng.Run, nil
}

// rulesDryRunUsage is the dry run's command line.
const rulesDryRunUsage = "dryrun RULES.yaml (--data DIR | --db DSN | --calls PATH[,PATH...]) [--from T] [--to T] [--limit N] [--json]"

func rulesCmd(ctx context.Context, args []string, std stdio) error {
	if len(args) == 0 {
		return badInputf("want a subcommand: check FILE... | %s | %s", rulesPushUsage, rulesDryRunUsage)
	}
	switch args[0] {
	case "check":
		return rulesCheck(args[1:], std)
	case "push":
		return rulesPush(ctx, args[1:], std)
	case "dryrun", "dry-run":
		return rulesDryRun(ctx, args[1:], std)
	case "-h", "--help", "help":
		fmt.Fprintf(std.err, "usage: earshot rules check FILE...\n       earshot rules %s\n       earshot rules %s\n\n"+
			"push validates a rules file and puts it in force for every analyze process on the NATS (and the web view's rules page).\n"+
			"The dry run reads the calls of an earshot store (--data DIR: SQLite, as earshot search; --db DSN: PostgreSQL),\n"+
			"most recent first, or exported call records (--calls: JSON as the store's API returns it, JSONL, or directories of them).\n", rulesPushUsage, rulesDryRunUsage)
		return flag.ErrHelp
	}
	return badInputf("unknown subcommand %q (want check, push or dryrun)", args[0])
}

// rulesPushUsage is the push's command line.
const rulesPushUsage = "push FILE [--nats URL] [--by NAME]"

// rulesPush validates a rules file and puts it in force in NATS KV, where
// every analyze process takes it at once. Problems are printed as
// FILE:LINE:COLUMN: message, and nothing changes.
func rulesPush(ctx context.Context, args []string, std stdio) error {
	fs := flag.NewFlagSet("earshot rules push", flag.ContinueOnError)
	fs.SetOutput(std.err)
	natsURL := fs.String("nats", "nats://127.0.0.1:4222", "NATS server or cluster URL")
	by := fs.String("by", "", "who pushes, for the rules history (default USER@HOST)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return badInputf("push: want one rules file, got %d: %s", len(pos), rulesPushUsage)
	}
	path := pos[0]
	text, err := os.ReadFile(path)
	if err != nil {
		return badInput(err)
	}
	if probs := rules.Check(text); len(probs) > 0 {
		for _, p := range probs {
			fmt.Fprintf(std.err, "%s:%d:%d: %s\n", path, p.Line, p.Column, p.Message)
		}
		return badInputf("%s: invalid rules; the rules in force stay", path)
	}
	who := *by
	if who == "" {
		who = os.Getenv("USER")
		if host, err := os.Hostname(); err == nil {
			who += "@" + host
		}
	}
	conn, err := bus.Connect(ctx, *natsURL, "earshot-rules-push", slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer conn.Close()
	kv, err := rules.OpenBucket(ctx, conn.JS)
	if err != nil {
		return err
	}
	rs, probs, err := rules.Push(ctx, kv, text, who)
	if err != nil {
		return err
	}
	if len(probs) > 0 { // Check found none; Push validates the same way
		return badInputf("%s: invalid rules: %s", path, probs[0].Message)
	}
	fmt.Fprintf(std.out, "%s: %d rules in force (version %s), pushed by %s\n", path, rs.Len(), rs.Version, who)
	return nil
}

// rulesCheck validates rule files and prints each problem as FILE:LINE:COLUMN: message.
func rulesCheck(args []string, std stdio) error {
	fs := flag.NewFlagSet("earshot rules check", flag.ContinueOnError)
	fs.SetOutput(std.err)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return badInputf("check: want one or more rule files")
	}
	bad := 0
	for _, path := range fs.Args() {
		text, err := os.ReadFile(path)
		if err != nil {
			return badInput(err)
		}
		probs := rules.Check(text)
		for _, p := range probs {
			fmt.Fprintf(std.err, "%s:%d:%d: %s\n", path, p.Line, p.Column, p.Message)
		}
		if len(probs) > 0 {
			bad++
			continue
		}
		rs, err := rules.Parse(text)
		if err != nil {
			return badInput(err)
		}
		fmt.Fprintf(std.out, "%s: %d rules, valid (version %s)\n", path, rs.Len(), rs.Version)
	}
	if bad > 0 {
		return badInputf("%d of %d rule files invalid", bad, fs.NArg())
	}
	return nil
}

// rulesDryRun evaluates a rule file against stored calls or exported call
// records, as post-call evaluation would, and prints which calls each rule
// would have matched.
func rulesDryRun(ctx context.Context, args []string, std stdio) error {
	fs := flag.NewFlagSet("earshot rules dryrun", flag.ContinueOnError)
	fs.SetOutput(std.err)
	var calls string
	asJSON := fs.Bool("json", false, "print one JSON line per match (msg.DryRunMatch)")
	fs.StringVar(&calls, "calls", "", "exported call records: JSON or JSONL files, or directories of them (comma-separated)")
	dataDir := fs.String("data", "", "data directory of an earshot store (SQLite): dry-run its calls")
	dsn := fs.String("db", "", "PostgreSQL DSN of an earshot store: dry-run its calls")
	limit := fs.Int("limit", 500, "--data, --db: at most this many calls, most recent first")
	params := url.Values{}
	searchFilterFlags(fs, params, "from", "to", "agent", "queue", "category", "attr")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	// Flags may come after the rules file too.
	rest := fs.Args()
	var paths []string
	for len(rest) > 0 {
		paths = append(paths, rest[0])
		if err := parseFlags(fs, rest[1:]); err != nil {
			return err
		}
		rest = fs.Args()
	}
	if len(paths) == 0 {
		return badInputf("dryrun: want a rules file: %s", rulesDryRunUsage)
	}
	ruleFile, callPaths := paths[0], paths[1:]
	if calls != "" {
		callPaths = append(callPaths, strings.Split(calls, ",")...)
	}
	fromStore := *dataDir != "" || *dsn != ""
	switch {
	case fromStore && len(callPaths) > 0:
		return badInputf("dryrun: give a store (--data or --db) or call records (--calls), not both")
	case *dataDir != "" && *dsn != "":
		return badInputf("dryrun: give --data or --db, not both")
	case !fromStore && len(callPaths) == 0:
		return badInputf("dryrun: want the calls to evaluate: --data DIR or --db DSN (a store), or --calls PATH (call records)")
	case !fromStore && len(params) > 0:
		return badInputf("dryrun: --from, --to, --agent, --queue, --category and --attr select calls of a store (--data or --db)")
	case *limit < 1:
		return badInputf("dryrun: --limit %d: want at least 1", *limit)
	}
	text, err := os.ReadFile(ruleFile)
	if err != nil {
		return badInput(err)
	}
	rs, err := rules.Parse(text)
	if err != nil {
		var pe *rules.ProblemsError
		if errors.As(err, &pe) {
			for _, p := range pe.Problems {
				fmt.Fprintf(std.err, "%s:%d:%d: %s\n", ruleFile, p.Line, p.Column, p.Message)
			}
		}
		return badInputf("%s: invalid rules", ruleFile)
	}
	var res rules.DryRunResult
	if fromStore {
		res, err = rulesDryRunStore(ctx, rs, *dsn, *dataDir, params, *limit)
	} else {
		res, err = rulesDryRunFiles(rs, callPaths)
	}
	if err != nil {
		return err
	}
	enc := json.NewEncoder(std.out)
	for _, m := range res.Matches {
		if *asJSON {
			if err := enc.Encode(m); err != nil {
				return err
			}
			continue
		}
		fmt.Fprintf(std.out, "%s\t%s", m.CallID, m.RuleID)
		for _, x := range m.Matches {
			at := time.Duration(x.StartMS) * time.Millisecond
			fmt.Fprintf(std.out, "\t%d:%02d %s %q", int(at.Minutes()), int(at.Seconds())%60, x.Leg, x.Text)
		}
		fmt.Fprintln(std.out)
	}
	fmt.Fprintf(std.err, "%d of %d calls matched at least one of %d rules\n", res.CallsMatched, res.Calls, rs.Len())
	if res.Found > res.Calls {
		fmt.Fprintf(std.err, "%d more calls were not evaluated (--limit %d); narrow with --from/--to or raise --limit\n", res.Found-res.Calls, *limit)
	}
	return nil
}

// rulesDryRunStore dry-runs rs over the calls of a store that the search
// filters in params select, most recent first.
func rulesDryRunStore(ctx context.Context, rs *rules.RuleSet, dsn, dataDir string, params url.Values, limit int) (rules.DryRunResult, error) {
	q, err := store.ParseSearchValues(params)
	if err != nil {
		return rules.DryRunResult{}, badInput(err)
	}
	st, err := openStore(ctx, dsn, dataDir, true)
	if err != nil {
		return rules.DryRunResult{}, withDemoHint(err, dsn, dataDir)
	}
	defer st.Close()
	return rules.DryRunCalls(ctx, rs, st, q, limit)
}

// rulesDryRunFiles dry-runs rs over exported call records.
func rulesDryRunFiles(rs *rules.RuleSet, paths []string) (rules.DryRunResult, error) {
	recs, err := rulesReadCalls(paths)
	if err != nil {
		return rules.DryRunResult{}, badInput(err)
	}
	res := rules.DryRunResult{Calls: len(recs), Found: len(recs)}
	for i := range recs {
		ms := rules.EvaluateRecord(rs, &recs[i])
		if len(ms) > 0 {
			res.CallsMatched++
		}
		res.Matches = append(res.Matches, ms...)
	}
	return res, nil
}

// rulesReadCalls reads call records from files (one JSON record, or JSONL)
// and directories of *.json / *.jsonl files.
func rulesReadCalls(paths []string) ([]msg.CallRecord, error) {
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		if _, err := os.Stat(filepath.Join(p, sqlite.FileName)); err == nil {
			return nil, fmt.Errorf("%s is an earshot data directory (it holds %s), not exported call records: use --data %s", p, sqlite.FileName, p)
		}
		for _, pat := range []string{"*.json", "*.jsonl"} {
			m, _ := filepath.Glob(filepath.Join(p, pat))
			files = append(files, m...)
		}
	}
	sort.Strings(files)
	var recs []msg.CallRecord
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return nil, err
		}
		dec := json.NewDecoder(bufio.NewReader(fh))
		dec.DisallowUnknownFields()
		for n := 1; ; n++ {
			var r msg.CallRecord
			err := dec.Decode(&r)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				fh.Close()
				return nil, fmt.Errorf("%s: record %d: %w", f, n, err)
			}
			if err := msg.ValidateCallID(r.Call.CallID); err != nil {
				fh.Close()
				return nil, fmt.Errorf("%s: record %d: call.call_id: %w", f, n, err)
			}
			recs = append(recs, r)
		}
		fh.Close()
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("no call records in %s", strings.Join(paths, ", "))
	}
	return recs, nil
}
