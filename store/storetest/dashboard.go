package storetest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/msg"
	"github.com/earshot-dev/earshot/store"
)

// dashboardFixture stores the calls the dashboard figures are computed by
// hand from (t0 is Monday 2 November 2026, 09:00 UTC):
//
//	d1 ann/billing  Mon 09:00  100 s  customer 2 (shift 1)   talk a40 c40 s, non-talk 20 s, interruptions a,a,c  150 wpm  refund           angry x2
//	d2 ann/support  Mon 11:00  200 s  customer -1 (shift -3) talk a90 c30 s, non-talk 80 s                        130 wpm  refund escalation 2 ré
//	d3 bob/billing  Tue 10:00   60 s  (no sentiment, no characteristics)                                                                  angry
//	d4 bob/billing  Mon+7 09:00 300 s customer 4 (shift 2)   talk a100 c100 s, non-talk 100 s, interruptions a
//	survey answers (1-5, 0-10): d1 5, 9; d2 2, 6; d4 4; live 1, 0
//	live ann/billing Mon 12:00, not ended; early ann/billing Sun 09:00, before the range
func dashboardFixture(t *testing.T, s store.Store) {
	t.Helper()
	ctx := context.Background()
	type call struct {
		id, agent, queue string
		at               time.Time
		dur              time.Duration
		sent             *[2]float64
		chars            *msg.Characteristics
		cats, alerts     []string
		survey           []int // a 1-5 answer, then a 0-10 one
	}
	ints := func(by ...msg.Role) []msg.Interruption {
		var out []msg.Interruption
		for i, r := range by {
			out = append(out, msg.Interruption{By: r, Of: msg.RoleCustomer, StartMS: int64(i) * 1000, EndMS: int64(i)*1000 + 500})
		}
		return out
	}
	calls := []call{
		{"d1", "ann", "billing", t0, 100 * time.Second, &[2]float64{2, 1},
			&msg.Characteristics{TalkMS: map[msg.Role]int64{msg.RoleAgent: 40000, msg.RoleCustomer: 40000}, NonTalkMS: 20000,
				Interruptions: ints(msg.RoleAgent, msg.RoleAgent, msg.RoleCustomer), TalkSpeedWPM: map[msg.Role]float64{msg.RoleAgent: 150, msg.RoleCustomer: 90}},
			[]string{"refund"}, []string{"angry", "angry"}, []int{5, 9}},
		{"d2", "ann", "support", t0.Add(2 * time.Hour), 200 * time.Second, &[2]float64{-1, -3},
			&msg.Characteristics{TalkMS: map[msg.Role]int64{msg.RoleAgent: 90000, msg.RoleCustomer: 30000}, NonTalkMS: 80000,
				TalkSpeedWPM: map[msg.Role]float64{msg.RoleAgent: 130}},
			[]string{"refund", "escalation 2 ré"}, nil, []int{2, 6}},
		{"d3", "bob", "billing", t0.Add(25 * time.Hour), 60 * time.Second, nil, nil, nil, []string{"angry"}, nil},
		{"d4", "bob", "billing", t0.Add(7 * 24 * time.Hour), 300 * time.Second, &[2]float64{4, 2},
			&msg.Characteristics{TalkMS: map[msg.Role]int64{msg.RoleAgent: 100000, msg.RoleCustomer: 100000}, NonTalkMS: 100000,
				Interruptions: ints(msg.RoleAgent)},
			nil, nil, []int{4}},
		{"live", "ann", "billing", t0.Add(3 * time.Hour), 0, &[2]float64{-5, -5}, nil, []string{"refund"}, []string{"angry"}, []int{1, 0}},
		{"early", "ann", "billing", t0.Add(-24 * time.Hour), time.Minute, &[2]float64{-5, -5}, nil, []string{"refund"}, []string{"angry"}, nil},
	}
	for _, c := range calls {
		// Categories and alerts first: the call's start, agent and queue
		// reach them when its start event comes.
		var cats []msg.Category
		for _, k := range c.cats {
			cats = append(cats, msg.Category{Name: k, RuleID: k})
		}
		if cats != nil {
			must(t, s.PutCategories(ctx, msg.Categories{CallID: c.id, Categories: cats}))
		}
		for i, a := range c.alerts {
			must(t, s.PutAlert(ctx, msg.Alert{ID: fmt.Sprintf("%s/%s/%d", c.id, a, i), CallID: c.id, RuleID: a + "-rule", RuleName: a,
				Severity: "warning", AtMS: int64(i) * 1000, Time: c.at.Add(time.Duration(i) * time.Second)}))
		}
		startCall(t, s, c.id, c.agent, c.queue, c.at, nil)
		if c.sent != nil {
			// The agent's own sentiment is never the customer's figure.
			must(t, s.PutCallSentiment(ctx, msg.CallSentiment{CallID: c.id, AtMS: 1, Final: true,
				Participants: participants([2]float64{-4, -4}, *c.sent)}))
		}
		if c.chars != nil {
			c.chars.CallID, c.chars.AtMS, c.chars.Final = c.id, c.dur.Milliseconds(), true
			must(t, s.PutCharacteristics(ctx, *c.chars))
		}
		if c.dur > 0 {
			endCall(t, s, c.id, c.at, c.dur)
		}
		if c.survey != nil {
			r := msg.SurveyResult{CallID: c.id, Survey: "post-call"}
			for i, v := range c.survey {
				r.Answers = append(r.Answers, msg.SurveyAnswer{Question: []string{"satisfied", "recommend"}[i],
					Scale: []string{msg.ScaleCSAT, msg.ScaleNPS}[i], Value: v, AtMS: c.dur.Milliseconds() + int64(i)*5000})
			}
			// A first, partial result is replaced by the whole one.
			must(t, s.PutSurvey(ctx, msg.SurveyResult{CallID: c.id, Survey: "post-call", Answers: r.Answers[:1]}))
			must(t, s.PutSurvey(ctx, r))
		}
	}
}

// dashboardLines prints a dashboard's rows, one line each, figures to four
// significant digits and "-" where a figure is nil.
func dashboardLines(d msg.Dashboard) []string {
	f := func(v *float64) string {
		if v == nil {
			return "-"
		}
		return fmt.Sprintf("%.4g", *v)
	}
	m := func(shares map[string]float64) string {
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(shares)) {
			parts = append(parts, fmt.Sprintf("%s=%.4g", k, shares[k]))
		}
		return strings.Join(parts, " ")
	}
	var out []string
	for _, r := range d.Rows {
		out = append(out, fmt.Sprintf("%s %q calls=%d aht=%.4g sent=%s shift=%s nontalk=%s agenttalk=%s int=%s agentint=%s wpm=%s cat[%s] alert[%s] csat=%s/%d nps=%s/%d",
			r.Bucket.UTC().Format("2006-01-02T15"), r.Group, r.Calls, r.AvgHandleMS, f(r.CustomerSentiment), f(r.CustomerShift),
			f(r.NonTalkShare), f(r.AgentTalkShare), f(r.InterruptionsPerCall), f(r.AgentInterruptionsPerCall), f(r.AgentTalkSpeedWPM),
			m(r.Categories), m(r.Alerts), f(r.CSAT), r.CSATAnswers, f(r.NPS), r.NPSAnswers))
	}
	return out
}

func testDashboard(t *testing.T, s store.Store) {
	dashboardFixture(t, s)
	ctx := context.Background()
	from, to := t0.Truncate(24*time.Hour), t0.Truncate(24*time.Hour).Add(14*24*time.Hour)
	const (
		mon2  = `2026-11-02T00 "" calls=2 aht=1.5e+05 sent=0.5 shift=-1 nontalk=0.3333 agenttalk=0.65 int=1.5 agentint=1 wpm=140 cat[escalation 2 ré=0.5 refund=1] alert[angry=0.5] csat=0.5/2 nps=0/2`
		tue3  = `2026-11-03T00 "" calls=1 aht=6e+04 sent=- shift=- nontalk=- agenttalk=- int=- agentint=- wpm=- cat[] alert[angry=1] csat=-/0 nps=-/0`
		mon9  = `2026-11-09T00 "" calls=1 aht=3e+05 sent=4 shift=2 nontalk=0.3333 agenttalk=0.5 int=1 agentint=1 wpm=- cat[] alert[] csat=1/1 nps=-/0`
		week2 = `2026-11-02T00 "" calls=3 aht=1.2e+05 sent=0.5 shift=-1 nontalk=0.3333 agenttalk=0.65 int=1.5 agentint=1 wpm=140 cat[escalation 2 ré=0.3333 refund=0.6667] alert[angry=0.6667] csat=0.5/2 nps=0/2`
	)
	for _, tc := range []struct {
		name       string
		q          msg.DashboardQuery
		want       []string
		cats, alts []string
	}{
		{"days overall", msg.DashboardQuery{From: from, To: to}, []string{mon2, tue3, mon9}, []string{"escalation 2 ré", "refund"}, []string{"angry"}},
		{"weeks overall", msg.DashboardQuery{From: from, To: to, Step: msg.StepWeek}, []string{week2, mon9}, []string{"escalation 2 ré", "refund"}, []string{"angry"}},
		{"weeks by agent", msg.DashboardQuery{From: from, To: to, Step: msg.StepWeek, GroupBy: msg.GroupAgent}, []string{
			strings.Replace(mon2, `""`, `"ann"`, 1),
			strings.Replace(tue3, `2026-11-03T00 ""`, `2026-11-02T00 "bob"`, 1),
			strings.Replace(mon9, `""`, `"bob"`, 1),
		}, []string{"escalation 2 ré", "refund"}, []string{"angry"}},
		{"bob's weeks by queue", msg.DashboardQuery{From: from, To: to, Step: msg.StepWeek, GroupBy: msg.GroupQueue, Agent: "bob"}, []string{
			strings.Replace(tue3, `2026-11-03T00 ""`, `2026-11-02T00 "billing"`, 1),
			strings.Replace(mon9, `""`, `"billing"`, 1),
		}, []string{}, []string{"angry"}},
		{"support queue by day", msg.DashboardQuery{From: from, To: to, GroupBy: msg.GroupQueue, Queue: "support"}, []string{
			`2026-11-02T00 "support" calls=1 aht=2e+05 sent=-1 shift=-3 nontalk=0.4 agenttalk=0.75 int=0 agentint=0 wpm=130 cat[escalation 2 ré=1 refund=1] alert[] csat=0/1 nps=-100/1`,
		}, []string{"escalation 2 ré", "refund"}, []string{}},
		// Eleven hours west of UTC: d1 falls on Sunday the 1st, d2 (at
		// local midnight) and d3 on Monday the 2nd, d4 on Sunday the 8th.
		{"days eleven hours west", msg.DashboardQuery{From: from, To: to, TZOffsetMinutes: -660}, []string{
			`2026-11-01T11 "" calls=1 aht=1e+05 sent=2 shift=1 nontalk=0.2 agenttalk=0.5 int=3 agentint=2 wpm=150 cat[refund=1] alert[angry=1] csat=1/1 nps=100/1`,
			`2026-11-02T11 "" calls=2 aht=1.3e+05 sent=-1 shift=-3 nontalk=0.4 agenttalk=0.75 int=0 agentint=0 wpm=130 cat[escalation 2 ré=0.5 refund=0.5] alert[angry=0.5] csat=0/1 nps=-100/1`,
			`2026-11-08T11 "" calls=1 aht=3e+05 sent=4 shift=2 nontalk=0.3333 agenttalk=0.5 int=1 agentint=1 wpm=- cat[] alert[] csat=1/1 nps=-/0`,
		}, []string{"escalation 2 ré", "refund"}, []string{"angry"}},
		// The same from local midnight: d2 and d3 on Monday the 2nd, d4 on
		// Sunday the 8th (from the rollups, the offset's first time).
		{"days eleven hours west from midnight", msg.DashboardQuery{From: from.Add(11 * time.Hour), To: to.Add(11 * time.Hour), TZOffsetMinutes: -660}, []string{
			`2026-11-02T11 "" calls=2 aht=1.3e+05 sent=-1 shift=-3 nontalk=0.4 agenttalk=0.75 int=0 agentint=0 wpm=130 cat[escalation 2 ré=0.5 refund=0.5] alert[angry=0.5] csat=0/1 nps=-100/1`,
			`2026-11-08T11 "" calls=1 aht=3e+05 sent=4 shift=2 nontalk=0.3333 agenttalk=0.5 int=1 agentint=1 wpm=- cat[] alert[] csat=1/1 nps=-/0`,
		}, []string{"escalation 2 ré", "refund"}, []string{"angry"}},
		{"a range with no calls", msg.DashboardQuery{From: to, To: to.Add(24 * time.Hour), GroupBy: msg.GroupAgent}, nil, []string{}, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := s.Dashboard(ctx, tc.q)
			must(t, err)
			if got := dashboardLines(d); !slices.Equal(got, tc.want) {
				t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if !slices.Equal(d.Categories, tc.cats) || !slices.Equal(d.Alerts, tc.alts) {
				t.Errorf("categories %q alerts %q, want %q %q", d.Categories, d.Alerts, tc.cats, tc.alts)
			}
			if d.Rows == nil {
				t.Error("rows are nil, want an empty list")
			}
		})
	}
	rec, err := s.Call(ctx, "d1", false)
	must(t, err)
	if len(rec.Surveys) != 1 || fmt.Sprint(rec.Surveys[0].Answers) != "[{satisfied  1-5 5 100000} {recommend  0-10 9 105000}]" {
		t.Errorf("d1's surveys: %+v", rec.Surveys)
	}
	for v, want := range map[int]string{5: "[d1]", 2: "[d2]", 3: "[]"} {
		if got := ids(search(t, s, msg.SearchQuery{CSAT: &v})); fmt.Sprint(got) != want && !(want == "[]" && len(got) == 0) {
			t.Errorf("csat %d: %v, want %s", v, got, want)
		}
	}
	bad := 6
	if _, err := s.Search(ctx, msg.SearchQuery{CSAT: &bad}); !errors.Is(err, msg.ErrBadQuery) {
		t.Errorf("csat 6: %v", err)
	}
	dashboardsAgree(t, s, from, to, "as stored")
	// Ended calls change: an alert, a survey and the sentiment come late.
	must(t, s.PutAlert(ctx, msg.Alert{ID: "d4/late", CallID: "d4", RuleID: "late-rule", RuleName: "late", Severity: "warning",
		AtMS: 1000, Time: t0.Add(7 * 24 * time.Hour)}))
	must(t, s.PutSurvey(ctx, msg.SurveyResult{CallID: "d3", Survey: "post-call", Answers: []msg.SurveyAnswer{{Question: "recommend", Scale: msg.ScaleNPS, Value: 10}}}))
	must(t, s.PutCallSentiment(ctx, msg.CallSentiment{CallID: "d1", AtMS: 2, Final: true, Participants: participants([2]float64{0, 0}, [2]float64{3, 3})}))
	must(t, s.PutCall(ctx, msg.CallEvent{CallID: "d2", Kind: msg.CallUpdated, Time: t0, Queue: "sales"}))
	dashboardsAgree(t, s, from, to, "after late writes")
	if b, ok := s.(store.Batcher); ok {
		// The archiver's batches: several writes to one ended call, and
		// a call started, ended and analysed, in one transaction.
		must(t, b.Batch(ctx, func(ctx context.Context) error {
			at := t0.Add(6 * time.Hour)
			for _, err := range []error{
				s.PutAlert(ctx, msg.Alert{ID: "d4/late/2", CallID: "d4", RuleID: "late-rule", RuleName: "later", Severity: "warning", Time: at}),
				s.PutCallSentiment(ctx, msg.CallSentiment{CallID: "d4", AtMS: 3, Final: true, Participants: participants([2]float64{0, 0}, [2]float64{-2, 1})}),
				s.PutCall(ctx, msg.CallEvent{CallID: "d4", Kind: msg.CallUpdated, Time: at, Queue: "late"}),
				s.PutCall(ctx, msg.CallEvent{CallID: "b1", Kind: msg.CallStarted, Time: at, StartedAt: at, Agent: "bob", Queue: "billing"}),
				s.PutCallSentiment(ctx, msg.CallSentiment{CallID: "b1", AtMS: 1, Participants: participants([2]float64{0, 0}, [2]float64{1, 1})}),
				s.PutCall(ctx, msg.CallEvent{CallID: "b1", Kind: msg.CallEnded, Time: at.Add(time.Minute), StartedAt: at, DurationMS: 60000}),
				s.PutCallSentiment(ctx, msg.CallSentiment{CallID: "b1", AtMS: 60000, Final: true, Participants: participants([2]float64{0, 0}, [2]float64{3, -1})}),
				s.PutCharacteristics(ctx, msg.Characteristics{CallID: "b1", AtMS: 60000, Final: true, NonTalkMS: 6000,
					TalkMS: map[msg.Role]int64{msg.RoleAgent: 30000, msg.RoleCustomer: 20000}}),
				s.PutCategories(ctx, msg.Categories{CallID: "b1", Final: true, Categories: []msg.Category{{Name: "refund", RuleID: "refund"}}}),
				s.PutAlert(ctx, msg.Alert{ID: "b1/angry/0", CallID: "b1", RuleID: "angry-rule", RuleName: "angry", Severity: "warning", Time: at}),
			} {
				if err != nil {
					return err
				}
			}
			return nil
		}))
		dashboardsAgree(t, s, from, to, "after a batch of late writes")
		d, err := s.Dashboard(ctx, msg.DashboardQuery{From: from, To: to, Agent: "bob", GroupBy: msg.GroupQueue})
		must(t, err)
		want := `2026-11-02T00 "billing" calls=1 aht=6e+04 sent=3 shift=-1 nontalk=0.1 agenttalk=0.6 int=0 agentint=0 wpm=- cat[refund=1] alert[angry=1] csat=-/0 nps=-/0`
		if got := dashboardLines(d); len(got) == 0 || got[0] != want {
			t.Errorf("bob's calls by queue after the batch (b1 started, ended and analysed in it):\n%s\nwant first\n%s", strings.Join(got, "\n"), want)
		}
	}
	_, err = s.DeleteBefore(ctx, t0.Add(3*time.Hour))
	must(t, err)
	dashboardsAgree(t, s, from, to, "after retention")
	for _, q := range []msg.DashboardQuery{
		{From: from, To: to, Step: "month"},
		{From: from, To: to, GroupBy: "team"},
		{From: to, To: from},
		{From: from},
		{From: from, To: from.Add(store.MaxDashboardBuckets * 24 * time.Hour).Add(time.Millisecond)},
		{From: from, To: to, TZOffsetMinutes: 15 * 60},
	} {
		if _, err := s.Dashboard(ctx, q); !errors.Is(err, msg.ErrBadQuery) {
			t.Errorf("%+v: err %v, want a bad query", q, err)
		}
	}
	if _, err := s.Dashboard(ctx, msg.DashboardQuery{From: from, To: from.Add(store.MaxDashboardBuckets * 24 * time.Hour)}); err != nil {
		t.Errorf("%d days: %v", store.MaxDashboardBuckets, err)
	}
}

// dashboardsAgree checks that the rollups (a range from midnight to
// midnight) and the per-call query (the same range from a millisecond
// before) give the same figures.
func dashboardsAgree(t *testing.T, s store.Store, from, to time.Time, when string) {
	t.Helper()
	for _, q := range []msg.DashboardQuery{
		{From: from, To: to},
		{From: from, To: to, Step: msg.StepWeek, GroupBy: msg.GroupAgent},
		// From a Sunday to a Wednesday: days, two weeks, days.
		{From: from.Add(-24 * time.Hour), To: to.Add(2 * 24 * time.Hour), Step: msg.StepWeek, GroupBy: msg.GroupQueue},
		{From: from.Add(-24 * time.Hour), To: to.Add(2 * 24 * time.Hour), Step: msg.StepWeek, Agent: "bob"},
		{From: from, To: to, GroupBy: msg.GroupQueue},
		{From: from, To: to, Agent: "bob"},
		{From: from, To: to, GroupBy: msg.GroupAgent, Queue: "billing"},
		{From: from.Add(11 * time.Hour), To: to.Add(11 * time.Hour), TZOffsetMinutes: -660},
	} {
		rolled, err := s.Dashboard(context.Background(), q)
		must(t, err)
		q.From = q.From.Add(-time.Millisecond)
		each, err := s.Dashboard(context.Background(), q)
		must(t, err)
		got, want := dashboardLines(rolled), dashboardLines(each)
		if !slices.Equal(got, want) || len(got) == 0 || !slices.Equal(rolled.Categories, each.Categories) || !slices.Equal(rolled.Alerts, each.Alerts) {
			t.Errorf("%s, %+v: from the rollups\n%s\n%q %q\nper call\n%s\n%q %q", when, q, strings.Join(got, "\n"), rolled.Categories, rolled.Alerts,
				strings.Join(want, "\n"), each.Categories, each.Alerts)
		}
	}
}

// DashboardBackfill checks that the migration numbered version, which
// added what dashboards aggregate, fills it from what was kept before it:
// it stores the dashboard's calls, takes the migration's columns, index,
// table and record away, and opens the database again. open opens
// the same database each time it is called.
func DashboardBackfill(t *testing.T, version int, open func(t *testing.T) (store.Store, *sql.DB)) {
	undo := []string{`DROP INDEX calls_dashboard`, `DROP TABLE call_tags`}
	for _, col := range []string{"agent_talk_ms", "customer_talk_ms", "interruptions", "agent_interruptions", "agent_wpm", "customer_sentiment", "customer_shift"} {
		undo = append(undo, `ALTER TABLE calls DROP COLUMN `+col)
	}
	backfill(t, version, undo, open)
}

// RollupBackfill checks that the migration numbered version, which added
// the dashboards' daily rollups, rolls up the calls kept before it, as
// DashboardBackfill does.
func RollupBackfill(t *testing.T, version int, open func(t *testing.T) (store.Store, *sql.DB)) {
	backfill(t, version, []string{`DROP TABLE dashboard_days`, `DROP TABLE dashboard_day_tags`, `DROP TABLE dashboard_offsets`}, open)
}

func backfill(t *testing.T, version int, undo []string, open func(t *testing.T) (store.Store, *sql.DB)) {
	ctx := context.Background()
	s, db := open(t)
	dashboardFixture(t, s)
	from := t0.Truncate(24 * time.Hour)
	qs := []msg.DashboardQuery{
		{From: from, To: from.Add(14 * 24 * time.Hour)},
		{From: from, To: from.Add(14 * 24 * time.Hour), Step: msg.StepWeek, GroupBy: msg.GroupAgent},
	}
	var before [][]string
	for _, q := range qs {
		d, err := s.Dashboard(ctx, q)
		must(t, err)
		before = append(before, dashboardLines(d))
	}
	for _, stmt := range append(undo, fmt.Sprintf(`DELETE FROM schema_migrations WHERE version = %d`, version)) {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	must(t, s.Close())
	s, _ = open(t)
	defer s.Close()
	for i, q := range qs {
		after, err := s.Dashboard(ctx, q)
		must(t, err)
		if got := dashboardLines(after); !slices.Equal(got, before[i]) {
			t.Errorf("after the migration again:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(before[i], "\n"))
		}
	}
}

func evaluation(call string, score float64, at time.Time, answers ...string) msg.Evaluation {
	ev := msg.Evaluation{CallID: call, Form: "service-qa", FormVersion: "v1", ScoredAt: at, Score: &score,
		Sections: []msg.SectionScore{{ID: "opening", Score: &score}}}
	for i := 0; i+1 < len(answers); i += 2 {
		ev.Answers = append(ev.Answers, msg.EvaluatedAnswer{Question: answers[i], Section: "opening", Value: answers[i+1], Auto: answers[i+1]})
	}
	return ev
}

func testEvaluations(t *testing.T, s store.Store) {
	ctx := context.Background()
	for i, id := range []string{"e1", "e2", "e3"} {
		startCall(t, s, id, "ann", "billing", t0.Add(time.Duration(i)*time.Minute), nil)
		endCall(t, s, id, t0.Add(time.Duration(i)*time.Minute), 30*time.Second)
	}
	must(t, s.PutEvaluation(ctx, evaluation("e1", 50, t0.Add(time.Hour), "greeting", "no", "resolved", "")))
	// An analyst's answer, later: it replaces the automatic one.
	analyst := evaluation("e1", 80, t0.Add(2*time.Hour), "greeting", "yes")
	analyst.Answers[0].Auto, analyst.Answers[0].By, analyst.Answers[0].Comment = "no", "quinn", "greeted in Korean"
	must(t, s.PutEvaluation(ctx, analyst))
	// A redelivered older one changes nothing.
	must(t, s.PutEvaluation(ctx, evaluation("e1", 50, t0.Add(time.Hour), "greeting", "no")))
	must(t, s.PutEvaluation(ctx, evaluation("e2", 40, t0.Add(time.Hour), "greeting", "no")))

	rec, err := s.Call(ctx, "e1", false)
	must(t, err)
	if len(rec.Evaluations) != 1 || *rec.Evaluations[0].Score != 80 || rec.Evaluations[0].Answers[0].By != "quinn" || rec.Evaluations[0].Answers[0].Auto != "no" {
		t.Errorf("e1's evaluations: %+v", rec.Evaluations)
	}
	for _, tc := range []struct {
		q    msg.SearchQuery
		want string
	}{
		{msg.SearchQuery{MinScore: fp(50)}, "[e1]"},
		{msg.SearchQuery{MaxScore: fp(50)}, "[e2]"},
		{msg.SearchQuery{MinScore: fp(0), MaxScore: fp(100)}, "[e1 e2]"},
		{msg.SearchQuery{Answers: map[string]string{"greeting": "no"}}, "[e2]"},
		{msg.SearchQuery{Answers: map[string]string{"greeting": "yes"}, MinScore: fp(90)}, "[]"},
	} {
		got := ids(search(t, s, tc.q))
		slices.Sort(got)
		if fmt.Sprint(got) != tc.want && !(tc.want == "[]" && len(got) == 0) {
			t.Errorf("%+v: %v, want %s", tc.q, got, tc.want)
		}
	}
	if _, err := s.Search(ctx, msg.SearchQuery{MinScore: fp(101)}); !errors.Is(err, msg.ErrBadQuery) {
		t.Errorf("min_score 101: %v", err)
	}
	n, err := s.DeleteBefore(ctx, t0.Add(time.Hour))
	must(t, err)
	if _, err := s.Call(ctx, "e1", false); n != 3 || !errors.Is(err, msg.ErrNotFound) {
		t.Errorf("retention: deleted %d, e1: %v", n, err)
	}
}
