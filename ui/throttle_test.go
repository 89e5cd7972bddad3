package ui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"
)

// heapInUse is the live heap after a full collection.
func heapInUse() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// hostileLogin sends one failed login with a user name of almost 1 MiB
// (unique by i; the whole body is just under 1 MiB).
func hostileLogin(t testing.TB, c *client, i int) int {
	name := fmt.Sprintf("%d-%s", i, strings.Repeat("x", 1<<20-100))
	b, _ := json.Marshal(map[string]string{"name": name, "password": "guess-guess-guess"})
	resp, err := c.hc.Post(c.base+"/api/ui/login", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestLoginLongNamesHoldNothing: failed logins with 1 MiB user names are
// refused at the door and leave nothing behind.
func TestLoginLongNamesHoldNothing(t *testing.T) {
	ts := startTestServer(t, Config{})
	c := ts.anonymous(t)
	before := heapInUse()
	const n = 40
	for i := range n {
		if code := hostileLogin(t, c, i); code != http.StatusRequestEntityTooLarge {
			t.Fatalf("login %d with a 1 MiB name: %d, want 413", i, code)
		}
	}
	if grown := int64(heapInUse()) - int64(before); grown > 4<<20 {
		t.Fatalf("%d failed logins with 1 MiB names left the heap %.1f MiB bigger", n, float64(grown)/(1<<20))
	}
	ts.login(t, "ann")
}

// BenchmarkHostileLogins: failed logins with 1 MiB user names through the
// HTTP handler, each with another name (as in issue 11: 300 of them held
// 440 MB); it reports what the server still holds after them.
func BenchmarkHostileLogins(b *testing.B) {
	ts := startTestServer(b, Config{})
	c := ts.anonymous(b)
	before := heapInUse()
	codes := map[int]int{}
	i := 0
	for b.Loop() {
		codes[hostileLogin(b, c, i)]++
		i++
	}
	b.StopTimer()
	b.ReportMetric(float64(int64(heapInUse())-int64(before))/1e6, "MB-held")
	b.Logf("%d logins: status %v", i, codes)
}

// TestLoginThrottledByAddress: wrong passwords for many names from one
// address make its next attempts wait, even with a right password; other
// addresses are not affected, and a right password resets the address.
func TestLoginThrottledByAddress(t *testing.T) {
	ts := startTestServer(t, Config{})
	c := ts.anonymous(t)
	for i := range freeAddrFailures {
		if resp, b := c.do("POST", "/api/ui/login", map[string]string{"name": fmt.Sprintf("guess-%d", i), "password": "guess-guess-guess"}, nil); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d %s, want 401", i+1, resp.StatusCode, b)
		}
	}
	resp, b := c.do("POST", "/api/ui/login", map[string]string{"name": "ann", "password": testPassword}, nil)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("after %d failures from one address: %d %s, want 429 with Retry-After", freeAddrFailures, resp.StatusCode, b)
	}

	// source is the address a request from remote is counted under.
	source := func(remote string) netip.Addr {
		r := httptest.NewRequest("POST", "/", nil)
		r.RemoteAddr = remote
		return sourceAddr(r)
	}
	var th throttle
	now := time.Now()
	a := source("192.0.2.7:4000")
	for _, addr := range []netip.Addr{a, source("[2001:db8:1:2::1]:4000")} {
		for i := range freeAddrFailures {
			th.failed(fmt.Sprintf("n%d", i), false, addr, now)
		}
	}
	if d := th.wait("ann", a, now); d != time.Second {
		t.Errorf("address after %d failures: wait %s, want 1s", freeAddrFailures, d)
	}
	if d := th.wait("ann", source("192.0.2.8:4000"), now); d != 0 {
		t.Errorf("another address waits %s", d)
	}
	if d := th.wait("ann", source("[2001:db8:1:2:ffff::9]:5000"), now); d != time.Second {
		t.Errorf("an address in the same IPv6 /64: wait %s, want 1s", d)
	}
	for range 100 {
		th.failed("x", false, a, now)
	}
	if d := th.wait("ann", a, now); d != maxAddrLockout {
		t.Errorf("wait %s, want the cap %s", d, maxAddrLockout)
	}
	th.succeeded("ann", a)
	if d := th.wait("ann", a, now); d != 0 {
		t.Errorf("after a right password the address waits %s", d)
	}
}

// TestLockoutSurvivesFlood: failed logins with any number of other names,
// from any number of addresses, neither grow the tables past their bound
// nor end a real account's lockout (they used to reset it at 10,000).
func TestLockoutSurvivesFlood(t *testing.T) {
	var th throttle
	now := time.Now()
	admin := netip.MustParseAddr("198.51.100.1")
	for range freeFailures + 3 {
		th.failed("root", true, admin, now)
	}
	th.succeeded("nobody", admin) // the admin's own address may log in again
	for i := range 3 * maxThrottled {
		th.failed(fmt.Sprintf("flood-%d", i), false, netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), now)
	}
	if d := th.wait("root", admin, now); d != 8*time.Second {
		t.Fatalf("root's lockout after the flood: %s, want 8s", d)
	}
	if n, m := len(th.others.m), len(th.addrs.m); n != maxThrottled || m != maxThrottled || th.others.order.Len() != n || th.addrs.order.Len() != m {
		t.Fatalf("tables hold %d names and %d addresses, want %d each", n, m, maxThrottled)
	}
	// The flood's most recent names are still counted.
	last := fmt.Sprintf("flood-%d", 3*maxThrottled-1)
	for range freeFailures - 1 {
		th.failed(last, false, admin, now)
	}
	if d := th.wait(last, netip.MustParseAddr("203.0.113.5"), now); d != time.Second {
		t.Fatalf("a flooded name after %d failures waits %s, want 1s", freeFailures, d)
	}
}

// BenchmarkThrottleFlood: failed logins with 64-byte names, each name and
// address new, as a flood from many addresses would send them; it reports
// the cost of one and what the throttle holds once both bounded tables
// are full.
func BenchmarkThrottleFlood(b *testing.B) {
	var th throttle
	now := time.Now()
	pad := strings.Repeat("x", 56)
	before := heapInUse()
	i := 0
	for b.Loop() {
		th.failed(fmt.Sprintf("%08d%s", i, pad), false, netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), now)
		i++
	}
	b.StopTimer()
	if i >= maxThrottled {
		b.ReportMetric(float64(int64(heapInUse())-int64(before))/1e6, "MB-held")
	}
	runtime.KeepAlive(&th)
}
