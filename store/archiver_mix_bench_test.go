package store_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/bus/bustest"
	"github.com/earshot-dev/earshot/msg"
	"github.com/earshot-dev/earshot/store"
	"github.com/earshot-dev/earshot/store/postgres"
	"github.com/earshot-dev/earshot/store/sqlite"
)

// published is one message of the mix: its subject and envelope, and
// whether it is the result of an utterance job (a segment).
type published struct {
	subject string
	data    []byte
	job     bool
}

// mixCall is what the pipeline publishes on the events stream for one
// call of script (the turns of an examples/calls file), in the order and
// proportions of a 100-call `earshot load` run (counted from its events
// stream, 325 calls): per final utterance job an interim or two before it
// (1.3 on average), its final segment, scored segment and call sentiment,
// and two timeline spans each followed by the characteristics so far; per
// call its start, two updates, an alert and the categories so far after
// the third turn, its end, and the final call sentiment, characteristics
// and categories.
func mixCall(b *testing.B, call string, start time.Time, script []scriptTurn) []published {
	var out []published
	add := func(subject string, m msg.Message) {
		d, err := msg.Marshal(m)
		if err != nil {
			b.Fatal(err)
		}
		_, job := m.(msg.Segment)
		out = append(out, published{subject, d, job})
	}
	legs := []msg.LegInfo{{Role: msg.RoleAgent, SSRC: 2507155332, Source: "127.0.0.1:55613"}, {Role: msg.RoleCustomer, SSRC: 3158021695, Source: "127.0.0.1:34700"}}
	ev := msg.CallEvent{CallID: call, Kind: msg.CallStarted, Time: start, StartedAt: start, Agent: "bob", Queue: "payments", Legs: legs, Intake: "rtp"}
	add(msg.SubjectCall(call), ev)
	ev.Kind = msg.CallUpdated
	add(msg.SubjectCall(call), ev)
	add(msg.SubjectCall(call), ev)
	talk := map[msg.Role]int64{}
	trend := map[msg.Role][]msg.TrendPoint{}
	var turns []msg.TurnLoudness
	chars := func(at int64, final bool) msg.Characteristics {
		return msg.Characteristics{CallID: call, AtMS: at, Final: final, TalkMS: maps.Clone(talk),
			LoudnessDBFS: map[msg.Role]float64{msg.RoleAgent: -21.1, msg.RoleCustomer: -20.4}, Turns: turns,
			TalkSpeedWPM: map[msg.Role]float64{msg.RoleAgent: 204.4, msg.RoleCustomer: 194.4}}
	}
	sentiment := func(at int64, final bool) msg.CallSentiment {
		cs := msg.CallSentiment{CallID: call, AtMS: at, Final: final, Participants: map[msg.Role]msg.ParticipantSentiment{}}
		for role, tr := range trend {
			cs.Participants[role] = msg.ParticipantSentiment{Overall: 1.25, Periods: []float64{2.5, 0, 0, 0}, Current: 1, Turns: len(tr), Trend: tr}
		}
		return cs
	}
	var end int64
	for k, t := range script {
		startMS, endMS := t.AtMS, t.AtMS+int64(300*len(strings.Fields(t.Text)))
		end = endMS
		seg := msg.Segment{ID: fmt.Sprintf("%s/%s/%d/0", call, t.Leg, k+1), CallID: call, Leg: t.Leg, Turn: k + 1,
			StartMS: startMS, EndMS: endMS, Text: t.Text, Language: "en", Confidence: 0.82, Engine: "http", Model: "whisper-1"}
		seg.Words = words(t.Text, startMS, endMS)
		for i := range 1 + k%3/2 {
			in := seg
			in.Interim, in.Rev = true, i+1
			add(msg.SubjectTranscript(call), in)
		}
		talk[t.Leg] += endMS - startMS
		turns = append(turns, msg.TurnLoudness{Leg: t.Leg, StartMS: startMS, EndMS: endMS, LoudnessDBFS: -21.1})
		add(msg.SubjectTimeline(call), msg.TimelineEvent{CallID: call, Kind: msg.SpanSilence, StartMS: startMS - 400, EndMS: startMS})
		add(msg.SubjectCharacteristics(call), chars(startMS, false))
		add(msg.SubjectTranscript(call), seg)
		add(msg.SubjectTimeline(call), msg.TimelineEvent{CallID: call, Kind: msg.SpanTalk, Leg: t.Leg, StartMS: startMS, EndMS: endMS, LoudnessDBFS: -21.1})
		add(msg.SubjectCharacteristics(call), chars(endMS, false))
		add(msg.SubjectScoredSegment(call), msg.ScoredSegment{Segment: seg, Sentiment: msg.Sentiment{Label: "mixed", Compound: 0.1, Pos: 0.2, Neg: 0.2, Neu: 0.6, Language: "en"}})
		trend[t.Leg] = append(trend[t.Leg], msg.TrendPoint{AtMS: endMS, Score: 2.5})
		add(msg.SubjectCallSentiment(call), sentiment(endMS, false))
		if k == 2 {
			add(msg.SubjectAlert(call), msg.Alert{ID: call + "/agent-interrupts/1", CallID: call, RuleID: "agent-interrupts",
				RuleName: "Agent interrupts the customer", Severity: "warning", Message: "bob keeps interrupting the customer", AtMS: endMS, Time: start.Add(time.Duration(endMS) * time.Millisecond)})
			add(msg.SubjectCategories(call), msg.Categories{CallID: call, Categories: []msg.Category{{Name: "Interruptions", RuleID: "agent-interrupts"}}})
		}
	}
	ev.Kind, ev.Time, ev.DurationMS, ev.Reason = msg.CallEnded, start.Add(time.Duration(end)*time.Millisecond), end, "rtcp-bye"
	add(msg.SubjectCall(call), ev)
	add(msg.SubjectCallSentiment(call), sentiment(end, true))
	add(msg.SubjectCharacteristics(call), chars(end, true))
	add(msg.SubjectCategories(call), msg.Categories{CallID: call, Final: true, Categories: []msg.Category{
		{Name: "Interruptions", RuleID: "agent-interrupts"}, {Name: "No closing thanks", RuleID: "no-thanks-at-end"}}})
	return out
}

// words times text's words evenly over [start, end), as the scripted
// transcriber does.
func words(text string, start, end int64) []msg.Word {
	f := strings.Fields(text)
	out := make([]msg.Word, len(f))
	step := (end - start) / int64(len(f))
	for i, w := range f {
		out[i] = msg.Word{Text: w, StartMS: start + int64(i)*step, EndMS: start + int64(i+1)*step}
	}
	return out
}

type scriptTurn struct {
	Leg  msg.Role `json:"leg"`
	AtMS int64    `json:"at_ms"`
	Text string   `json:"text"`
}

// exampleScripts are the turns of the scripted example calls.
func exampleScripts(b *testing.B) [][]scriptTurn {
	files, err := filepath.Glob("../examples/calls/*.json")
	if err != nil || len(files) == 0 {
		b.Fatalf("no example calls: %v", err)
	}
	var out [][]scriptTurn
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		var s struct {
			Turns []scriptTurn `json:"turns"`
		}
		if err := json.Unmarshal(data, &s); err != nil {
			b.Fatalf("%s: %v", f, err)
		}
		out = append(out, s.Turns)
	}
	return out
}

// mixStream is n messages of 200 calls at once, each call's in order and
// the calls interleaved (each starting at a different point of its first
// call, as when the archiver starts with calls in progress), and the
// utterance jobs per message.
func mixStream(b *testing.B, n int) ([]published, float64) {
	const slots = 200
	scripts := exampleScripts(b)
	type slot struct {
		msgs []published
		pos  int
		gen  int
	}
	var ss [slots]slot
	t0 := time.Now().UTC().Truncate(time.Hour).Add(-24 * time.Hour)
	next := func(i int) {
		s := &ss[i]
		call := fmt.Sprintf("mix-%d-%d", i, s.gen)
		s.msgs = mixCall(b, call, t0.Add(time.Duration(s.gen)*time.Minute+time.Duration(i)*time.Second), scripts[(i+s.gen)%len(scripts)])
		s.gen++
		s.pos = 0
	}
	for i := range ss {
		next(i)
		ss[i].pos = i % len(ss[i].msgs)
	}
	out := make([]published, n)
	jobs := 0
	for i := range out {
		s := &ss[i%slots]
		if s.pos == len(s.msgs) {
			next(i % slots)
		}
		out[i] = s.msgs[s.pos]
		s.pos++
		if out[i].job {
			jobs++
		}
	}
	return out, float64(jobs) / float64(n)
}

// BenchmarkArchiverMix is the archiver's throughput, from a real embedded
// NATS, of what the pipeline publishes for 200 calls at once (mixCall:
// interim and final segments, scored segments, call sentiment,
// characteristics, alerts, categories and call events, each call's
// audio redaction read back and published and its CallStored announced
// at its end; timeline spans, which it does not keep, in the stream
// too), into SQLite and, when EARSHOT_TEST_POSTGRES is set, PostgreSQL.
// msgs/s counts the stream's messages, jobs/s the utterance jobs they
// stand for (4.2 messages each).
func BenchmarkArchiverMix(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		s, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(b.TempDir(), sqlite.FileName)})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		benchMix(b, s)
	})
	b.Run("postgres", func(b *testing.B) {
		s := benchPostgres(b)
		defer s.Close()
		benchMix(b, s)
	})
}

func benchMix(b *testing.B, s store.Writer) {
	stream, jobsPerMsg := mixStream(b, b.N)
	want := 0 // the messages of the archiver's subjects
	for _, m := range stream {
		if !strings.HasPrefix(m.subject, "earshot.timeline.") {
			want++
		}
	}
	_, c := bustest.Start(b)
	got := make(chan struct{}, 4096)
	a, err := store.NewArchiver(store.ArchiverConfig{Store: s, OnStored: func(string) { got <- struct{}{} }})
	if err != nil {
		b.Fatal(err)
	}
	bustest.Drive(b, c, func(ctx context.Context) error { return a.Run(ctx, c.JS) },
		func(i int) string { return stream[i].subject }, func(i int) []byte { return stream[i].data }, want, got)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(b.N)*jobsPerMsg/b.Elapsed().Seconds(), "jobs/s")
}

// benchPostgres opens a PostgreSQL store in a new schema of the
// EARSHOT_TEST_POSTGRES database, dropped when b ends; without it, b is
// skipped.
func benchPostgres(b *testing.B) *postgres.Store {
	dsn := os.Getenv("EARSHOT_TEST_POSTGRES")
	if dsn == "" {
		b.Skip("EARSHOT_TEST_POSTGRES is not set: no PostgreSQL server to benchmark")
	}
	ctx := context.Background()
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		b.Fatal(err)
	}
	schema := fmt.Sprintf("earshot_mix_%d_%d", os.Getpid(), time.Now().UnixNano())
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		admin.Close()
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			b.Errorf("drop schema %s: %v", schema, err)
		}
		admin.Close()
	})
	u, err := url.Parse(dsn)
	if err != nil {
		b.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	s, err := postgres.Open(ctx, postgres.Config{DSN: u.String()})
	if err != nil {
		b.Fatal(err)
	}
	return s
}
