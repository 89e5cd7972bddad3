package sender

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/earshot-dev/earshot/msg"
	"github.com/nats-io/nats.go"
)

// Announcer declares (or ends) a call to capture.
type Announcer interface {
	Announce(ctx context.Context, a *msg.CallAnnounce) error
}

// ErrRefused: capture answered the announce with an error.
var ErrRefused = errors.New("announce refused")

// NATSAnnouncer announces with a request on msg.SubjectAnnounce.
type NATSAnnouncer struct{ Conn *nats.Conn }

// Announce implements Announcer.
func (n NATSAnnouncer) Announce(ctx context.Context, a *msg.CallAnnounce) error {
	b, err := msg.Marshal(a)
	if err != nil {
		return err
	}
	m, err := n.Conn.RequestWithContext(ctx, msg.SubjectAnnounce, b)
	if err != nil {
		return fmt.Errorf("announce %s over nats: %w", a.CallID, err)
	}
	var r msg.AnnounceReply
	if err := msg.Unmarshal(m.Data, &r); err != nil {
		return fmt.Errorf("announce %s over nats: reply: %w", a.CallID, err)
	}
	if !r.OK {
		return fmt.Errorf("%w: %s", ErrRefused, r.Error)
	}
	return nil
}

// HTTPAnnouncer announces with a POST of the announce as JSON to URL
// (capture's /api/calls/announce). Token, when set, is sent as a bearer token.
type HTTPAnnouncer struct {
	URL    string
	Token  string
	Client *http.Client // nil: http.DefaultClient
}

// Announce implements Announcer.
func (h HTTPAnnouncer) Announce(ctx context.Context, a *msg.CallAnnounce) error {
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("announce %s: %w", a.CallID, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if h.Token != "" {
		req.Header.Set("Authorization", "Bearer "+h.Token)
	}
	cl := h.Client
	if cl == nil {
		cl = http.DefaultClient
	}
	resp, err := cl.Do(req)
	if err != nil {
		return fmt.Errorf("announce %s to %s: %w", a.CallID, h.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var r msg.AnnounceReply
	if err := json.Unmarshal(body, &r); err != nil || resp.StatusCode != http.StatusOK || !r.OK {
		if r.Error == "" {
			r.Error = fmt.Sprintf("%s: %s", resp.Status, bytes.TrimSpace(body))
		}
		return fmt.Errorf("%w: %s: %s", ErrRefused, h.URL, r.Error)
	}
	return nil
}
