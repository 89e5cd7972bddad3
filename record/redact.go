package record

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"time"

	"github.com/earshot-dev/earshot/msg"
	"github.com/zaf/g711"
)

// RedactedName is the recording with personal data silenced, the one
// everyone but admins asking for originals hears.
func RedactedName(call string) string { return call + "/redacted.wav" }

// DefaultPad is how much before and after a masked word is masked too.
const DefaultPad = 100 * time.Millisecond

// MaskSpans returns the spans of a call's recording to mask, in samples,
// sorted and merged: every redacted word of its stored segments (see
// msg.Word.Redacted) and every DTMF digit, widened by pad on each side.
func MaskSpans(rec *msg.CallRecord, pad time.Duration) []Span {
	p := pad.Milliseconds()
	var spans []Span
	add := func(startMS, endMS int64) {
		spans = append(spans, Span{max(0, startMS-p) * sampleRate / 1000, (endMS + p) * sampleRate / 1000})
	}
	for _, s := range rec.Segments {
		for _, w := range s.Words {
			if w.Redacted {
				add(w.StartMS, w.EndMS)
			}
		}
	}
	for _, d := range rec.DTMF {
		add(d.StartMS, d.StartMS+max(d.DurationMS, 40))
	}
	slices.SortFunc(spans, func(a, b Span) int { return int(a.Start - b.Start) })
	var out []Span
	for _, s := range spans {
		if n := len(out); n > 0 && s.Start <= out[n-1].End {
			out[n-1].End = max(out[n-1].End, s.End)
			continue
		}
		out = append(out, s)
	}
	return out
}

// toneByte is the masking tone (1 kHz at -20 dBFS) at sample i.
func toneByte(i int64) byte {
	return g711.EncodeUlawFrame(int16(3277 * math.Sin(2*math.Pi*float64(i%8)/8)))
}

// Redact writes call's redacted recording from its original: both
// channels over spans are silence (or the tone), every other sample is
// the original's, byte for byte.
func Redact(ctx context.Context, st Store, call string, spans []Span, tone bool) error {
	rc, _, err := st.Open(ctx, OriginalName(call), 0)
	if err != nil {
		return err
	}
	defer rc.Close()
	rec, err := ParseWAV(rc)
	if err != nil {
		return fmt.Errorf("record: %s: %w", OriginalName(call), err)
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeRedacted(pw, rc, rec, spans, tone)) }()
	_, err = st.Put(ctx, RedactedName(call), pr)
	pr.CloseWithError(err)
	return err
}

func writeRedacted(w io.Writer, r io.Reader, rec Recording, spans []Span, tone bool) error {
	if _, err := w.Write(wavHeader(rec.Frames, rec.Gaps)); err != nil {
		return err
	}
	buf := make([]byte, 32*1024)
	var frame int64 // of buf[0]
	for frame < rec.Frames {
		n, err := io.ReadFull(r, buf[:min(int64(len(buf)), (rec.Frames-frame)*channels)])
		if err != nil {
			return fmt.Errorf("record: original ends at frame %d of %d: %w", frame, rec.Frames, err)
		}
		end := frame + int64(n)/channels
		for _, s := range spans {
			for f := max(s.Start, frame); f < min(s.End, end); f++ {
				b := silentByte
				if tone {
					b = toneByte(f)
				}
				i := (f - frame) * channels
				buf[i], buf[i+1] = b, b
			}
		}
		if _, err := w.Write(buf[:n]); err != nil {
			return err
		}
		frame = end
	}
	return nil
}

// Calls reads a call's record (the store's Reader does).
type Calls interface {
	Call(ctx context.Context, callID string, original bool) (msg.CallRecord, error)
}

// RedactorConfig configures NewRedactor.
type RedactorConfig struct {
	Store Store
	Calls Calls
	// Policy says whether the original is kept once the redacted
	// recording is written (PolicyRedactedAndOriginal) or deleted.
	Policy Policy
	// Tone masks with a tone rather than silence.
	Tone bool
	// Pad widens each masked span on both sides. Default DefaultPad.
	Pad time.Duration
	// Retry is the wait before another try of a call whose recording is
	// not sealed yet or whose write failed; Attempts bounds the tries.
	// Defaults 5 s and 60.
	Retry    time.Duration
	Attempts int
	Logger   *slog.Logger
	// Done, when set, is called after a call's redacted recording is written.
	Done func(call string)
}

// Redactor writes each call's redacted recording once its transcript is
// final (Enqueue), from the stored segments' redacted words and DTMF.
type Redactor struct {
	cfg   RedactorConfig
	queue chan redactJob
}

type redactJob struct {
	call    string
	attempt int
}

// NewRedactor returns a Redactor.
func NewRedactor(cfg RedactorConfig) (*Redactor, error) {
	if cfg.Store == nil || cfg.Calls == nil {
		return nil, errors.New("record: redactor needs a recording store and the calls")
	}
	if cfg.Policy == "" {
		cfg.Policy = PolicyRedacted
	}
	if cfg.Pad == 0 {
		cfg.Pad = DefaultPad
	}
	if cfg.Retry == 0 {
		cfg.Retry = 5 * time.Second
	}
	if cfg.Attempts == 0 {
		cfg.Attempts = 60
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Redactor{cfg: cfg, queue: make(chan redactJob, 1024)}, nil
}

// Enqueue asks for call's redacted recording; it does not block (a full
// queue drops the call, logged; its original stays for an admin).
func (r *Redactor) Enqueue(call string) {
	select {
	case r.queue <- redactJob{call: call}:
	default:
		r.cfg.Logger.Error("record: redaction queue full, recording not redacted", "call", call)
	}
}

// Run redacts the calls enqueued until ctx ends.
func (r *Redactor) Run(ctx context.Context) error {
	retry := map[string]int{}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case j := <-r.queue:
			if err := r.redact(ctx, j.call); err != nil {
				retry[j.call] = max(retry[j.call], j.attempt) + 1
				if retry[j.call] >= r.cfg.Attempts {
					r.cfg.Logger.Error("record: recording not redacted, giving up", "call", j.call, "err", err)
					delete(retry, j.call)
				} else if len(retry) == 1 {
					timer.Reset(r.cfg.Retry)
				}
				continue
			}
			delete(retry, j.call)
		case <-timer.C:
			for call, n := range retry {
				select {
				case r.queue <- redactJob{call: call, attempt: n}:
				default:
				}
			}
			if len(retry) > 0 {
				timer.Reset(r.cfg.Retry)
			}
		}
	}
}

func (r *Redactor) redact(ctx context.Context, call string) error {
	if CheckName(call) != nil {
		return nil
	}
	rec, err := r.cfg.Calls.Call(ctx, call, false)
	if err != nil {
		return err
	}
	if err := Redact(ctx, r.cfg.Store, call, MaskSpans(&rec, r.cfg.Pad), r.cfg.Tone); err != nil {
		if !errors.Is(err, ErrNotFound) {
			return err
		}
		if _, err2 := r.cfg.Store.Stat(ctx, RedactedName(call)); err2 == nil {
			return nil // done before, its original deleted
		}
		if parts, err2 := r.cfg.Store.List(ctx, partsPrefix(call)); err2 != nil || len(parts) > 0 {
			return err // not sealed yet: tried again
		}
		return nil // nothing was recorded
	}
	if r.cfg.Policy != PolicyRedactedAndOriginal {
		if err := r.cfg.Store.Delete(ctx, OriginalName(call)); err != nil {
			r.cfg.Logger.Error("record: original recording not deleted", "call", call, "err", err)
		}
	}
	r.cfg.Logger.Info("record: recording redacted", "call", call)
	if r.cfg.Done != nil {
		r.cfg.Done(call)
	}
	return nil
}
