package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/msg"
	"github.com/earshot-dev/earshot/store"
)

// DashboardCorpus is the corpus dashboards are benchmarked on: 100,000
// calls without segments (the dashboard reads none), 200 agents, 8 queues,
// 90 days (EARSHOT_BENCH_CALLS changes the number of calls).
func DashboardCorpus(b *testing.B) Corpus {
	calls := 100000
	if v := os.Getenv("EARSHOT_BENCH_CALLS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			b.Fatalf("EARSHOT_BENCH_CALLS=%q: want a positive number", v)
		}
		calls = n
	}
	return Corpus{Seed: 3, Calls: calls, Agents: 200, Queues: 8, Days: 90,
		End: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
}

var (
	benchCategories = []string{"refund", "cancellation", "escalation", "billing-error", "upsell", "complaint"}
	benchAlerts     = []string{"angry customer", "long silence", "manager requested", "no greeting"}
)

// DashboardCorpusDir is where store/sqlite keeps the dashboard corpus c
// (the database and, once built, a file named complete).
func DashboardCorpusDir(c Corpus) string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("earshot-dashboard-v3-%d-%d", c.Seed, c.Calls))
}

// PutDashboardCalls writes every call of c as the archiver would, through
// the store's own writes, 500 calls to a transaction when w is a
// store.Batcher: its start and end, the final sentiment and
// characteristics, up to two categories and up to two alerts, and survey
// answers (1-5 and 0-10, before the end) for half of them.
func PutDashboardCalls(ctx context.Context, w store.Writer, c Corpus) error {
	bw, ok := w.(store.Batcher)
	if !ok {
		return putDashboardCalls(ctx, w, c, 0, c.Calls)
	}
	for first := 0; first < c.Calls; first += 500 {
		if err := bw.Batch(ctx, func(ctx context.Context) error {
			return putDashboardCalls(ctx, w, c, first, min(first+500, c.Calls))
		}); err != nil {
			return err
		}
	}
	return nil
}

// putDashboardCalls writes calls [first, end) of c.
func putDashboardCalls(ctx context.Context, w store.Writer, c Corpus, first, end int) error {
	rng := rand.New(rand.NewPCG(c.Seed, 17))
	i := -1
	return c.Each(func(ev msg.CallEvent, _ []msg.StoredSegment) error {
		// Every call draws its figures, so a call's are the same whichever
		// batch writes it.
		i++
		dur := int64(60000 + rng.IntN(600000))
		agentPct, custPct, nInts := int64(30+rng.IntN(40)), int64(50+rng.IntN(40)), rng.IntN(5)
		seed := rng.Uint64()
		if i < first || i >= end {
			return nil
		}
		rng := rand.New(rand.NewPCG(seed, 17))
		if err := w.PutCall(ctx, ev); err != nil {
			return err
		}
		agentTalk := dur * agentPct / 100
		customerTalk := (dur - agentTalk) * custPct / 100
		var ints []msg.Interruption
		for i := range nInts {
			by, of := msg.RoleAgent, msg.RoleCustomer
			if rng.IntN(2) == 0 {
				by, of = of, by
			}
			ints = append(ints, msg.Interruption{By: by, Of: of, StartMS: int64(i) * 10000, EndMS: int64(i)*10000 + 800})
		}
		if err := w.PutCharacteristics(ctx, msg.Characteristics{CallID: ev.CallID, AtMS: dur, Final: true,
			TalkMS:    map[msg.Role]int64{msg.RoleAgent: agentTalk, msg.RoleCustomer: customerTalk},
			NonTalkMS: dur - agentTalk - customerTalk, Interruptions: ints,
			TalkSpeedWPM: map[msg.Role]float64{msg.RoleAgent: 120 + rng.Float64()*60, msg.RoleCustomer: 110 + rng.Float64()*60}}); err != nil {
			return err
		}
		if err := w.PutCallSentiment(ctx, msg.CallSentiment{CallID: ev.CallID, AtMS: dur, Final: true, Participants: map[msg.Role]msg.ParticipantSentiment{
			msg.RoleCustomer: {Overall: rng.Float64()*10 - 5, Shift: rng.Float64()*6 - 3},
			msg.RoleAgent:    {Overall: rng.Float64()*4 - 1}}}); err != nil {
			return err
		}
		var cats []msg.Category
		for range rng.IntN(3) {
			k := benchCategories[rng.IntN(len(benchCategories))]
			cats = append(cats, msg.Category{Name: k, RuleID: k})
		}
		if len(cats) > 0 {
			if err := w.PutCategories(ctx, msg.Categories{CallID: ev.CallID, Categories: cats}); err != nil {
				return err
			}
		}
		for i := range rng.IntN(3) {
			a := benchAlerts[rng.IntN(len(benchAlerts))]
			if err := w.PutAlert(ctx, msg.Alert{ID: fmt.Sprintf("%s/%d", ev.CallID, i), CallID: ev.CallID, RuleID: a, RuleName: a,
				Severity: "warning", AtMS: int64(i) * 30000, Time: ev.StartedAt.Add(time.Duration(i) * 30 * time.Second)}); err != nil {
				return err
			}
		}
		// Capture publishes a survey's answers before the call's end.
		if rng.IntN(2) == 0 {
			if err := w.PutSurvey(ctx, msg.SurveyResult{CallID: ev.CallID, Survey: "post-call", Answers: []msg.SurveyAnswer{
				{Question: "satisfied", Scale: msg.ScaleCSAT, Value: 1 + rng.IntN(5), AtMS: dur - 10000},
				{Question: "recommend", Scale: msg.ScaleNPS, Value: rng.IntN(11), AtMS: dur - 5000}}}); err != nil {
				return err
			}
		}
		return w.PutCall(ctx, msg.CallEvent{CallID: ev.CallID, Kind: msg.CallEnded, Time: ev.StartedAt.Add(time.Duration(dur) * time.Millisecond),
			StartedAt: ev.StartedAt, DurationMS: dur, Reason: msg.EndBye})
	})
}

// BenchDashboard runs the dashboards supervisors ask for most in turn on r,
// filled with c: the last 30 days by day overall and by queue, the last 90
// days by week per agent (200 rows a week), and one agent's 90 days by
// day. It reports p50 and p95 latency over all of them and each one's
// worst.
func BenchDashboard(b *testing.B, r store.Reader, c Corpus) {
	ctx := context.Background()
	month, quarter := c.End.Add(-30*24*time.Hour), c.End.Add(-91*24*time.Hour)
	queries := []struct {
		name string
		q    msg.DashboardQuery
	}{
		{"30d-day-overall", msg.DashboardQuery{From: month, To: c.End}},
		{"30d-day-queue", msg.DashboardQuery{From: month, To: c.End, GroupBy: msg.GroupQueue}},
		{"90d-week-agent", msg.DashboardQuery{From: quarter, To: c.End, Step: msg.StepWeek, GroupBy: msg.GroupAgent}},
		{"90d-day-one-agent", msg.DashboardQuery{From: quarter, To: c.End, Agent: Agent(7)}},
	}
	var lat []time.Duration
	per := make([][]time.Duration, len(queries))
	i := 0
	for b.Loop() {
		k := i % len(queries)
		i++
		t := time.Now()
		d, err := r.Dashboard(ctx, queries[k].q)
		took := time.Since(t)
		if err != nil {
			b.Fatal(err)
		}
		if len(d.Rows) == 0 {
			b.Fatalf("%s: no rows", queries[k].name)
		}
		lat = append(lat, took)
		per[k] = append(per[k], took)
	}
	// at is the p-th quantile of the sorted ds.
	at := func(ds []time.Duration, p float64) time.Duration { return ds[int(p*float64(len(ds)-1))] }
	for k, q := range queries {
		if ds := per[k]; len(ds) > 0 {
			slices.Sort(ds)
			b.Logf("%s: %d ops, p50 %s, p95 %s, worst %s", q.name, len(ds), at(ds, 0.50).Round(time.Millisecond/10),
				at(ds, 0.95).Round(time.Millisecond/10), ds[len(ds)-1].Round(time.Millisecond/10))
		}
	}
	slices.Sort(lat)
	ms := func(p float64) float64 { return float64(at(lat, p).Microseconds()) / 1000 }
	b.ReportMetric(ms(0.50), "p50-ms")
	b.ReportMetric(ms(0.95), "p95-ms")
}
