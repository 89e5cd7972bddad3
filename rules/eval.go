package rules

import (
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/earshot-dev/earshot/msg"
)

// tri is a condition's truth while the call goes on: some conditions
// cannot be decided until later (a phrase not said yet, a count not yet
// reached), and a negated undecided condition must not fire.
type tri int8

const (
	tFalse tri = iota
	tUnknown
	tTrue
)

func (t tri) not() tri {
	switch t {
	case tTrue:
		return tFalse
	case tFalse:
		return tTrue
	}
	return tUnknown
}

// firing is a rule that holds, with what it matched.
type firing struct {
	rule     *Rule
	matches  []msg.Match
	sig      string
	postCall bool
}

// evaluate returns the rules that hold now and have not yet fired (or fire
// again). Live, it looks only at rules a phrase has armed and at rules
// without words; post-call (the call has ended, or a dry run), at every rule.
// It does not mark anything fired: the caller does once the actions are done.
func (cs *callState) evaluate(postCall bool) []firing {
	rs := cs.rs
	var cand []int32
	if postCall {
		cs.complete = true // post-call, everything that will be known is
		cand = make([]int32, len(rs.rules))
		for i := range cand {
			cand[i] = int32(i)
		}
	} else {
		cand = make([]int32, 0, len(cs.armed)+len(rs.ungated))
		for r := range cs.armed {
			cand = append(cand, r)
		}
		cand = append(cand, rs.ungated...)
		slices.Sort(cand)
		cand = slices.Compact(cand)
	}
	var out []firing
	for _, ri := range cand {
		r := rs.rules[ri]
		if !postCall && r.PostCall {
			continue
		}
		fs := cs.fired[ri]
		if fs != nil && !r.Repeat {
			continue
		}
		if v, _ := cs.evalRule(r, false); v != tTrue {
			continue
		}
		_, ms := cs.evalRule(r, true)
		sig := ""
		if r.Repeat {
			sig = signature(ms)
		}
		if fs != nil && fs.sig == sig {
			continue
		}
		out = append(out, firing{rule: r, matches: ms, sig: sig, postCall: postCall})
	}
	return out
}

func (cs *callState) markFired(f firing) {
	fs := cs.fired[f.rule.index]
	if fs == nil {
		fs = &fireState{}
		cs.fired[f.rule.index] = fs
	}
	fs.count++
	fs.sig = f.sig
}

func signature(ms []msg.Match) string {
	var b strings.Builder
	for _, m := range ms {
		b.WriteString(m.SegmentID)
		b.WriteByte('@')
		b.WriteString(strconv.FormatInt(m.StartMS, 10))
		b.WriteByte(';')
	}
	return b.String()
}

// evalRule: groups AND, lines OR; with collect, also the matches of the
// lines that hold (without, it stops at the first hit of each line).
func (cs *callState) evalRule(r *Rule, collect bool) (tri, []msg.Match) {
	var matches []msg.Match
	for _, g := range r.groups {
		gv := tFalse
		var gm []msg.Match
	lines:
		for _, l := range g {
			v, m := cs.evalLine(l, collect && !l.not)
			if l.not {
				v, m = v.not(), nil
			}
			switch v {
			case tTrue:
				gv = tTrue
				gm = append(gm, m...)
				if !collect {
					break lines
				}
			case tUnknown:
				if gv == tFalse {
					gv = tUnknown
				}
			}
		}
		if gv != tTrue {
			// The rule cannot hold now; whether it is false or not yet
			// decided does not matter to the caller, which acts on true.
			return gv, nil
		}
		matches = append(matches, gm...)
	}
	sort.SliceStable(matches, func(i, j int) bool { return matches[i].StartMS < matches[j].StartMS })
	return tTrue, matches
}

// undecided is what a condition that has not held yet is: false once
// everything about the call is known, otherwise unknown (it may still come
// true: the call's last segments may still be being transcribed after its
// ended event).
func (cs *callState) undecided() tri {
	if cs.complete {
		return tFalse
	}
	return tUnknown
}

func legOK(by, leg msg.Role) bool { return by == "" || by == leg }

func (cs *callState) evalLine(l *line, collect bool) (tri, []msg.Match) {
	switch l.kind {
	case kWords:
		var ms []msg.Match
		for _, pid := range l.pats {
			for _, h := range cs.hits[pid] {
				if cs.hitOK(l, h) {
					if !collect {
						return tTrue, nil
					}
					ms = append(ms, cs.match(h.seg, h.from, h.to))
				}
			}
		}
		return cs.textResult(l, ms)
	case kNear, kNotNear:
		var ms []msg.Match
		for _, pa := range l.pats {
			for _, ha := range cs.hits[pa] {
				if !cs.hitOK(l, ha) {
					continue
				}
				near := false
				from, to := ha.from, ha.to
				for _, pb := range l.patsB {
					for _, hb := range cs.hits[pb] {
						if hb.seg != ha.seg {
							continue
						}
						gap := hb.from - ha.to
						if hb.from < ha.from {
							gap = ha.from - hb.to
						}
						if gap >= 0 && int(gap) <= l.within {
							near = true
							from, to = min(from, hb.from), max(to, hb.to)
						}
					}
				}
				if near == (l.kind == kNear) {
					if !collect {
						return tTrue, nil
					}
					ms = append(ms, cs.match(ha.seg, from, to))
				}
			}
		}
		return cs.textResult(l, ms)
	case kQueue, kAgent:
		if !cs.known {
			return tUnknown, nil
		}
		v := cs.queue
		if l.kind == kAgent {
			v = cs.agent
		}
		return boolTri(containsFold(l.values, v)), nil
	case kAttribute:
		if !cs.known {
			return tUnknown, nil
		}
		v, ok := cs.attrs[l.attr]
		if l.present {
			return boolTri(ok), nil
		}
		return boolTri(ok && containsFold(l.values, v)), nil
	case kDTMF:
		var b strings.Builder
		for _, d := range cs.dtmf {
			if legOK(l.by, d.Leg) {
				b.WriteString(strings.ToUpper(d.Digit))
			}
		}
		if strings.Contains(b.String(), l.digits) {
			return tTrue, nil
		}
		return cs.undecided(), nil
	case kSentiment:
		return cs.evalSentiment(l), nil
	case kNegativeTurns:
		for _, role := range cs.roles(l.by) {
			if cs.negativeRun(role) >= l.count {
				return tTrue, nil
			}
		}
		return cs.undecided(), nil
	case kInterruptions:
		var n int
		var total int64
		if cs.chars != nil {
			for _, it := range cs.chars.Interruptions {
				if legOK(l.by, it.By) {
					n++
					total += it.EndMS - it.StartMS
				}
			}
		}
		if (l.count > 0 && n >= l.count) || (l.total > 0 && total >= l.total.Milliseconds()) {
			return tTrue, nil
		}
		return cs.undecided(), nil
	case kNonTalk:
		var longest, total int64
		if cs.chars != nil {
			longest, total = cs.chars.NonTalkAt(cs.nowMS)
		}
		if (l.longest > 0 && longest > l.longest.Milliseconds()) || (l.total > 0 && total > l.total.Milliseconds()) {
			return tTrue, nil
		}
		return cs.undecided(), nil
	}
	return tFalse, nil
}

func boolTri(b bool) tri {
	if b {
		return tTrue
	}
	return tFalse
}

func containsFold(vs []string, v string) bool {
	for _, x := range vs {
		if strings.EqualFold(x, v) {
			return true
		}
	}
	return false
}

// hitOK checks a hit against a text condition's speaker and time window.
func (cs *callState) hitOK(l *line, h hit) bool {
	s := &cs.segs[h.seg]
	if !legOK(l.by, s.leg) {
		return false
	}
	t := s.toks[h.from].startMS
	if l.first > 0 && t >= l.first.Milliseconds() {
		return false
	}
	if l.last > 0 && (!cs.ended || t < cs.durationMS-l.last.Milliseconds()) {
		return false
	}
	if l.after != nil && !cs.afterOK(l.after, t, h) {
		return false
	}
	return true
}

// afterOK: one of a's phrases was said before t, ending at most a.within before it.
func (cs *callState) afterOK(a *afterCond, t int64, self hit) bool {
	for _, pid := range a.pats {
		for _, h := range cs.hits[pid] {
			if h == self {
				continue
			}
			s := &cs.segs[h.seg]
			if !legOK(a.by, s.leg) {
				continue
			}
			start, end := s.toks[h.from].startMS, s.toks[h.to-1].endMS
			if start <= t && (h.seg != self.seg || h.to <= self.from) && t-end <= a.within.Milliseconds() {
				return true
			}
		}
	}
	return false
}

// textResult: found is true; not found yet is false once it can no longer
// change (the call ended, or a first-N-seconds window has passed).
func (cs *callState) textResult(l *line, ms []msg.Match) (tri, []msg.Match) {
	if len(ms) > 0 {
		return tTrue, ms
	}
	if cs.complete {
		return tFalse, nil
	}
	if l.first > 0 && l.last == 0 && l.after == nil && cs.nowMS >= l.first.Milliseconds() {
		return tFalse, nil
	}
	return tUnknown, nil
}

// roles lists the participants a condition is about.
func (cs *callState) roles(by msg.Role) []msg.Role {
	if by != "" {
		return []msg.Role{by}
	}
	if cs.memoRoles != nil {
		return cs.memoRoles
	}
	seen := map[msg.Role]bool{}
	var out []msg.Role
	add := func(r msg.Role) {
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	for i := range cs.segs {
		add(cs.segs[i].leg)
	}
	if cs.sentiment != nil {
		for r := range cs.sentiment.Participants {
			add(r)
		}
	}
	slices.Sort(out)
	if out == nil {
		out = []msg.Role{}
	}
	cs.memoRoles = out
	return out
}

// score is a participant's sentiment on Contact Lens's -5..+5 scale: over
// the whole call so far (the sentiment stage's overall score when it has
// sent one, else the mean of the participant's scored turns), or the mean
// of the turns that ended within a trailing window.
func (cs *callState) score(role msg.Role, l *line) (float64, bool) {
	if l.over == 0 && cs.sentiment != nil {
		if p, ok := cs.sentiment.Participants[role]; ok && p.Turns > 0 {
			return p.Overall, true
		}
	}
	from := int64(-1 << 62)
	if l.over > 0 {
		from = cs.nowMS - l.over.Milliseconds()
	}
	var sum float64
	var n int
	for i := range cs.segs {
		s := &cs.segs[i]
		if s.leg == role && s.scored && s.endMS >= from {
			sum += s.sentiment.Compound * 5
			n++
		}
	}
	if n == 0 {
		return 0, false
	}
	return sum / float64(n), true
}

func (cs *callState) evalSentiment(l *line) tri {
	res := cs.undecided()
	for _, role := range cs.roles(l.by) {
		s, ok := cs.score(role, l)
		if !ok {
			continue
		}
		if (l.below == nil || s < *l.below) && (l.above == nil || s > *l.above) {
			return tTrue
		}
		res = tFalse
	}
	return res
}

// negativeRun is the longest run of consecutive negative turns by role.
func (cs *callState) negativeRun(role msg.Role) int {
	if n, ok := cs.memoNegRun[role]; ok {
		return n
	}
	if cs.memoNegRun == nil {
		cs.memoNegRun = map[msg.Role]int{}
	}
	idx := make([]int, 0, len(cs.segs))
	for i := range cs.segs {
		if cs.segs[i].leg == role && cs.segs[i].scored {
			idx = append(idx, i)
		}
	}
	sort.SliceStable(idx, func(a, b int) bool { return cs.segs[idx[a]].startMS < cs.segs[idx[b]].startMS })
	best, run := 0, 0
	for _, i := range idx {
		if cs.segs[i].sentiment.Label == msg.Negative {
			run++
			best = max(best, run)
		} else {
			run = 0
		}
	}
	cs.memoNegRun[role] = best
	return best
}
