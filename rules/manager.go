package rules

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/earshot-dev/earshot/msg"
)

// CallReader reads stored calls, for dry runs. The store implements it.
type CallReader interface {
	Search(ctx context.Context, q msg.SearchQuery) (msg.SearchResults, error)
	Call(ctx context.Context, callID string, original bool) (msg.CallRecord, error)
}

// ErrNoCalls: a dry run was asked for but no call store is configured.
var ErrNoCalls = errors.New("rules: no call store to dry-run against")

// ManagerConfig configures a Manager. KV, Path or DataDir is required.
type ManagerConfig struct {
	// KV is the bucket the rules in force live in (OpenBucket), shared by
	// every process; nil: the rules file alone holds them. With KV, the
	// rules file is optional: the one there is is pushed at start (see
	// PushFile) and whenever it changes, and every version put in force
	// is written to it.
	KV jetstream.KeyValue
	// PushFile pushes the rules file at start even when the bucket has
	// other rules in force (a file given on the command line); without it
	// the file is pushed only when the bucket has none yet.
	PushFile bool
	// Path is the rules file; default DataDir/rules.yaml (none with KV and
	// no DataDir). A missing file is an empty rule set; an invalid one is
	// refused at start.
	Path string
	// DataDir holds the history of activations (rules-history.jsonl)
	// without KV; default the directory of Path.
	DataDir string
	// Calls is read by DryRun (see also SetCalls); nil makes DryRun fail
	// with ErrNoCalls.
	Calls CallReader
	// MaxDryRunCalls bounds how many calls one dry run reads; default 500.
	MaxDryRunCalls int
	// OnReload, when set, is called after every reload attempt (file
	// change or request) with the rule set in force and the error, if the
	// file was refused.
	OnReload func(rs *RuleSet, err error)
	Logger   *slog.Logger
}

// Manager owns the rule set in force: it loads the rules file (or the
// shared rules in force, shared.go), reloads it when it changes or when
// asked, activates new text from the web view (validate, write atomically
// or push, swap, record who), and runs dry runs. An invalid file never
// replaces the rules in force.
type Manager struct {
	cfg     ManagerConfig
	log     *slog.Logger
	current atomic.Pointer[RuleSet]
	calls   atomic.Pointer[CallReader]
	mu      sync.Mutex // serialises reloads, activations and history
	// fileVersion is the version of the rules file as this manager last
	// read or wrote it (with KV): only a file changed since is pushed.
	fileVersion string
}

// NewManager loads the rules in force (from cfg.KV, or the rules file) and
// returns their manager.
func NewManager(ctx context.Context, cfg ManagerConfig) (*Manager, error) {
	if cfg.Path == "" && cfg.DataDir == "" && cfg.KV == nil {
		return nil, errors.New("rules: a rules bucket, a rules file or a data directory is required")
	}
	if cfg.Path == "" && cfg.DataDir != "" {
		cfg.Path = filepath.Join(cfg.DataDir, "rules.yaml")
	}
	if cfg.DataDir == "" && cfg.Path != "" {
		cfg.DataDir = filepath.Dir(cfg.Path)
	}
	if cfg.MaxDryRunCalls <= 0 {
		cfg.MaxDryRunCalls = 500
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Manager{cfg: cfg, log: cfg.Logger}
	if cfg.Calls != nil {
		m.SetCalls(cfg.Calls)
	}
	var rs *RuleSet
	var err error
	if cfg.KV != nil {
		rs, err = m.share(ctx)
	} else {
		rs, err = m.load(true)
	}
	if err != nil {
		return nil, err
	}
	m.current.Store(rs)
	return m, nil
}

// SetCalls sets the stored calls DryRun reads, for wiring where the store
// starts after the manager.
func (m *Manager) SetCalls(c CallReader) { m.calls.Store(&c) }

// Shared reports whether the rules in force live in the bucket.
func (m *Manager) Shared() bool { return m.cfg.KV != nil }

// Path is the rules file the manager watches and writes ("" for none).
func (m *Manager) Path() string { return m.cfg.Path }

// Current is the rule set in force.
func (m *Manager) Current() *RuleSet { return m.current.Load() }

// load reads and parses the rules file. A missing or empty file is an
// empty rule set at start; later it is an error (an editor between removing
// or truncating and writing the file must not empty the rules in force; to
// remove every rule, write "rules: []").
func (m *Manager) load(start bool) (*RuleSet, error) {
	text, err := os.ReadFile(m.cfg.Path)
	if start && errors.Is(err, fs.ErrNotExist) {
		text, err = nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	if !start && emptyFile(text) {
		return nil, fmt.Errorf("rules: %s is empty; the rules in force stay (write \"rules: []\" to remove them all)", m.cfg.Path)
	}
	rs, err := Parse(text)
	if err != nil {
		return nil, fmt.Errorf("rules: %s: %w", m.cfg.Path, err)
	}
	return rs, nil
}

// Reload reads the rules file again and puts it in force if it is valid
// and changed (pushing it, with KV; without a file it reads the bucket
// again). On error the rules in force stay.
func (m *Manager) Reload(ctx context.Context) (*RuleSet, error) {
	rs, err := m.reload(ctx)
	if m.cfg.OnReload != nil {
		m.cfg.OnReload(rs, err)
	}
	return rs, err
}

func (m *Manager) reload(ctx context.Context) (*RuleSet, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cfg.KV != nil {
		return m.reloadShared(ctx)
	}
	rs, err := m.load(false)
	if err != nil {
		m.log.Warn("rules file not reloaded; the rules in force stay", "file", m.cfg.Path, "err", err)
		return m.Current(), err
	}
	old := m.Current()
	if old.Version == rs.Version {
		return old, nil
	}
	m.current.Store(rs)
	m.log.Info("rules reloaded", "file", m.cfg.Path, "version", rs.Version, "rules", rs.Len())
	if err := m.record(msg.RuleChange{Version: rs.Version, By: "file", At: time.Now().UTC(), Rules: rs.Len(), Text: string(rs.text)}); err != nil {
		m.log.Warn("rules history not recorded", "err", err)
	}
	return rs, nil
}

// Watch reloads the rules file whenever it changes, until ctx is done. It
// watches the file's directory, so editors that replace the file by a
// rename are seen too.
func (m *Manager) Watch(ctx context.Context) error {
	w, err := m.watcher()
	if err != nil {
		return err
	}
	m.watch(ctx, w)
	return nil
}

// watcher starts watching the rules file's directory.
func (m *Manager) watcher() (*fsnotify.Watcher, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("rules: watch %s: %w", m.cfg.Path, err)
	}
	dir := filepath.Dir(m.cfg.Path)
	if err := w.Add(dir); err != nil {
		w.Close()
		return nil, fmt.Errorf("rules: watch %s: %w", dir, err)
	}
	return w, nil
}

// watchQuiet is how long the rules file must be left alone after a change
// before it is reloaded: an editor writing in place truncates the file
// first, and a half-written file must not be read.
const watchQuiet = 150 * time.Millisecond

// watch reloads on w's events for the rules file, once they have been
// quiet for watchQuiet, until ctx is done; it closes w.
func (m *Manager) watch(ctx context.Context, w *fsnotify.Watcher) {
	defer w.Close()
	name := filepath.Clean(m.cfg.Path)
	quiet := time.NewTimer(time.Hour)
	quiet.Stop()
	defer quiet.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-w.Events:
			if !ok {
				return
			}
			if filepath.Clean(ev.Name) == name && ev.Has(fsnotify.Write|fsnotify.Create|fsnotify.Rename|fsnotify.Remove) {
				quiet.Reset(watchQuiet)
			}
		case <-quiet.C:
			_, _ = m.Reload(ctx) // logged; an invalid file leaves the rules in force
		case err, ok := <-w.Errors:
			if !ok {
				return
			}
			m.log.Warn("rules file watch", "err", err)
		}
	}
}

// Source returns the text and version of the rule set in force: with KV,
// as the bucket has it now (this process may not watch it).
func (m *Manager) Source(ctx context.Context) ([]byte, string, error) {
	rs := m.Current()
	if m.cfg.KV != nil {
		in, err := m.fetch(ctx)
		if err != nil {
			return nil, "", err
		}
		if in != nil {
			rs = in
		}
	}
	return bytes.Clone(rs.text), rs.Version, nil
}

// Check validates rule text, with the same problems as earshot rules check.
func (m *Manager) Check(text []byte) []msg.Problem { return Check(text) }

// Activate validates text and, if it is valid, writes it to the rules file
// atomically (with KV: pushes it, for every process), puts it in force and
// records who did it. Problems mean nothing changed. An empty text is a
// problem, as an empty file is to Reload: removing every rule takes
// "rules: []".
func (m *Manager) Activate(ctx context.Context, text []byte, who string) ([]msg.Problem, error) {
	rs, probs, err := validate(text)
	if rs == nil {
		return probs, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cfg.KV != nil {
		if err := put(ctx, m.cfg.KV, rs, who); err != nil {
			return nil, err
		}
		m.take(rs)
		m.log.Info("rules pushed", "by", who, "version", rs.Version, "rules", rs.Len())
		return nil, nil
	}
	if err := writeAtomic(m.cfg.Path, text); err != nil {
		return nil, err
	}
	m.current.Store(rs)
	m.log.Info("rules activated", "by", who, "version", rs.Version, "rules", rs.Len())
	if err := m.record(msg.RuleChange{Version: rs.Version, By: who, At: time.Now().UTC(), Rules: rs.Len(), Text: string(text)}); err != nil {
		return nil, fmt.Errorf("rules: activated version %s, but its history was not recorded: %w", rs.Version, err)
	}
	return nil, nil
}

func writeAtomic(path string, text []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("rules: %w", err)
	}
	f, err := os.CreateTemp(dir, ".rules-*.yaml")
	if err != nil {
		return fmt.Errorf("rules: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(text)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("rules: write %s: %w", path, err)
	}
	return nil
}

func (m *Manager) historyPath() string { return filepath.Join(m.cfg.DataDir, "rules-history.jsonl") }

// record appends a change to the history; the caller holds mu.
func (m *Manager) record(c msg.RuleChange) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(m.cfg.DataDir, 0o750); err != nil {
		return err
	}
	f, err := os.OpenFile(m.historyPath(), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
	if err != nil {
		return err
	}
	_, err = f.Write(append(b, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// History lists the activations and reloads of the rules, newest first
// (with KV: the versions the bucket keeps).
func (m *Manager) History(ctx context.Context) ([]msg.RuleChange, error) {
	if m.cfg.KV != nil {
		return m.sharedHistory(ctx)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	f, err := os.Open(m.historyPath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("rules: history: %w", err)
	}
	defer f.Close()
	var out []msg.RuleChange
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), MaxFileBytes*2)
	for n := 1; sc.Scan(); n++ {
		var c msg.RuleChange
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			return nil, fmt.Errorf("rules: history %s line %d: %w", m.historyPath(), n, err)
		}
		out = append(out, c)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("rules: history: %w", err)
	}
	slices.Reverse(out)
	return out, nil
}

// DryRun evaluates rule text against the stored calls q selects (at most
// MaxDryRunCalls of them, from q.Offset), exactly as post-call evaluation
// would, and returns every rule each call would have matched. It reads the
// calls as a reader without the right to unredacted text would see them.
func (m *Manager) DryRun(ctx context.Context, text []byte, q msg.SearchQuery) ([]msg.DryRunMatch, error) {
	rs, err := Parse(text)
	if err != nil {
		return nil, err
	}
	cp := m.calls.Load()
	if cp == nil || *cp == nil {
		return nil, ErrNoCalls
	}
	limit := m.cfg.MaxDryRunCalls
	if q.Limit > 0 {
		limit = min(limit, q.Limit)
	}
	res, err := DryRunCalls(ctx, rs, *cp, q, limit)
	if err != nil {
		return nil, err
	}
	return res.Matches, nil
}

// DryRunResult is what a dry run over stored calls found.
type DryRunResult struct {
	Matches []msg.DryRunMatch
	// Calls is how many calls were evaluated, Found how many the query
	// selects (more than Calls when the limit cut the run short).
	Calls, Found int
	// CallsMatched is how many calls matched at least one rule.
	CallsMatched int
}

// DryRunCalls evaluates rs against the calls q selects in calls (at most
// limit of them, from q.Offset), exactly as post-call evaluation would. It
// reads the calls as a reader without the right to unredacted text would
// see them.
func DryRunCalls(ctx context.Context, rs *RuleSet, calls CallReader, q msg.SearchQuery, limit int) (DryRunResult, error) {
	out := DryRunResult{Matches: []msg.DryRunMatch{}}
	for out.Calls < limit {
		page := q
		page.Offset = q.Offset + out.Calls
		page.Limit = min(100, limit-out.Calls)
		res, err := calls.Search(ctx, page)
		if err != nil {
			return out, fmt.Errorf("rules: dry run: search: %w", err)
		}
		out.Found = max(0, res.Total-q.Offset)
		for _, h := range res.Hits {
			rec, err := calls.Call(ctx, h.Call.CallID, false)
			if errors.Is(err, msg.ErrNotFound) {
				continue // deleted since the search
			}
			if err != nil {
				return out, fmt.Errorf("rules: dry run: call %s: %w", h.Call.CallID, err)
			}
			ms := EvaluateRecord(rs, &rec)
			if len(ms) > 0 {
				out.CallsMatched++
			}
			out.Matches = append(out.Matches, ms...)
		}
		out.Calls += len(res.Hits)
		if len(res.Hits) == 0 || q.Offset+out.Calls >= res.Total {
			break
		}
	}
	return out, nil
}

// EvaluateRecord evaluates a rule set against one stored call, with the same
// code as post-call evaluation, and returns the rules it matched.
func EvaluateRecord(rs *RuleSet, rec *msg.CallRecord) []msg.DryRunMatch {
	cs := fromRecord(rs, rec)
	var out []msg.DryRunMatch
	for _, f := range cs.evaluate(true) {
		out = append(out, msg.DryRunMatch{CallID: rec.Call.CallID, RuleID: f.rule.ID, RuleName: f.rule.Name, Matches: f.matches})
	}
	return out
}
