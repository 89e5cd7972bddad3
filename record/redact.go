package record

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/earshot-dev/earshot/msg"
	"github.com/zaf/g711"
)

// RedactedName is the recording with personal data silenced, the one
// everyone but admins asking for originals hears.
func RedactedName(call string) string { return call + "/redacted.wav" }

// MaskName is the call's AudioRedaction spans (JSON), kept until the
// call's recording is sealed and masked with them.
func MaskName(call string) string { return call + "/mask.json" }

// DefaultPad is how much before and after a masked word is masked too.
const DefaultPad = 100 * time.Millisecond

// Masked returns the spans of a call's recording to mask, in ms, sorted
// and merged and not padded: every redacted word of its stored segments
// (see msg.Word.Redacted) and every DTMF digit. The store publishes them
// as the call's msg.AudioRedaction.
func Masked(rec *msg.CallRecord) []msg.Span {
	var spans []msg.Span
	for _, s := range rec.Segments {
		for _, w := range s.Words {
			if w.Redacted {
				spans = append(spans, msg.Span{StartMS: w.StartMS, EndMS: w.EndMS})
			}
		}
	}
	for _, d := range rec.DTMF {
		spans = append(spans, msg.Span{StartMS: d.StartMS, EndMS: d.StartMS + max(d.DurationMS, 40)})
	}
	return merge(spans)
}

// MaskSpans returns spans widened by pad on each side, sorted and merged,
// in samples.
func MaskSpans(spans []msg.Span, pad time.Duration) []Span {
	p := pad.Milliseconds()
	padded := make([]msg.Span, len(spans))
	for i, s := range spans {
		padded[i] = msg.Span{StartMS: max(0, s.StartMS-p), EndMS: s.EndMS + p}
	}
	var out []Span
	for _, s := range merge(padded) {
		out = append(out, Span{s.StartMS * sampleRate / 1000, s.EndMS * sampleRate / 1000})
	}
	return out
}

// merge sorts spans and merges those that touch or overlap.
func merge(spans []msg.Span) []msg.Span {
	slices.SortFunc(spans, func(a, b msg.Span) int { return cmp.Compare(a.StartMS, b.StartMS) })
	var out []msg.Span
	for _, s := range spans {
		if n := len(out); n > 0 && s.StartMS <= out[n-1].EndMS {
			out[n-1].EndMS = max(out[n-1].EndMS, s.EndMS)
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

// RedactorConfig configures NewRedactor.
type RedactorConfig struct {
	Store Store
	// Policy says whether the original is kept once the redacted
	// recording is written (PolicyRedactedAndOriginal) or deleted.
	Policy Policy
	// Tone masks with a tone rather than silence.
	Tone bool
	// Pad widens each masked span on both sides. Default DefaultPad.
	Pad    time.Duration
	Logger *slog.Logger
	// Done, when set, is called after a call's redacted recording is written.
	Done func(call string)
}

// Redactor writes each call's redacted recording from the call's
// msg.AudioRedaction (Apply) and its sealed original, whichever comes
// last: the recorder given it applies a kept mask when it seals.
type Redactor struct {
	cfg RedactorConfig
}

// NewRedactor returns a Redactor.
func NewRedactor(cfg RedactorConfig) (*Redactor, error) {
	if cfg.Store == nil {
		return nil, errors.New("record: redactor needs a recording store")
	}
	if cfg.Policy == "" {
		cfg.Policy = PolicyRedacted
	}
	if cfg.Pad == 0 {
		cfg.Pad = DefaultPad
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Redactor{cfg: cfg}, nil
}

// Apply keeps a call's spans to mask (MaskName) and, if its recording is
// sealed, writes the redacted recording now; else the recorder does when
// it seals. An error is worth a retry.
func (r *Redactor) Apply(ctx context.Context, a msg.AudioRedaction) error {
	if CheckName(a.CallID) != nil || strings.Contains(a.CallID, "/") {
		return nil // not a call id a recording is kept under
	}
	b, err := json.Marshal(a.Spans)
	if err != nil {
		return err
	}
	if _, err := r.cfg.Store.Put(ctx, MaskName(a.CallID), bytes.NewReader(b)); err != nil {
		return err
	}
	return r.redact(ctx, a.CallID, a.Spans)
}

// sealed writes the redacted recording of a call just sealed, if its
// spans are kept already.
func (r *Redactor) sealed(ctx context.Context, call string) error {
	rc, _, err := r.cfg.Store.Open(ctx, MaskName(call), 0)
	if errors.Is(err, ErrNotFound) {
		return nil // the call's analysis is not final yet: Apply redacts
	}
	if err != nil {
		return err
	}
	b, err := io.ReadAll(io.LimitReader(rc, 16<<20))
	rc.Close()
	if err != nil {
		return err
	}
	var spans []msg.Span
	if err := json.Unmarshal(b, &spans); err != nil {
		r.cfg.Logger.Error("record: recording not redacted: its mask is unreadable", "call", call, "err", err)
		return nil
	}
	return r.redact(ctx, call, spans)
}

// redact writes call's redacted recording from its original, if sealed.
func (r *Redactor) redact(ctx context.Context, call string, spans []msg.Span) error {
	err := Redact(ctx, r.cfg.Store, call, MaskSpans(spans, r.cfg.Pad), r.cfg.Tone)
	if errors.Is(err, ErrNotFound) {
		return nil // not sealed yet (sealing applies the mask), or redacted before and its original deleted
	}
	if err != nil {
		return err
	}
	if r.cfg.Policy != PolicyRedactedAndOriginal {
		if err := r.cfg.Store.Delete(ctx, OriginalName(call)); err != nil && !errors.Is(err, ErrNotFound) {
			r.cfg.Logger.Error("record: original recording not deleted", "call", call, "err", err)
		}
	}
	r.cfg.Logger.Info("record: recording redacted", "call", call)
	if r.cfg.Done != nil {
		r.cfg.Done(call)
	}
	return nil
}
