package rules

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/earshot-dev/earshot/msg"
)

// SignatureHeader carries a webhook body's signature:
// "sha256=" + hex(HMAC-SHA256(secret, body)).
const SignatureHeader = "X-Earshot-Signature"

// DeliveryHeader carries a webhook delivery's id, the same on every retry,
// so a receiver can drop duplicates.
const DeliveryHeader = "X-Earshot-Delivery"

// Sign returns the SignatureHeader value for body.
func Sign(secret, body []byte) string {
	h := hmac.New(sha256.New, secret)
	h.Write(body)
	return "sha256=" + hex.EncodeToString(h.Sum(nil))
}

// message fills an alert message's placeholders.
func message(tmpl string, r *Rule, cs *callState, ms []msg.Match, atMS int64, severity string) string {
	if tmpl == "" {
		tmpl = "{rule}"
		if len(ms) > 0 {
			tmpl = "{rule}: {matched}"
		}
	}
	texts := make([]string, 0, len(ms))
	seen := map[string]bool{}
	for _, m := range ms {
		if !seen[m.Text] {
			seen[m.Text] = true
			texts = append(texts, m.Text)
		}
	}
	at := time.Duration(atMS) * time.Millisecond
	return strings.NewReplacer(
		"{rule}", r.Name,
		"{matched}", strings.Join(texts, ", "),
		"{call}", cs.id,
		"{agent}", cs.agent,
		"{queue}", cs.queue,
		"{time}", fmt.Sprintf("%d:%02d", int(at.Minutes()), int(at.Seconds())%60),
		"{severity}", severity,
	).Replace(tmpl)
}

// errPermanent marks a webhook failure retrying cannot fix (a 4xx answer).
var errPermanent = errors.New("not retried")

// webhookJob is one webhook delivery.
type webhookJob struct {
	hook *WebhookAction
	id   string
	body []byte
}

// deliver POSTs the job's body, retrying with exponential backoff on
// network errors, timeouts and 5xx/408/429 answers.
func deliver(ctx context.Context, client *http.Client, j webhookJob) (attempts int, err error) {
	for attempt := 0; ; attempt++ {
		err = post(ctx, client, j)
		if err == nil || errors.Is(err, errPermanent) || attempt >= j.hook.Retries {
			return attempt + 1, err
		}
		wait := j.hook.Backoff << attempt
		select {
		case <-ctx.Done():
			return attempt + 1, fmt.Errorf("%w (stopped while waiting to retry)", err)
		case <-time.After(wait):
		}
	}
}

func post(ctx context.Context, client *http.Client, j webhookJob) error {
	ctx, cancel := context.WithTimeout(ctx, j.hook.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, j.hook.URL, bytes.NewReader(j.body))
	if err != nil {
		return fmt.Errorf("webhook %s: %w: %w", j.hook.URL, errPermanent, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "earshot-rules")
	req.Header.Set(DeliveryHeader, j.id)
	if len(j.hook.Secret) > 0 {
		req.Header.Set(SignatureHeader, Sign(j.hook.Secret, j.body))
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook %s: %w", j.hook.URL, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return fmt.Errorf("webhook %s: answered %s", j.hook.URL, resp.Status)
	default:
		return fmt.Errorf("webhook %s: answered %s: %w", j.hook.URL, resp.Status, errPermanent)
	}
}
