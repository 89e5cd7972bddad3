package ui

import (
	"sync"
	"time"
)

// Login throttling: after freeFailures wrong passwords in a row for one
// user name, each further attempt must wait twice as long as the last
// (1s, 2s, 4s, ... at most maxLockout). A right password resets it.
const (
	freeFailures  = 5
	maxLockout    = 15 * time.Minute
	maxThrottled  = 10000 // names tracked; beyond it the table starts over
	lockoutFactor = time.Second
)

type throttle struct {
	mu    sync.Mutex
	names map[string]*failures
}

type failures struct {
	n     int
	until time.Time
}

// wait says how long name must wait before the next attempt (0: go on).
func (t *throttle) wait(name string, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	f, ok := t.names[name]
	if !ok || !now.Before(f.until) {
		return 0
	}
	return f.until.Sub(now)
}

func (t *throttle) failed(name string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.names == nil || len(t.names) >= maxThrottled {
		t.names = map[string]*failures{}
	}
	f, ok := t.names[name]
	if !ok {
		f = &failures{}
		t.names[name] = f
	}
	f.n++
	if f.n >= freeFailures {
		d := lockoutFactor << min(f.n-freeFailures, 20)
		f.until = now.Add(min(d, maxLockout))
	}
}

func (t *throttle) succeeded(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.names, name)
}
