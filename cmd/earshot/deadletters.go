package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/earshot-dev/earshot/bus"
	"github.com/earshot-dev/earshot/msg"
)

const deadLettersUsage = `usage: earshot deadletters list [--nats URL] [--stage S] [--json]
       earshot deadletters replay [--nats URL] [--stage S] (SEQ... | --all)`

// deadLettersCmd is earshot deadletters: list what the stages gave up on,
// or publish it again to where it came from.
func deadLettersCmd(ctx context.Context, args []string, std stdio) error {
	if len(args) == 0 {
		return badInputf("no subcommand\n%s", deadLettersUsage)
	}
	sub := args[0]
	fs := flag.NewFlagSet("earshot deadletters "+sub, flag.ContinueOnError)
	fs.SetOutput(std.err)
	fs.Usage = func() {
		fmt.Fprintln(std.err, deadLettersUsage)
		fs.PrintDefaults()
	}
	natsURL := fs.String("nats", "nats://127.0.0.1:4222", "NATS server or cluster URL")
	stage := fs.String("stage", "", "only the dead letters of this stage (asr, store, sentiment, rules)")
	var asJSON, all *bool
	switch sub {
	case "list":
		asJSON = fs.Bool("json", false, "one JSON object per line")
	case "replay":
		all = fs.Bool("all", false, "replay every dead letter (of --stage)")
	case "-h", "--help", "help":
		fmt.Fprintln(std.err, deadLettersUsage)
		return flag.ErrHelp
	default:
		return badInputf("unknown subcommand %q\n%s", sub, deadLettersUsage)
	}
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	var seqs []uint64
	for _, a := range fs.Args() {
		n, err := strconv.ParseUint(a, 10, 64)
		if sub == "list" || err != nil || n == 0 {
			if sub == "list" {
				return badInputf("list takes no arguments, got %q\n%s", a, deadLettersUsage)
			}
			return badInputf("%q is not a dead letter's number (the SEQ column of earshot deadletters list)", a)
		}
		seqs = append(seqs, n)
	}
	if sub == "replay" && (len(seqs) == 0) == !*all {
		return badInputf("replay: give either the numbers of dead letters or --all\n%s", deadLettersUsage)
	}
	conn, err := bus.Connect(ctx, *natsURL, "earshot-deadletters", slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer conn.Close()
	if sub == "replay" && !*all {
		return replayDeadLetters(ctx, conn, seqs, std.out)
	}
	dls, err := bus.DeadLetters(ctx, conn.JS, *stage)
	if err != nil {
		return err
	}
	if sub == "list" {
		return listDeadLetters(dls, *asJSON, time.Now(), std.out)
	}
	for _, d := range dls {
		seqs = append(seqs, d.Seq)
	}
	return replayDeadLetters(ctx, conn, seqs, std.out)
}

// deadLetterRow is a dead letter as list --json prints it (without its payload).
type deadLetterRow struct {
	Seq        uint64    `json:"seq"`
	Stage      string    `json:"stage"`
	Subject    string    `json:"subject"`
	CallID     string    `json:"call_id,omitempty"`
	AgeSeconds int64     `json:"age_seconds"`
	Time       time.Time `json:"time"`
	Deliveries int       `json:"deliveries"`
	MsgID      string    `json:"msg_id,omitempty"`
	Reason     string    `json:"reason"`
}

func listDeadLetters(dls []bus.StoredDeadLetter, asJSON bool, now time.Time, out io.Writer) error {
	rows := make([]deadLetterRow, len(dls))
	for i, d := range dls {
		call, _ := msg.CallFromSubject(d.Subject)
		rows[i] = deadLetterRow{Seq: d.Seq, Stage: d.Stage, Subject: d.Subject, CallID: call, AgeSeconds: int64(now.Sub(d.Time).Seconds()),
			Time: d.Time, Deliveries: d.Deliveries, MsgID: d.MsgID, Reason: d.Reason}
	}
	if asJSON {
		enc := json.NewEncoder(out)
		for _, r := range rows {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	}
	if len(rows) == 0 {
		_, err := fmt.Fprintln(out, "no dead letters")
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tSTAGE\tAGE\tCALL\tSUBJECT\tREASON")
	for _, r := range rows {
		call := r.CallID
		if call == "" {
			call = "-"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", r.Seq, r.Stage, age(now.Sub(r.Time)), call, r.Subject, r.Reason)
	}
	return tw.Flush()
}

// age is a duration as a person reads it: 45s, 12m, 3h20m, 4d2h.
func age(d time.Duration) string {
	switch d = max(d, 0); {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
}

// replayDeadLetters replays each of seqs, going on past failures, and
// fails if any failed.
func replayDeadLetters(ctx context.Context, conn *bus.Conn, seqs []uint64, out io.Writer) error {
	var failed []error
	for _, seq := range seqs {
		d, err := bus.ReplayDeadLetter(ctx, conn.JS, seq)
		if err != nil {
			if errors.Is(err, bus.ErrNoDeadLetter) {
				err = badInput(err)
			}
			failed = append(failed, err)
			continue
		}
		fmt.Fprintf(out, "replayed %d to %s\n", seq, d.Subject)
	}
	if len(seqs) == 0 {
		fmt.Fprintln(out, "no dead letters")
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d not replayed: %w", len(failed), len(seqs), errors.Join(failed...))
	}
	return nil
}
