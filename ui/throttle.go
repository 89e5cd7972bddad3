package ui

import (
	"container/list"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// Login throttling, by user name and by source address. After freeFailures
// wrong passwords in a row for one user name, each further attempt must
// wait twice as long as the last (1s, 2s, 4s, ... at most maxLockout); after
// freeAddrFailures in a row from one address (an IPv6 /64), whatever the
// names, the same up to maxAddrLockout. A right password resets its name
// and address.
//
// What an attacker can make the server hold is bounded: names are at most
// 64 bytes (longer ones are refused before they get here) and are kept as
// their SHA-256; names no user has and addresses are kept for the
// maxThrottled most recent of each, the oldest dropped first. A user's own
// name is kept apart and never dropped, so no flood of other names can end
// a real account's lockout.
const (
	freeFailures     = 5
	maxLockout       = 15 * time.Minute
	freeAddrFailures = 20
	maxAddrLockout   = time.Minute
	maxThrottled     = 10000 // names no user has, and addresses, kept
	lockoutFactor    = time.Second
)

type throttle struct {
	mu       sync.Mutex
	accounts table // names of users
	others   table // names no user has
	addrs    table // source addresses
}

// throttleKey is what a table keys a name or an address by. It is told
// to the other ui processes in hex.
type throttleKey [sha256.Size]byte

// MarshalText implements encoding.TextMarshaler.
func (k throttleKey) MarshalText() ([]byte, error) {
	return hex.AppendEncode(nil, k[:]), nil
}

// UnmarshalText implements encoding.TextUnmarshaler: 64 hex digits.
func (k *throttleKey) UnmarshalText(b []byte) error {
	if len(b) != 2*len(k) {
		return fmt.Errorf("ui: throttle key of %d characters, want %d hex digits", len(b), 2*len(k))
	}
	_, err := hex.Decode(k[:], b)
	return err
}

// table counts failures in a row per key, the most recent first.
type table struct {
	m     map[throttleKey]*list.Element // of *failures
	order list.List
}

type failures struct {
	key   throttleKey
	n     int
	until time.Time
}

func nameKey(name string) throttleKey { return sha256.Sum256([]byte(name)) }

func addrKey(a netip.Addr) throttleKey {
	b, _ := a.MarshalBinary() // never fails
	return sha256.Sum256(b)
}

// sourceAddr is the address a request came from, an IPv6 one as its /64
// (one host has them all); the zero Addr when RemoteAddr is not one.
func sourceAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	a := ap.Addr().Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64) // never fails for an IPv6 address
		a = p.Addr()
	}
	return a
}

// wait says how long a login as name from addr must wait (0: go on).
func (t *throttle) wait(name string, addr netip.Addr, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := nameKey(name)
	return max(t.accounts.wait(k, now), t.others.wait(k, now), t.addrs.wait(addrKey(addr), now))
}

// failed counts a wrong password for name (known: a user has it) from
// addr, and returns it as the other ui processes are told of it.
func (t *throttle) failed(name string, known bool, addr netip.Addr, now time.Time) loginOutcome {
	o := loginOutcome{Name: nameKey(name), Addr: addrKey(addr), Known: known}
	t.heard(o, now)
	return o
}

// succeeded forgets the failures of name and addr, and returns the login
// as the other ui processes are told of it.
func (t *throttle) succeeded(name string, addr netip.Addr) loginOutcome {
	o := loginOutcome{Name: nameKey(name), Addr: addrKey(addr), OK: true}
	t.heard(o, time.Time{})
	return o
}

// heard takes a login's outcome, this process's or another's.
func (t *throttle) heard(o loginOutcome, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if o.OK {
		t.accounts.forget(o.Name)
		t.others.forget(o.Name)
		t.addrs.forget(o.Addr)
		return
	}
	names, bound := &t.accounts, 0
	if !o.Known {
		names, bound = &t.others, maxThrottled
	}
	names.failed(o.Name, now, freeFailures, maxLockout, bound)
	t.addrs.failed(o.Addr, now, freeAddrFailures, maxAddrLockout, maxThrottled)
}

func (tb *table) wait(k throttleKey, now time.Time) time.Duration {
	e, ok := tb.m[k]
	if !ok {
		return 0
	}
	if f := e.Value.(*failures); now.Before(f.until) {
		return f.until.Sub(now)
	}
	return 0
}

// failed counts a failure for k: after free of them in a row, a lockout
// doubling from lockoutFactor up to most. With bound > 0 the table then
// keeps only the bound most recently failed keys.
func (tb *table) failed(k throttleKey, now time.Time, free int, most time.Duration, bound int) {
	if tb.m == nil {
		tb.m = map[throttleKey]*list.Element{}
	}
	e, ok := tb.m[k]
	if ok {
		tb.order.MoveToFront(e)
	} else {
		e = tb.order.PushFront(&failures{key: k})
		tb.m[k] = e
	}
	f := e.Value.(*failures)
	f.n++
	if f.n >= free {
		d := lockoutFactor << min(f.n-free, 20)
		f.until = now.Add(min(d, most))
	}
	for bound > 0 && tb.order.Len() > bound {
		e := tb.order.Back()
		delete(tb.m, e.Value.(*failures).key)
		tb.order.Remove(e)
	}
}

func (tb *table) forget(k throttleKey) {
	if e, ok := tb.m[k]; ok {
		delete(tb.m, k)
		tb.order.Remove(e)
	}
}
