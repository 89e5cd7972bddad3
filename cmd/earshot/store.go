package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/earshot-dev/earshot/msg"
	"github.com/earshot-dev/earshot/redact"
	"github.com/earshot-dev/earshot/store"
	"github.com/earshot-dev/earshot/store/postgres"
	"github.com/earshot-dev/earshot/store/sqlite"
	"github.com/earshot-dev/earshot/ui"
)

// storeStage is the store stage: the archiver and retention. Its search API
// is served behind the web view's login: by earshot run, or, scaled out, by
// earshot ui reading the same store.
type storeStage struct {
	db            string
	mask          string
	policy        string
	retentionDays int

	// st is the open store once started, for the stages that read it
	// (ui, rules dry runs); cmd wires it to them.
	st store.Store
	// redactor is the store's, once started, for the rules in earshot run:
	// alerts are masked as stored text is.
	redactor *redact.Redactor
	// onStored, when set (tests), is called after each message is stored.
	onStored func(subject string)
}

func (*storeStage) name() string    { return "store" }
func (*storeStage) summary() string { return "the archiver and indexer" }

func (s *storeStage) flags(fs *flag.FlagSet) {
	fs.StringVar(&s.db, "db", "", "PostgreSQL DSN (postgres://...) for the store; default: SQLite in --data DIR/"+sqlite.FileName)
	fs.StringVar(&s.mask, "redact-mask", "pii", "what replaces personal data in stored text: pii ([PII]) or entity ([CREDIT_DEBIT_NUMBER], [SSN], ...)")
	fs.StringVar(&s.policy, "redact-policy", "redacted", "keep redacted text only (redacted) or also the original, apart (redacted-and-original)")
	fs.IntVar(&s.retentionDays, "retention-days", 0, "delete calls older than this many days (0: keep everything)")
}

// openStore opens PostgreSQL when dsn is set, else SQLite under dataDir.
func openStore(ctx context.Context, dsn, dataDir string, readOnly bool) (store.Store, error) {
	if dsn != "" {
		return postgres.Open(ctx, postgres.Config{DSN: dsn})
	}
	path := filepath.Join(dataDir, sqlite.FileName)
	if readOnly {
		if _, err := os.Stat(path); err != nil {
			return nil, badInputf("no store at %s (give --data DIR of an earshot store, --db or --server)", path)
		}
	}
	return sqlite.Open(ctx, sqlite.Config{Path: path, ReadOnly: readOnly})
}

// Where the stores are: earshot run's default, and the demo's (make run,
// scripts/demo.sh), which starts afresh each time and so keeps apart.
const (
	defaultDataDir = "earshot-data"
	demoDataDir    = "earshot-data/demo"
)

// withDemoHint adds to a missing store's error, when the store asked for is
// the default one and the demo's exists, how to read the demo's.
func withDemoHint(err error, dsn, dataDir string) error {
	if dsn != "" || dataDir != defaultDataDir {
		return err
	}
	if _, serr := os.Stat(filepath.Join(demoDataDir, sqlite.FileName)); serr != nil {
		return err
	}
	return badInputf("%w; the demo (make run) keeps its calls in %s: --data %s", err, demoDataDir, demoDataDir)
}

func (s *storeStage) start(ctx context.Context, e *env) (func(context.Context) error, error) {
	mask, err := redact.ParseMask(s.mask)
	if err != nil {
		return nil, badInputf("--redact-mask: %v", err)
	}
	policy, err := store.ParsePolicy(s.policy)
	if err != nil {
		return nil, badInputf("--redact-policy: %v", err)
	}
	if s.retentionDays < 0 {
		return nil, badInputf("--retention-days %d: must not be negative", s.retentionDays)
	}
	if s.db != "" && !strings.HasPrefix(s.db, "postgres://") && !strings.HasPrefix(s.db, "postgresql://") {
		return nil, badInputf("--db %q: want a postgres:// URL", s.db)
	}
	r, err := redact.New(redact.Config{Mask: mask})
	if err != nil {
		return nil, err
	}
	st, err := openStore(ctx, s.db, e.dataDir, false)
	if err != nil {
		return nil, err
	}
	log := e.log.With("stage", "store")
	a, err := store.NewArchiver(store.ArchiverConfig{
		Store: st, Redactor: r, Policy: policy, Logger: log, Metrics: e.metrics, OnStored: s.onStored,
	})
	if err != nil {
		st.Close()
		return nil, err
	}
	if e.protect != nil {
		if err := mountStoreAPI(e, st, log); err != nil {
			st.Close()
			return nil, err
		}
	}
	s.st, s.redactor = st, r
	where := "sqlite " + filepath.Join(e.dataDir, sqlite.FileName)
	if s.db != "" {
		where = "postgres"
	}
	log.Info("store open", "store", where, "redact_policy", policy, "redact_mask", mask, "retention_days", s.retentionDays)
	return func(ctx context.Context) error {
		err := together(ctx,
			func(ctx context.Context) error { return a.Run(ctx, e.bus.JS) },
			func(ctx context.Context) error {
				return store.Retain(ctx, st, store.RetentionConfig{Days: s.retentionDays, Every: time.Hour, Logger: log})
			})
		return errors.Join(err, st.Close())
	}, nil
}

// mountStoreAPI serves the store's JSON API (GET /api/search, GET
// /api/calls/{id}) behind the web view's login: for the roles that may
// read every call; original text only for those allowed to see it.
func mountStoreAPI(e *env, r store.Reader, log *slog.Logger) error {
	h, err := store.NewHandler(store.HandlerConfig{Reader: r, Original: ui.MayReadOriginal, Logger: log})
	if err != nil {
		return err
	}
	readers := []ui.Role{ui.RoleSupervisor, ui.RoleAnalyst, ui.RoleAdmin}
	e.mux.Handle("GET /api/search", e.protect(h, readers...))
	e.mux.Handle("GET /api/calls/{id}", e.protect(h, readers...))
	return nil
}

// searchFilters are the filters of earshot search: flag name, query
// parameter, help.
var searchFilters = [][3]string{
	{"agent", "agent", "only calls of this agent"},
	{"queue", "queue", "only calls in this queue"},
	{"from", "from", "only calls that started at or after (2026-11-02 or RFC 3339)"},
	{"to", "to", "only calls that started before (2026-11-02 or RFC 3339)"},
	{"leg", "leg", "who said the words (agent, customer, a, b); also whose sentiment"},
	{"min-sentiment", "min_sentiment", "overall sentiment at least (-5..5)"},
	{"max-sentiment", "max_sentiment", "overall sentiment at most (-5..5)"},
	{"min-shift", "min_shift", "sentiment shift at least (-5..5)"},
	{"max-shift", "max_shift", "sentiment shift at most (-5..5)"},
	{"category", "category", "only calls with this category"},
	{"has-alert", "has_alert", "true: only calls with an alert; false: only calls without"},
	{"min-non-talk-ms", "min_non_talk_ms", "non-talk time at least (ms)"},
	{"attr", "attr", "call attribute key:value (repeatable)"},
	{"limit", "limit", "results per page (default 20, at most 100)"},
	{"offset", "offset", "results to skip, for the next pages"},
}

// searchFilterFlags registers the search filters named (all when none are)
// as flags of fs that add their values to params.
func searchFilterFlags(fs *flag.FlagSet, params url.Values, names ...string) {
	for _, f := range searchFilters {
		if len(names) == 0 || slices.Contains(names, f[0]) {
			fs.Func(f[0], f[2], func(v string) error { params.Add(f[1], v); return nil })
		}
	}
}

func searchCmd(ctx context.Context, args []string, std stdio) error {
	fs := flag.NewFlagSet("earshot search", flag.ContinueOnError)
	fs.SetOutput(std.err)
	fs.Usage = func() {
		fmt.Fprintln(std.err, "usage: earshot search [--data DIR | --db DSN | --server URL] QUERY [filters] [--json]")
		fmt.Fprintln(std.err, `QUERY: words, "quoted phrases", prefix*, AND, OR, NOT or -word, (parentheses)`)
		fs.PrintDefaults()
	}
	dataDir := fs.String("data", defaultDataDir, "data directory of the embedded (SQLite) store (the demo's: "+demoDataDir+")")
	dsn := fs.String("db", "", "PostgreSQL DSN of the store")
	server := fs.String("server", "", "search through a running earshot's HTTP API at this URL")
	token := fs.String("token", "", "bearer token for --server (default $EARSHOT_TOKEN)")
	asJSON := fs.Bool("json", false, "print the results as JSON")
	params := url.Values{}
	searchFilterFlags(fs, params)
	var words []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		words = append(words, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(words) > 0 {
		params.Set("q", strings.Join(words, " "))
	}
	if *server != "" && (*dsn != "") {
		return badInputf("give --server or --db, not both")
	}
	q, err := store.ParseSearchValues(params)
	if err != nil {
		return badInput(err)
	}
	var res msg.SearchResults
	if *server != "" {
		tok := *token
		if tok == "" {
			tok = os.Getenv("EARSHOT_TOKEN")
		}
		res, err = searchServer(ctx, *server, tok, params)
	} else {
		var st store.Store
		st, err = openStore(ctx, *dsn, *dataDir, true)
		if err != nil {
			return withDemoHint(err, *dsn, *dataDir)
		}
		defer st.Close()
		res, err = st.Search(ctx, q)
		if errors.Is(err, msg.ErrBadQuery) {
			return badInput(err)
		}
	}
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(std.out)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	printResults(std.out, res, q, isTerminal(std.out))
	return nil
}

func searchServer(ctx context.Context, server, token string, params url.Values) (msg.SearchResults, error) {
	var res msg.SearchResults
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return res, badInputf("--server %q: want an http:// or https:// URL", server)
	}
	u = u.JoinPath("api", "search")
	u.RawQuery = params.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return res, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return res, fmt.Errorf("search %s: %w", server, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return res, fmt.Errorf("search %s: %w", server, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(body, &e)
		if e.Error == "" {
			e.Error = strings.TrimSpace(string(body))
		}
		if resp.StatusCode == http.StatusBadRequest {
			return res, badInputf("%s", e.Error)
		}
		return res, fmt.Errorf("search %s: %s: %s", server, resp.Status, e.Error)
	}
	if err := json.Unmarshal(body, &res); err != nil {
		return res, fmt.Errorf("search %s: reading the answer: %w", server, err)
	}
	return res, nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// printResults writes results for a person: one block per call, each
// snippet with its call-clock time and the matched words marked.
func printResults(w io.Writer, res msg.SearchResults, q msg.SearchQuery, ansi bool) {
	switch {
	case res.Total == 0:
		fmt.Fprintln(w, "no calls match")
		return
	case res.Total == 1:
		fmt.Fprintln(w, "1 call matches")
	default:
		fmt.Fprintf(w, "%d calls match", res.Total)
		if len(res.Hits) < res.Total {
			fmt.Fprintf(w, "; showing %d to %d", q.Offset+1, q.Offset+len(res.Hits))
		}
		fmt.Fprintln(w)
	}
	open, closeMark := "[", "]"
	if ansi {
		open, closeMark = "\x1b[1;33m", "\x1b[0m"
	}
	for _, h := range res.Hits {
		c := h.Call
		fmt.Fprintf(w, "\ncall %s  %s  %s", c.CallID, c.StartedAt.Local().Format("2006-01-02 15:04"), (time.Duration(c.DurationMS) * time.Millisecond).Round(time.Second))
		if c.Agent != "" {
			fmt.Fprintf(w, "  agent %s", c.Agent)
		}
		if c.Queue != "" {
			fmt.Fprintf(w, "  queue %s", c.Queue)
		}
		if v, ok := c.Sentiment[msg.RoleCustomer]; ok {
			fmt.Fprintf(w, "  customer sentiment %+.1f", v)
		}
		if c.AlertCount > 0 {
			fmt.Fprintf(w, "  alerts %d", c.AlertCount)
		}
		if len(c.Categories) > 0 {
			fmt.Fprintf(w, "  [%s]", strings.Join(c.Categories, ", "))
		}
		fmt.Fprintln(w)
		for _, sn := range h.Snippets {
			fmt.Fprintf(w, "  %s %s: %s\n", clock(sn.StartMS), sn.Leg, mark(sn.Text, sn.Highlights, open, closeMark))
		}
	}
}

// clock formats call-clock milliseconds as m:ss (or h:mm:ss).
func clock(ms int64) string {
	d := time.Duration(ms) * time.Millisecond
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d", h, m, s)
	}
	return fmt.Sprintf("%02d:%02d", m, s)
}

// mark wraps the highlighted byte ranges of text; adjacent ranges separated
// only by spaces (a phrase) are marked as one.
func mark(text string, hl [][2]int, open, closeMark string) string {
	var b strings.Builder
	at := 0
	for i := 0; i < len(hl); i++ {
		start, end := hl[i][0], hl[i][1]
		for i+1 < len(hl) && strings.TrimSpace(text[end:hl[i+1][0]]) == "" {
			i++
			end = hl[i][1]
		}
		if start < at || end > len(text) || start > end {
			continue
		}
		b.WriteString(text[at:start])
		b.WriteString(open)
		b.WriteString(text[start:end])
		b.WriteString(closeMark)
		at = end
	}
	b.WriteString(text[at:])
	return b.String()
}
