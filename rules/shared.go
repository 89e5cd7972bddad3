package rules

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/earshot-dev/earshot/bus"
	"github.com/earshot-dev/earshot/msg"
)

// The rules in force, shared: they live in the NATS KV bucket
// msg.BucketRules under msg.KeyRulesInForce, as a msg.RuleChange (the text,
// its version, who put it there and when). Every analyze process watches
// the key and swaps the rules in force live; the web view's rules page and
// earshot rules push write it, after validating the text, so rules that do
// not parse never reach it. The bucket keeps the last historyDepth
// versions: the rules page's history.

// historyDepth is how many versions of the rules in force the bucket keeps
// (NATS KV's most).
const historyDepth = 64

// OpenBucket opens the bucket of the rules in force on js, creating it when
// it is missing.
func OpenBucket(ctx context.Context, js jetstream.JetStream) (jetstream.KeyValue, error) {
	kv, err := bus.KeyValue(ctx, js, jetstream.KeyValueConfig{
		Bucket: msg.BucketRules, Description: "Earshot rules in force, with who put each version there and when",
		History: historyDepth, Storage: jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	return kv, nil
}

// validate parses rule text to put in force: problems (with line and
// column) mean it must not be. An empty text is a problem, as an empty file
// is to Reload: removing every rule takes "rules: []".
func validate(text []byte) (*RuleSet, []msg.Problem, error) {
	if emptyFile(text) {
		return nil, []msg.Problem{{Line: 1, Column: 1, Message: `the rule text is empty; the rules in force stay (activate "rules: []" to remove them all)`}}, nil
	}
	rs, err := Parse(text)
	var pe *ProblemsError
	if errors.As(err, &pe) {
		return nil, pe.Problems, nil
	}
	if err != nil {
		return nil, nil, err
	}
	return rs, nil, nil
}

// Push validates text and, if it is valid, puts it in force in kv (the
// bucket OpenBucket opens) as who's: every analyze process watching it
// takes it at once. Problems mean nothing changed.
func Push(ctx context.Context, kv jetstream.KeyValue, text []byte, who string) (*RuleSet, []msg.Problem, error) {
	rs, probs, err := validate(text)
	if rs == nil {
		return nil, probs, err
	}
	if err := put(ctx, kv, rs, who); err != nil {
		return nil, nil, err
	}
	return rs, nil, nil
}

func put(ctx context.Context, kv jetstream.KeyValue, rs *RuleSet, who string) error {
	b, err := msg.Marshal(msg.RuleChange{Version: rs.Version, By: who, At: time.Now().UTC(), Rules: rs.Len(), Text: string(rs.text)})
	if err != nil {
		return err
	}
	if _, err := kv.Put(ctx, msg.KeyRulesInForce, b); err != nil {
		return fmt.Errorf("rules: put in force in %s: %w", msg.BucketRules, err)
	}
	return nil
}

// decodeChange reads a value of the rules in force.
func decodeChange(e jetstream.KeyValueEntry) (*RuleSet, msg.RuleChange, error) {
	var c msg.RuleChange
	if err := msg.Unmarshal(e.Value(), &c); err != nil {
		return nil, c, fmt.Errorf("rules: %s revision %d: %w: %w", msg.BucketRules, e.Revision(), ErrInvalid, err)
	}
	rs, err := Parse([]byte(c.Text))
	if err != nil {
		return nil, c, fmt.Errorf("rules: the rules in %s (version %s, by %s at %s): %w", msg.BucketRules, c.Version, c.By, c.At.Format(time.RFC3339), err)
	}
	return rs, c, nil
}

// fetch reads the rules in force from the bucket; nil when it has none.
func (m *Manager) fetch(ctx context.Context) (*RuleSet, error) {
	e, err := m.cfg.KV.Get(ctx, msg.KeyRulesInForce)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("rules: %s: %w", msg.BucketRules, err)
	}
	rs, _, err := decodeChange(e)
	return rs, err
}

// fileWho says who put the rules file in force.
func (m *Manager) fileWho() string {
	host, _ := os.Hostname()
	return "file " + m.cfg.Path + " on " + host
}

// share finds the rules in force at start: the rules file, pushed when it
// is given (PushFile) or the bucket has none yet, else the bucket's.
func (m *Manager) share(ctx context.Context) (*RuleSet, error) {
	inForce, ferr := m.fetch(ctx)
	if ferr != nil && !errors.Is(ferr, ErrInvalid) {
		return nil, ferr
	}
	var file *RuleSet
	if m.cfg.Path != "" {
		text, err := os.ReadFile(m.cfg.Path)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return nil, fmt.Errorf("rules: %w", err)
		default:
			if file, err = Parse(text); err != nil {
				return nil, fmt.Errorf("rules: %s: %w", m.cfg.Path, err)
			}
			m.fileVersion = file.Version
		}
	}
	if file != nil && (m.cfg.PushFile || inForce == nil) {
		if inForce == nil || inForce.Version != file.Version {
			if err := put(ctx, m.cfg.KV, file, m.fileWho()); err != nil {
				return nil, err
			}
			m.log.Info("rules file put in force", "file", m.cfg.Path, "version", file.Version, "rules", file.Len(), "bucket", msg.BucketRules)
		}
		return file, nil
	}
	if ferr != nil {
		return nil, fmt.Errorf("%w; push valid rules with earshot rules push", ferr)
	}
	if inForce == nil {
		return Parse(nil)
	}
	m.mirror(inForce)
	return inForce, nil
}

// take writes rs to the rules file, if there is one, and puts it in force
// here; false when it is in force already. The caller holds mu.
func (m *Manager) take(rs *RuleSet) bool {
	if m.Current().Version == rs.Version {
		return false
	}
	m.mirror(rs)
	m.current.Store(rs)
	return true
}

// mirror writes rs to the rules file, if there is one and it differs, so
// the file says what is in force (and is not pushed back over it at the
// next start).
func (m *Manager) mirror(rs *RuleSet) {
	if m.cfg.Path == "" {
		return
	}
	if have, err := os.ReadFile(m.cfg.Path); err == nil && bytes.Equal(have, rs.text) {
		m.fileVersion = rs.Version
		return
	}
	if err := writeAtomic(m.cfg.Path, rs.text); err != nil {
		m.log.Warn("rules in force not written to the rules file", "file", m.cfg.Path, "err", err)
		return
	}
	m.fileVersion = rs.Version
}

// reloadShared reads the rules file, if there is one, and pushes it when
// it changed since this manager last read or wrote it (a file left behind,
// one the manager could not write, is never pushed over newer rules);
// otherwise it reads the bucket again. The caller holds mu.
func (m *Manager) reloadShared(ctx context.Context) (*RuleSet, error) {
	var rs *RuleSet
	if m.cfg.Path != "" {
		var err error
		if rs, err = m.load(false); err != nil {
			m.log.Warn("rules file not pushed; the rules in force stay", "file", m.cfg.Path, "err", err)
			return m.Current(), err
		}
	}
	if rs == nil || rs.Version == m.fileVersion {
		in, err := m.fetch(ctx)
		if err != nil {
			return m.Current(), err
		}
		if in != nil {
			m.take(in)
		}
		return m.Current(), nil
	}
	m.fileVersion = rs.Version
	if rs.Version == m.Current().Version {
		return rs, nil
	}
	if err := put(ctx, m.cfg.KV, rs, m.fileWho()); err != nil {
		return m.Current(), err
	}
	m.take(rs)
	m.log.Info("rules file put in force", "file", m.cfg.Path, "version", rs.Version, "rules", rs.Len())
	return rs, nil
}

// sharedWatcher starts watching the rules in force.
func (m *Manager) sharedWatcher(ctx context.Context) (jetstream.KeyWatcher, error) {
	w, err := m.cfg.KV.Watch(ctx, msg.KeyRulesInForce)
	if err != nil {
		return nil, fmt.Errorf("rules: watch %s: %w", msg.BucketRules, err)
	}
	return w, nil
}

// watchShared swaps the rules in force whenever another version is put in
// the bucket, until ctx is done; it stops w. A version that does not parse
// (written by something that did not validate it) leaves the rules in
// force as they are.
func (m *Manager) watchShared(ctx context.Context, w jetstream.KeyWatcher) {
	bus.Watch(ctx, w, m.takeShared)
}

// takeShared takes one version of the rules in force from the bucket.
func (m *Manager) takeShared(e jetstream.KeyValueEntry) {
	if e == nil {
		return
	}
	if e.Operation() != jetstream.KeyValuePut {
		m.log.Warn("the rules in force were deleted from the bucket; the rules in force here stay", "bucket", msg.BucketRules)
		return
	}
	m.mu.Lock()
	rs, c, err := decodeChange(e)
	changed := err == nil && m.take(rs)
	cur := m.Current()
	m.mu.Unlock()
	switch {
	case err != nil:
		m.log.Warn("rules in the bucket refused; the rules in force stay", "err", err)
	case changed:
		m.log.Info("rules in force changed", "version", rs.Version, "rules", rs.Len(), "by", c.By)
	default:
		return
	}
	if m.cfg.OnReload != nil {
		m.cfg.OnReload(cur, err)
	}
}

// sharedHistory lists the versions the bucket keeps, newest first.
func (m *Manager) sharedHistory(ctx context.Context) ([]msg.RuleChange, error) {
	es, err := m.cfg.KV.History(ctx, msg.KeyRulesInForce)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("rules: history: %w", err)
	}
	var out []msg.RuleChange
	for _, e := range es {
		if e.Operation() != jetstream.KeyValuePut {
			continue
		}
		var c msg.RuleChange
		if err := msg.Unmarshal(e.Value(), &c); err != nil {
			m.log.Warn("rules history: a version not understood", "revision", e.Revision(), "err", err)
			continue
		}
		out = append(out, c)
	}
	slices.Reverse(out)
	return out, nil
}
