package record

import (
	"context"
	"log/slog"
	"strings"
	"time"
)

// DeleteBefore deletes the sealed recordings (original and redacted, and
// the spans masked) written before cutoff and says how many it deleted.
func DeleteBefore(ctx context.Context, st Store, cutoff time.Time) (int, error) {
	infos, err := st.List(ctx, "")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, in := range infos {
		sealed := strings.HasSuffix(in.Name, "/original.wav") || strings.HasSuffix(in.Name, "/redacted.wav") || strings.HasSuffix(in.Name, "/mask.json")
		if !sealed || !in.ModTime.Before(cutoff) {
			continue
		}
		if err := st.Delete(ctx, in.Name); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// Retain deletes recordings older than days now and every hour until ctx
// ends; days 0 keeps everything.
func Retain(ctx context.Context, st Store, days int, log *slog.Logger) {
	if days <= 0 {
		return
	}
	tick := time.NewTicker(time.Hour)
	defer tick.Stop()
	for {
		cutoff := time.Now().Add(-time.Duration(days) * 24 * time.Hour)
		if n, err := DeleteBefore(ctx, st, cutoff); err != nil && ctx.Err() == nil {
			log.Error("record: retention pass failed", "err", err)
		} else if n > 0 {
			log.Info("record: retention deleted old recordings", "recordings", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
