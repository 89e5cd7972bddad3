package storetest

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/msg"
	"github.com/earshot-dev/earshot/store"
)

// BenchCorpus is the corpus every store is benchmarked on: 10,000 calls of
// 100 turns (EARSHOT_BENCH_CALLS changes the number of calls).
func BenchCorpus(b *testing.B) Corpus {
	calls := 10000
	if v := os.Getenv("EARSHOT_BENCH_CALLS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			b.Fatalf("EARSHOT_BENCH_CALLS=%q: want a positive number", v)
		}
		calls = n
	}
	return Corpus{Seed: 1, Calls: calls, SegmentsPerCall: 100, Agents: 200, Queues: 8, Days: 90,
		End: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
}

// BenchSearchPhraseTwoFilters measures a phrase with two filters (an agent
// and a 30-day window) on r, filled with c, and reports p50 and p95
// latency and the calls found per query.
func BenchSearchPhraseTwoFilters(b *testing.B, r store.Reader, c Corpus) {
	ctx := context.Background()
	phrases := []string{`"cancel my subscription"`, `"speak to a manager"`, `"charged twice"`, `"billing error"`, `"refund please"`}
	rng := rand.New(rand.NewPCG(7, 7))
	var lat []time.Duration
	hits := 0
	for b.Loop() {
		from := c.End.Add(-time.Duration(rng.IntN(60)+30) * 24 * time.Hour)
		to := from.Add(30 * 24 * time.Hour)
		q := msg.SearchQuery{Text: phrases[rng.IntN(len(phrases))], Agent: Agent(rng.IntN(c.Agents)), From: &from, To: &to}
		t := time.Now()
		res, err := r.Search(ctx, q)
		lat = append(lat, time.Since(t))
		if err != nil {
			b.Fatal(err)
		}
		hits += res.Total
	}
	slices.Sort(lat)
	ms := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(ms(0.50), "p50-ms")
	b.ReportMetric(ms(0.95), "p95-ms")
	b.ReportMetric(float64(hits)/float64(len(lat)), "calls/query")
}

// PutBenchCalls writes every call of c, with its sentiment, through the
// store's own writes. (The stores' benchmarks then insert the segments in
// bulk, each in its own way: the archiver's one-per-transaction path would
// make the build far longer, and BenchmarkPutSegment measures it.)
func PutBenchCalls(ctx context.Context, w store.Writer, c Corpus) error {
	return c.Each(func(ev msg.CallEvent, segs []msg.StoredSegment) error {
		if err := w.PutCall(ctx, ev); err != nil {
			return err
		}
		return w.PutCallSentiment(ctx, msg.CallSentiment{CallID: ev.CallID, AtMS: 1, Final: true, Participants: map[msg.Role]msg.ParticipantSentiment{
			msg.RoleCustomer: {Overall: segs[1].Sentiment.Compound * 5, Shift: segs[3].Sentiment.Compound * 2},
			msg.RoleAgent:    {Overall: segs[0].Sentiment.Compound * 5}}})
	})
}

// WorstQueries are the costliest searches the query syntax allows: the
// issue's 1,023 bytes of "a a a ...", 32 common words that must all
// match, and 32 common two-letter prefixes of which any may.
var WorstQueries = []string{
	strings.TrimSpace(strings.Repeat("a ", 512)),
	"i you the to my a can your for is this me have of on that please help with and account it today let calling thank order refund card bill plan there",
	"th* OR yo* OR my* OR ca* OR pl* OR re* OR ac* OR or* OR bi* OR se* OR su* OR ma* OR he* OR wi* OR an* OR to* OR is* OR it* OR fo* OR le* OR no* OR wh* OR ch* OR in* OR co* OR pr* OR ne* OR we* OR da* OR mo* OR de* OR ha*",
}

// BenchSearchWorst runs WorstQueries on r in turn, without filters, and
// reports the longest a search took to answer or be refused, and how many
// were refused as bad queries (over a limit).
func BenchSearchWorst(b *testing.B, r store.Reader) {
	ctx := context.Background()
	took := make([]time.Duration, len(WorstQueries)) // the longest of each
	errs := make([]error, len(WorstQueries))
	i, refused := 0, 0
	for b.Loop() {
		k := i % len(WorstQueries)
		i++
		t := time.Now()
		_, err := r.Search(ctx, msg.SearchQuery{Text: WorstQueries[k]})
		took[k] = max(took[k], time.Since(t))
		if errors.Is(err, msg.ErrBadQuery) {
			refused++
			errs[k] = err
		} else if err != nil {
			b.Fatal(err)
		}
	}
	for k, q := range WorstQueries {
		b.Logf("%.40q...: %s %v", q, took[k].Round(time.Millisecond), errs[k])
	}
	b.ReportMetric(float64(slices.Max(took).Microseconds())/1000, "max-ms")
	b.ReportMetric(float64(refused), "refused")
}
