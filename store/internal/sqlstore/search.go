package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/earshot-dev/earshot/msg"
	"github.com/earshot-dev/earshot/store"
)

// Search implements store.Reader. A search that takes longer than the
// store's limit is ended and refused as a bad query; one whose caller's
// context ends first returns the context's error.
func (s *Store) Search(ctx context.Context, sq msg.SearchQuery) (msg.SearchResults, error) {
	bounded, cancel := context.WithTimeout(ctx, s.searchTimeout)
	defer cancel()
	res, err := s.search(bounded, sq)
	if err != nil {
		switch cerr := ctx.Err(); {
		case cerr != nil && !errors.Is(err, cerr):
			err = fmt.Errorf("%w: %w", cerr, err)
		case cerr == nil && bounded.Err() != nil:
			err = fmt.Errorf("%w: it took longer than %s, the limit of one search; narrow it (fewer words, longer prefixes, an agent, a queue or a time range): %w",
				msg.ErrBadQuery, s.searchTimeout, context.DeadlineExceeded)
		}
		return msg.SearchResults{}, fmt.Errorf("%s store: search: %w", s.d.Name, err)
	}
	return res, nil
}

func (s *Store) search(ctx context.Context, sq msg.SearchQuery) (msg.SearchResults, error) {
	res := msg.SearchResults{Hits: []msg.SearchHit{}}
	if err := store.CheckQuery(&sq); err != nil {
		return res, err
	}
	var query *store.Query
	if strings.TrimSpace(sq.Text) != "" {
		var err error
		if query, err = store.ParseQuery(sq.Text); err != nil {
			return res, err
		}
	}
	var where []string
	var args []any
	add := func(cond string, a ...any) { where = append(where, cond); args = append(args, a...) }
	if sq.Agent != "" {
		add(`c.agent = ?`, sq.Agent)
	}
	if sq.Queue != "" {
		add(`c.queue = ?`, sq.Queue)
	}
	if sq.From != nil {
		add(`c.started_at >= ?`, sq.From.UnixMilli())
	}
	if sq.To != nil {
		add(`c.started_at < ?`, sq.To.UnixMilli())
	}
	if sq.MinSentiment != nil || sq.MaxSentiment != nil || sq.MinShift != nil || sq.MaxShift != nil {
		conds := []string{`cs.call_id = c.id`}
		var a []any
		if sq.Leg != "" {
			conds, a = append(conds, `cs.role = ?`), append(a, string(sq.Leg))
		}
		for _, f := range []struct {
			v    *float64
			cond string
		}{{sq.MinSentiment, `cs.overall >= ?`}, {sq.MaxSentiment, `cs.overall <= ?`}, {sq.MinShift, `cs.shift >= ?`}, {sq.MaxShift, `cs.shift <= ?`}} {
			if f.v != nil {
				conds, a = append(conds, f.cond), append(a, *f.v)
			}
		}
		add(`EXISTS (SELECT 1 FROM call_sentiment cs WHERE `+strings.Join(conds, ` AND `)+`)`, a...)
	}
	if sq.Category != "" {
		add(`EXISTS (SELECT 1 FROM categories k WHERE k.call_id = c.id AND k.name = ?)`, sq.Category)
	}
	if sq.HasAlert != nil {
		neg := ""
		if !*sq.HasAlert {
			neg = "NOT "
		}
		add(neg + `EXISTS (SELECT 1 FROM alerts al WHERE al.call_id = c.id)`)
	}
	if sq.MinNonTalkMS > 0 {
		add(`c.non_talk_ms >= ?`, sq.MinNonTalkMS)
	}
	if sq.MinScore != nil || sq.MaxScore != nil {
		conds, a := []string{`e.call_id = c.id`}, []any{}
		if sq.MinScore != nil {
			conds, a = append(conds, `e.score >= ?`), append(a, *sq.MinScore)
		}
		if sq.MaxScore != nil {
			conds, a = append(conds, `e.score <= ?`), append(a, *sq.MaxScore)
		}
		add(`EXISTS (SELECT 1 FROM evaluations e WHERE `+strings.Join(conds, ` AND `)+`)`, a...)
	}
	if sq.CSAT != nil {
		add(`EXISTS (SELECT 1 FROM survey_answers sa WHERE sa.call_id = c.id AND sa.scale = ? AND sa.value = ?)`, msg.ScaleCSAT, *sq.CSAT)
	}
	for _, k := range slices.Sorted(maps.Keys(sq.Answers)) {
		add(`EXISTS (SELECT 1 FROM evaluation_answers ea WHERE ea.call_id = c.id AND ea.question = ? AND ea.value = ?)`, k, sq.Answers[k])
	}
	for _, k := range slices.Sorted(maps.Keys(sq.Attributes)) {
		add(`EXISTS (SELECT 1 FROM call_attributes ca WHERE ca.call_id = c.id AND ca.key = ? AND ca.value = ?)`, k, sq.Attributes[k])
	}
	filter := ""
	if len(where) > 0 {
		filter = ` WHERE ` + strings.Join(where, ` AND `)
	}

	var base string
	var baseArgs []any
	if query != nil {
		leg := ""
		var legArgs []any
		if sq.Leg != "" {
			leg, legArgs = ` AND s.leg = ?`, []any{string(sq.Leg)}
		}
		from, score := s.d.MatchFrom, s.d.MatchScore
		matchArgs := []any{s.d.Compile(query)}
		if s.d.MatchWithin != "" && filter != "" {
			selective, err := s.selective(ctx, filter, args)
			if err != nil {
				return res, err
			}
			if selective {
				from, score = fmt.Sprintf(s.d.MatchWithin, strings.Join(where, ` AND `)), s.d.MatchWithinScore
				matchArgs = append(append([]any{}, args...), matchArgs...)
			}
		}
		base = `WITH m AS (SELECT s.call_id AS call_id, s.rid AS rid, ` + score + ` AS score FROM ` + from + leg + `),
			g AS (SELECT call_id, SUM(score) AS score, ` + s.d.RidList + ` AS rids FROM m GROUP BY call_id)
			SELECT ` + callColumns + `, g.score AS score, g.rids AS rids FROM g JOIN calls c ON c.id = g.call_id` + filter
		baseArgs = append(append(matchArgs, legArgs...), args...)
	} else {
		base = `SELECT ` + callColumns + `, 0.0 AS score, '' AS rids FROM calls c` + filter
		baseArgs = args
	}
	// The window count gives the total with the page, in one pass.
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT t.*, COUNT(*) OVER () AS total FROM (`+base+`) t ORDER BY t.score DESC, t.started_at DESC, t.id LIMIT ? OFFSET ?`), append(baseArgs, sq.Limit, sq.Offset)...)
	if err != nil {
		return res, err
	}
	var calls []*msg.CallSummary
	var rids []string
	for rows.Next() {
		var score float64
		var ridList string
		c, err := scanCall(rows, &score, &ridList, &res.Total)
		if err != nil {
			rows.Close()
			return res, err
		}
		calls = append(calls, &c)
		rids = append(rids, ridList)
		res.Hits = append(res.Hits, msg.SearchHit{Score: score})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return res, err
	}
	if len(calls) == 0 && sq.Offset > 0 {
		// Past the last page: count without it.
		if err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM (`+base+`) t`), baseArgs...).Scan(&res.Total); err != nil {
			return res, err
		}
	}
	if err := s.fill(ctx, calls); err != nil {
		return res, err
	}
	for i, c := range calls {
		res.Hits[i].Call = *c
	}
	if query != nil {
		if err := s.snippets(ctx, query, rids, res.Hits); err != nil {
			return res, err
		}
	}
	return res, nil
}

// SelectiveCalls is how many calls the filters may leave for a search to
// seek the full-text index for their segments instead of ranking every match.
const SelectiveCalls = 300

// selective reports whether the call filters leave at most SelectiveCalls calls.
func (s *Store) selective(ctx context.Context, filter string, args []any) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM (SELECT 1 FROM calls c`+filter+` LIMIT ?) t`), append(args, SelectiveCalls+1)...).Scan(&n)
	return n <= SelectiveCalls, err
}

// maxSnippetCandidates bounds the matching segments per hit read for snippets.
const maxSnippetCandidates = 50

// snippets adds to each hit the segments of its call that match (rids[i]
// lists hit i's, comma-separated), the ones with the most matched words
// first, at most store.SnippetsPerHit, then in call-clock order.
func (s *Store) snippets(ctx context.Context, query *store.Query, rids []string, hits []msg.SearchHit) error {
	var args []any
	for _, list := range rids {
		for i, r := range strings.Split(list, ",") {
			if i == maxSnippetCandidates {
				break
			}
			n, err := strconv.ParseInt(strings.TrimSpace(r), 10, 64)
			if err != nil {
				continue
			}
			args = append(args, n)
		}
	}
	if len(args) == 0 {
		return nil
	}
	idx := map[string]int{}
	for i, h := range hits {
		idx[h.Call.CallID] = i
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT call_id, id, leg, start_ms, text FROM segments WHERE rid IN (`+
		strings.TrimSuffix(strings.Repeat("?, ", len(args)), ", ")+`) ORDER BY call_id, start_ms, id`), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	type cand struct {
		sn msg.Snippet
		n  int
	}
	cands := make([][]cand, len(hits))
	for rows.Next() {
		var callID, legs string
		var sn msg.Snippet
		if err := rows.Scan(&callID, &sn.SegmentID, &legs, &sn.StartMS, &sn.Text); err != nil {
			return err
		}
		ok, hl := query.Match(sn.Text)
		i, known := idx[callID]
		if !ok || !known {
			continue
		}
		sn.Leg, sn.Highlights = msg.Role(legs), hl
		cands[i] = append(cands[i], cand{sn, len(hl)})
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for i, cs := range cands {
		sort.SliceStable(cs, func(a, b int) bool { return cs[a].n > cs[b].n })
		cs = cs[:min(len(cs), store.SnippetsPerHit)]
		sort.SliceStable(cs, func(a, b int) bool { return cs[a].sn.StartMS < cs[b].sn.StartMS })
		for _, c := range cs {
			hits[i].Snippets = append(hits[i].Snippets, c.sn)
		}
	}
	return nil
}
