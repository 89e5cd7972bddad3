package bus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/earshot-dev/earshot/msg"
	"github.com/nats-io/nats.go/jetstream"
)

// DeadLetter publishes d on its stage's dead-letter subject, where
// StreamDeadLetter keeps it.
func DeadLetter(ctx context.Context, js jetstream.JetStream, d msg.DeadLetter) error {
	b, err := msg.Marshal(d)
	if err != nil {
		return err
	}
	if _, err := js.Publish(ctx, msg.SubjectDeadLetter(d.Stage), b); err != nil {
		return fmt.Errorf("bus: dead letter for %s: %w", d.Subject, err)
	}
	return nil
}

// deadLetter publishes the dead letter of m, which stage gave up on.
func deadLetter(ctx context.Context, js jetstream.JetStream, stage string, m jetstream.Msg, deliveries int, reason error) error {
	d := msg.DeadLetter{
		Stage: stage, Subject: m.Subject(), Reason: reason.Error(),
		Deliveries: deliveries, Time: time.Now().UTC(), Payload: m.Data(),
	}
	if h := m.Headers(); h != nil {
		d.MsgID = h.Get(jetstream.MsgIDHeader)
	}
	return DeadLetter(ctx, js, d)
}

// StoredDeadLetter is a dead letter with its sequence number in
// StreamDeadLetter, which names it for a replay.
type StoredDeadLetter struct {
	Seq uint64
	msg.DeadLetter
}

// DeadLetters returns the dead letters kept, oldest first: all of them, or
// those of stage. One that cannot be decoded is an error naming its
// sequence number.
func DeadLetters(ctx context.Context, js jetstream.JetStream, stage string) ([]StoredDeadLetter, error) {
	st, err := js.Stream(ctx, StreamDeadLetter)
	if err != nil {
		return nil, fmt.Errorf("bus: stream %s: %w", StreamDeadLetter, err)
	}
	filter := msg.AllDeadLetters
	if stage != "" {
		filter = msg.SubjectDeadLetter(stage)
	}
	var out []StoredDeadLetter
	for seq := uint64(1); ; {
		raw, err := st.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(filter))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("bus: dead letters from %d: %w", seq, err)
		}
		d, err := decodeDeadLetter(raw)
		if err != nil {
			return out, err
		}
		out = append(out, d)
		seq = raw.Sequence + 1
	}
}

func decodeDeadLetter(raw *jetstream.RawStreamMsg) (StoredDeadLetter, error) {
	d := StoredDeadLetter{Seq: raw.Sequence}
	if err := msg.Unmarshal(raw.Data, &d.DeadLetter); err != nil {
		return d, fmt.Errorf("bus: dead letter %d on %s: %w", raw.Sequence, raw.Subject, err)
	}
	return d, nil
}

// ErrNoDeadLetter: no dead letter has that sequence number.
var ErrNoDeadLetter = errors.New("no such dead letter")

// ErrReplayDuplicate: the replayed message was dropped as a duplicate,
// because its stream still remembers its message id.
var ErrReplayDuplicate = errors.New("dropped as a duplicate")

// ReplayDeadLetter publishes dead letter seq's message again on its
// original subject, with its original message id, and removes the dead
// letter once the message is stored. The stage takes it from there (and
// dead-letters it again if it fails again).
func ReplayDeadLetter(ctx context.Context, js jetstream.JetStream, seq uint64) (StoredDeadLetter, error) {
	st, err := js.Stream(ctx, StreamDeadLetter)
	if err != nil {
		return StoredDeadLetter{}, fmt.Errorf("bus: stream %s: %w", StreamDeadLetter, err)
	}
	raw, err := st.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return StoredDeadLetter{}, fmt.Errorf("bus: dead letter %d: %w", seq, ErrNoDeadLetter)
	}
	if err != nil {
		return StoredDeadLetter{}, fmt.Errorf("bus: dead letter %d: %w", seq, err)
	}
	d, err := decodeDeadLetter(raw)
	if err != nil {
		return d, err
	}
	if !strings.HasPrefix(d.Subject, "earshot.") || strings.HasPrefix(d.Subject, "earshot.deadletter.") {
		return d, fmt.Errorf("bus: dead letter %d: subject %q is not one to replay to", seq, d.Subject)
	}
	var opts []jetstream.PublishOpt
	if d.MsgID != "" {
		opts = append(opts, jetstream.WithMsgID(d.MsgID))
	}
	ack, err := js.Publish(ctx, d.Subject, d.Payload, opts...)
	if err != nil {
		return d, fmt.Errorf("bus: replay dead letter %d to %s: %w", seq, d.Subject, err)
	}
	if ack.Duplicate {
		window := "its duplicate window"
		if s, err := js.Stream(ctx, ack.Stream); err == nil {
			window = fmt.Sprintf("its duplicate window of %s", s.CachedInfo().Config.Duplicates)
		}
		return d, fmt.Errorf("bus: replay dead letter %d to %s: %w: stream %s has seen message id %q within %s; replay it once that has passed",
			seq, d.Subject, ErrReplayDuplicate, ack.Stream, d.MsgID, window)
	}
	if err := st.DeleteMsg(ctx, seq); err != nil {
		return d, fmt.Errorf("bus: dead letter %d replayed to %s but not removed: %w", seq, d.Subject, err)
	}
	return d, nil
}
