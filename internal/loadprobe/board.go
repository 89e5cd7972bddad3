package loadprobe

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"time"
)

// boardRow is what the probe reads of a live board row.
type boardRow struct {
	CallID string `json:"call_id"`
	Alerts int    `json:"alerts"`
}

// watchBoard logs in to the web view and reads its live board's event
// stream until ctx is done, noting when each call's alert count goes up.
// A stream the web view ends (it drops a browser that falls behind) is
// opened again; its snapshot's counts are taken without a time.
func (p *Probe) watchBoard(ctx context.Context) {
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	base := strings.TrimSuffix(p.cfg.UI, "/")
	for ctx.Err() == nil {
		err := p.readBoard(ctx, client, base)
		if ctx.Err() != nil {
			return
		}
		p.mu.Lock()
		p.uiErrs++
		p.mu.Unlock()
		p.cfg.Logger.Warn("loadprobe: board event stream", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (p *Probe) login(ctx context.Context, client *http.Client, base string) error {
	body, _ := json.Marshal(map[string]string{"name": p.cfg.UIUser, "password": p.cfg.UIPassword})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/ui/login", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("login as %q: %s", p.cfg.UIUser, resp.Status)
	}
	return nil
}

func (p *Probe) readBoard(ctx context.Context, client *http.Client, base string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/ui/live", nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err == nil && resp.StatusCode == http.StatusUnauthorized {
		resp.Body.Close()
		if err = p.login(ctx, client, base); err != nil {
			return err
		}
		resp, err = client.Do(req.Clone(ctx))
	}
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", req.URL, resp.Status)
	}
	p.mu.Lock()
	p.uiConns++
	p.mu.Unlock()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	event := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = line[len("event: "):]
		case strings.HasPrefix(line, "data: "):
			p.onBoard(event, []byte(line[len("data: "):]), time.Now())
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return fmt.Errorf("%s: the stream ended", req.URL)
}

// onBoard takes one event of the board's stream.
func (p *Probe) onBoard(event string, data []byte, now time.Time) {
	var rows []boardRow
	switch event {
	case "row":
		var r boardRow
		if json.Unmarshal(data, &r) != nil {
			return
		}
		rows = []boardRow{r}
	case "snapshot":
		var s struct {
			Rows []boardRow `json:"rows"`
		}
		if json.Unmarshal(data, &s) != nil {
			return
		}
		rows, now = s.Rows, time.Time{} // seen late: no latency
	default:
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range rows {
		for n := p.counts[r.CallID]; n < r.Alerts; n++ {
			p.shown[r.CallID] = append(p.shown[r.CallID], now)
		}
		p.counts[r.CallID] = max(p.counts[r.CallID], r.Alerts)
	}
}
