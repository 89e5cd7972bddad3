package bus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/earshot-dev/earshot/msg"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// LeaseBucket is the key-value bucket that partition leases live in (see
// msg's package documentation, Partitions).
const LeaseBucket = "EARSHOT_LEASES"

// DefaultLeaseTTL is how long a lease lasts unrenewed: a dead owner's
// partitions are taken over this long after its last renewal, and one
// renewal interval (a fifth of it) more at most.
const DefaultLeaseTTL = 5 * time.Second

// Errors of JoinPartitions and Partitions.Run.
var (
	// ErrIdentity: another live process has this process's identity.
	ErrIdentity = errors.New("bus: identity")
	// ErrPartitionCount: the running processes use another partition count.
	ErrPartitionCount = errors.New("bus: partition count")
)

// PartitionConfig configures JoinPartitions.
type PartitionConfig struct {
	// Group names the processes that share the partitions ("analyze").
	Group string
	// Partitions is how many partitions the calls are spread over;
	// default 1 (one process works, the others stand by). It cannot change
	// while any process of the group runs.
	Partitions int
	// Identity names this process in the group: letters, digits, '-', '_'
	// and '.'. Two live processes with one identity are refused.
	Identity string
	// TTL is how long a lease lasts unrenewed; default DefaultLeaseTTL. A
	// lease bucket that exists keeps the TTL it was created with.
	TTL time.Duration
	// Replicas is how many servers keep the lease bucket; default 1.
	Replicas int
	Logger   *slog.Logger
}

var identityRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,128}$`)

// Partitions is this process's share of a group's partitions: the leases
// it holds, and the consumers (ConsumerConfig.Partitions) that run on each
// partition it owns. Run keeps the leases.
type Partitions struct {
	cfg      PartitionConfig
	kv       jetstream.KeyValue
	nonce    string
	member   uint64 // revision of this process's member key
	countRev uint64

	mu    sync.Mutex
	owned map[int]uint64 // partition -> revision of its lease
	users map[*partitionUser]struct{}
}

type partitionUser struct {
	run     func(ctx context.Context, part int) error
	running map[int]*partitionRun
	errs    chan error
}

type partitionRun struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// JoinPartitions joins the group as cfg.Identity: it refuses an identity
// a live process holds (one that a dead process held is taken once its
// lease lapses, waiting as long as that takes) and a partition count other
// than the running processes'. Run takes and keeps partitions.
func JoinPartitions(ctx context.Context, js jetstream.JetStream, cfg PartitionConfig) (*Partitions, error) {
	if cfg.Group == "" || !identityRE.MatchString(cfg.Group) {
		return nil, fmt.Errorf("bus: partition group %q: want letters, digits, '-', '_' or '.'", cfg.Group)
	}
	if !identityRE.MatchString(cfg.Identity) {
		return nil, fmt.Errorf("%w %q: want 1 to 128 letters, digits, '-', '_' or '.'", ErrIdentity, cfg.Identity)
	}
	if cfg.Partitions == 0 {
		cfg.Partitions = 1
	}
	if cfg.Partitions < 1 || cfg.Partitions > 1024 {
		return nil, fmt.Errorf("%w %d: want 1 to 1024", ErrPartitionCount, cfg.Partitions)
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultLeaseTTL
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = 1
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: LeaseBucket, Description: "Earshot partition leases",
		TTL: cfg.TTL, History: 1, Storage: jetstream.MemoryStorage, Replicas: cfg.Replicas,
	})
	if errors.Is(err, jetstream.ErrBucketExists) {
		kv, err = js.KeyValue(ctx, LeaseBucket)
		if err == nil {
			var st jetstream.KeyValueStatus
			if st, err = kv.Status(ctx); err == nil && st.TTL() > 0 {
				cfg.TTL = st.TTL()
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("bus: lease bucket %s: %w", LeaseBucket, err)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	p := &Partitions{cfg: cfg, kv: kv, nonce: hex.EncodeToString(b[:]), owned: map[int]uint64{}, users: map[*partitionUser]struct{}{}}
	if err := p.claimIdentity(ctx); err != nil {
		return nil, err
	}
	if err := p.claimCount(ctx); err != nil {
		_ = kv.Delete(context.WithoutCancel(ctx), p.key("member", cfg.Identity), jetstream.LastRevision(p.member))
		return nil, err
	}
	return p, nil
}

func (p *Partitions) key(kind, name string) string { return p.cfg.Group + "." + kind + "." + name }

func (p *Partitions) countKey() string { return p.cfg.Group + ".partitions" }

// claimIdentity takes the member key. One that exists is another
// process's: if it is renewed meanwhile that process lives, and this one
// is refused; if it lapses, it was a dead process's, and is taken.
func (p *Partitions) claimIdentity(ctx context.Context) error {
	key := p.key("member", p.cfg.Identity)
	deadline := time.Now().Add(p.cfg.TTL + p.cfg.TTL/2)
	var seen uint64
	waited := false
	for {
		rev, err := p.kv.Create(ctx, key, []byte(p.nonce))
		if err == nil {
			p.member = rev
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return fmt.Errorf("bus: lease bucket %s: %w", LeaseBucket, err)
		}
		e, err := p.kv.Get(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			continue // lapsed just now
		case err != nil:
			return fmt.Errorf("bus: lease bucket %s: %w", LeaseBucket, err)
		case seen != 0 && e.Revision() != seen, time.Now().After(deadline):
			return fmt.Errorf("%w %q: another live %s process runs with it (it renews its lease); give each process its own --identity",
				ErrIdentity, p.cfg.Identity, p.cfg.Group)
		}
		seen = e.Revision()
		if !waited {
			waited = true
			p.cfg.Logger.Warn("another process had this identity; waiting for its lease to lapse (it was killed) or be renewed (it runs)",
				"identity", p.cfg.Identity, "ttl", p.cfg.TTL)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(p.cfg.TTL / 10):
		}
	}
}

// claimCount checks the group's partition count against this process's,
// setting it when no process of the group runs.
func (p *Partitions) claimCount(ctx context.Context) error {
	want := strconv.Itoa(p.cfg.Partitions)
	for {
		e, err := p.kv.Get(ctx, p.countKey())
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			rev, err := p.kv.Create(ctx, p.countKey(), []byte(want))
			if errors.Is(err, jetstream.ErrKeyExists) {
				continue // another process set it just now: check it
			}
			if err != nil {
				return fmt.Errorf("bus: lease bucket %s: %w", LeaseBucket, err)
			}
			p.countRev = rev
			return nil
		}
		if err != nil {
			return fmt.Errorf("bus: lease bucket %s: %w", LeaseBucket, err)
		}
		if have := string(e.Value()); have != want {
			return fmt.Errorf("%w: --partitions %s, but the running %s processes use %s; the count cannot change while any of them runs: stop them all, then start each with the new count",
				ErrPartitionCount, want, p.cfg.Group, have)
		}
		p.countRev = e.Revision()
		return nil
	}
}

// Count is the number of partitions.
func (p *Partitions) Count() int { return p.cfg.Partitions }

// Owned lists the partitions this process owns.
func (p *Partitions) Owned() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	owned := make([]int, 0, len(p.owned))
	for part := range p.owned {
		owned = append(owned, part)
	}
	slices.Sort(owned)
	return owned
}

// Owns reports whether this process owns the partition of key (a call id).
func (p *Partitions) Owns(key string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.owned[msg.Partition(key, p.cfg.Partitions)]
	return ok
}

// Run renews this process's leases and takes or gives up partitions for
// an even share among the live processes of the group, starting and
// stopping the consumers of each partition, until ctx is done; then it
// stops them and gives its leases up, for the others to take at once. It
// returns an error when this process lost its identity to another or the
// group's partition count changed.
func (p *Partitions) Run(ctx context.Context) error {
	tick := time.NewTicker(p.cfg.TTL / 5)
	defer tick.Stop()
	defer p.Leave()
	for {
		if err := p.step(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, ErrIdentity) || errors.Is(err, ErrPartitionCount) {
				return err
			}
			p.cfg.Logger.Warn("partition leases: renewal failed; retrying", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// step renews the leases once and balances the partitions.
func (p *Partitions) step(ctx context.Context) error {
	if err := p.renewIdentity(ctx); err != nil {
		return err
	}
	if err := p.renewCount(ctx); err != nil {
		return err
	}
	p.mu.Lock()
	owned := maps.Clone(p.owned)
	p.mu.Unlock()
	for part, rev := range owned {
		nrev, err := p.renew(ctx, p.key("partition", strconv.Itoa(part)), p.cfg.Identity, rev)
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			p.cfg.Logger.Warn("partition lease lost (not renewed in time); its consumers stop", "partition", part, "err", err)
			p.drop(part)
			continue
		}
		p.mu.Lock()
		p.owned[part] = nrev
		p.mu.Unlock()
	}
	members, owners, err := p.snapshot(ctx)
	if err != nil {
		return err
	}
	target := share(p.cfg.Partitions, members, p.cfg.Identity)
	mine := p.Owned()
	for len(mine) > target {
		part := mine[len(mine)-1]
		mine = mine[:len(mine)-1]
		p.giveUp(ctx, part)
	}
	have := len(mine)
	if have >= target {
		return nil
	}
	// Free partitions, from a place of this process's own so that
	// processes joining together mostly try different ones.
	start := slices.Index(members, p.cfg.Identity) * p.cfg.Partitions / max(len(members), 1)
	for i := range p.cfg.Partitions {
		part := (start + i) % p.cfg.Partitions
		if _, taken := owners[part]; taken {
			continue
		}
		rev, err := p.kv.Create(ctx, p.key("partition", strconv.Itoa(part)), []byte(p.cfg.Identity))
		if err != nil {
			continue // another took it first
		}
		p.take(part, rev)
		if have++; have >= target {
			break
		}
	}
	return nil
}

// renewIdentity renews the member key; one that lapsed (this process
// stalled) is taken again unless another process took the identity.
func (p *Partitions) renewIdentity(ctx context.Context) error {
	key := p.key("member", p.cfg.Identity)
	rev, err := p.renew(ctx, key, p.nonce, p.member)
	if err == nil {
		p.member = rev
		return nil
	}
	if ctx.Err() != nil {
		return err
	}
	rev, err = p.kv.Create(ctx, key, []byte(p.nonce))
	if errors.Is(err, jetstream.ErrKeyExists) {
		return fmt.Errorf("%w %q: another %s process took it while this one's lease lapsed; stopping", ErrIdentity, p.cfg.Identity, p.cfg.Group)
	}
	if err != nil {
		return err
	}
	p.member = rev
	return nil
}

// renew renews key, which holds value at revision rev when this process
// last wrote it, and returns its new revision. An update that went
// unanswered (a cluster electing a leader) may have been applied, or the
// key may have been written since by this process: a key that still holds
// value is still this process's.
func (p *Partitions) renew(ctx context.Context, key, value string, rev uint64) (uint64, error) {
	nrev, err := p.kv.Update(ctx, key, []byte(value), rev)
	if err == nil {
		return nrev, nil
	}
	e, gerr := p.kv.Get(ctx, key)
	if gerr != nil || string(e.Value()) != value {
		return 0, err
	}
	return p.kv.Update(ctx, key, []byte(value), e.Revision())
}

// renewCount keeps the group's partition count while this process runs,
// and stops it when the count changed (it lapsed while this process
// stalled, and another process set a new one).
func (p *Partitions) renewCount(ctx context.Context) error {
	rev, err := p.kv.Update(ctx, p.countKey(), []byte(strconv.Itoa(p.cfg.Partitions)), p.countRev)
	if err == nil {
		p.countRev = rev
		return nil
	}
	if ctx.Err() != nil {
		return err
	}
	// Another process renewed it (the revision moved), or it lapsed:
	// check the count again.
	if err := p.claimCount(ctx); err != nil {
		return fmt.Errorf("%w; stopping", err)
	}
	return nil
}

// snapshot is the live members of the group, sorted, and the owner of
// each partition that has one.
func (p *Partitions) snapshot(ctx context.Context) ([]string, map[int]string, error) {
	w, err := p.kv.WatchFiltered(ctx, []string{p.cfg.Group + ".>"}, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, nil, err
	}
	defer func() { _ = w.Stop() }()
	members := []string{p.cfg.Identity}
	owners := map[int]string{}
	for {
		var e jetstream.KeyValueEntry
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case e = <-w.Updates():
		}
		if e == nil { // every current value is in
			break
		}
		rest := strings.TrimPrefix(e.Key(), p.cfg.Group+".")
		if id, ok := strings.CutPrefix(rest, "member."); ok && id != p.cfg.Identity {
			members = append(members, id)
		} else if n, ok := strings.CutPrefix(rest, "partition."); ok {
			if part, err := strconv.Atoi(n); err == nil {
				owners[part] = string(e.Value())
			}
		}
	}
	slices.Sort(members)
	return members, owners, nil
}

// share is how many of n partitions the member id should own: n spread
// evenly over the members, the first by identity taking one more while
// n does not divide evenly.
func share(n int, members []string, id string) int {
	i := slices.Index(members, id)
	t := n / len(members)
	if i < n%len(members) {
		t++
	}
	return t
}

// take records the lease of part and starts its consumers.
func (p *Partitions) take(part int, rev uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.owned[part] = rev
	for u := range p.users {
		u.start(part)
	}
	p.cfg.Logger.Info("partition taken", "partition", part, "of", p.cfg.Partitions)
}

// drop stops the consumers of part and forgets its lease. It waits for
// them without holding mu: their handlers may be waiting on a stage's lock
// that a stage's sweep holds while it asks Owns.
func (p *Partitions) drop(part int) {
	p.mu.Lock()
	delete(p.owned, part)
	var runs []*partitionRun
	for u := range p.users {
		if r := u.detach(part); r != nil {
			runs = append(runs, r)
		}
	}
	p.mu.Unlock()
	for _, r := range runs {
		r.stop()
	}
}

// giveUp stops the consumers of part, then deletes its lease for another
// process to take at once.
func (p *Partitions) giveUp(ctx context.Context, part int) {
	p.mu.Lock()
	rev := p.owned[part]
	p.mu.Unlock()
	p.drop(part)
	if err := p.kv.Delete(ctx, p.key("partition", strconv.Itoa(part)), jetstream.LastRevision(rev)); err != nil {
		p.cfg.Logger.Warn("partition lease not given up; it lapses", "partition", part, "err", err)
		return
	}
	p.cfg.Logger.Info("partition given up to balance the group", "partition", part)
}

// Leave gives up every lease and the identity, for the others to take at
// once; Run does on its way out.
func (p *Partitions) Leave() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, part := range p.Owned() {
		p.giveUp(ctx, part)
	}
	_ = p.kv.Delete(ctx, p.key("member", p.cfg.Identity), jetstream.LastRevision(p.member))
}

// attach runs run(ctx, part) for every partition this process owns, for
// as long as it owns it, until ctx is done or a run fails; it returns
// after every run it started has returned.
func (p *Partitions) attach(ctx context.Context, run func(ctx context.Context, part int) error) error {
	u := &partitionUser{run: run, running: map[int]*partitionRun{}, errs: make(chan error, 1)}
	p.mu.Lock()
	p.users[u] = struct{}{}
	for part := range p.owned {
		u.start(part)
	}
	p.mu.Unlock()
	var err error
	select {
	case <-ctx.Done():
	case err = <-u.errs:
	}
	p.mu.Lock()
	delete(p.users, u)
	var runs []*partitionRun
	for part := range u.running {
		runs = append(runs, u.detach(part))
	}
	p.mu.Unlock()
	for _, r := range runs {
		r.stop()
	}
	return err
}

// start runs u on part; the caller holds Partitions.mu.
func (u *partitionUser) start(part int) {
	if _, ok := u.running[part]; ok {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &partitionRun{cancel: cancel, done: make(chan struct{})}
	u.running[part] = r
	go func() {
		defer close(r.done)
		if err := u.run(ctx, part); err != nil && ctx.Err() == nil {
			select {
			case u.errs <- fmt.Errorf("partition %d: %w", part, err):
			default:
			}
		}
	}()
}

// detach takes u's run on part (nil if none) off its list, for the caller
// to stop once it no longer holds Partitions.mu, which it holds now.
func (u *partitionUser) detach(part int) *partitionRun {
	r := u.running[part]
	delete(u.running, part)
	return r
}

// stop stops the run and waits for it.
func (r *partitionRun) stop() {
	r.cancel()
	<-r.done
}

// partitionDurable is the durable consumer name of part of n for base.
func partitionDurable(base string, part, n int) string {
	if n == 1 {
		return base
	}
	return fmt.Sprintf("%s-p%d", base, part)
}

// consumePartitioned runs cfg's consumer on every partition of
// cfg.Partitions this process owns.
func consumePartitioned(ctx context.Context, js jetstream.JetStream, cfg ConsumerConfig, h Handler) error {
	parts := cfg.Partitions
	if cfg.Key == nil {
		return errors.New("bus: a partitioned consumer needs a Key (the call id)")
	}
	n := parts.Count()
	base := cfg
	base.Partitions = nil
	if base.Stage == "" {
		base.Stage = cfg.Durable
	}
	return parts.attach(ctx, func(ctx context.Context, part int) error {
		c := base
		c.Durable = partitionDurable(cfg.Durable, part, n)
		if n > 1 {
			c.owns = func(m jetstream.Msg) bool { return msg.Partition(c.Key(m), n) == part }
			c.ownsKey = func(k string) bool { return msg.Partition(k, n) == part }
		}
		// A partition is taken while the process runs, often while the
		// cluster is shaken (a node lost, an election): what JetStream
		// does not answer in time is tried again; what it refuses, or a
		// connection closed for good, stops the stage.
		for wait := 250 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
			err := takeOver(ctx, js, &c, cfg.Durable)
			if err == nil {
				err = Consume(ctx, js, c, h)
			}
			var api *jetstream.APIError
			if ctx.Err() != nil || errors.As(err, &api) || errors.Is(err, nats.ErrConnectionClosed) {
				return err
			}
			c.Logger.Warn("partition consumer failed; trying again", "consumer", c.Durable, "retry_in", wait, "err", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(wait):
			}
		}
	})
}

// takeOver readies the durable consumer of a partition just taken. One
// whose last owner died with messages in hand is started again from its
// ack floor, so that those come at once rather than after their ack wait
// (what was acked past the floor comes again: handlers are idempotent).
// One that does not exist yet starts where the group's other consumers of
// base have all got to (a partition count changed, or partitioning begun),
// or at the stream's start when there are none.
func takeOver(ctx context.Context, js jetstream.JetStream, c *ConsumerConfig, base string) error {
	cons, err := js.Consumer(ctx, c.Stream, c.Durable)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		c.startSeq, err = groupFloor(ctx, js, c.Stream, base)
		return err
	}
	if err != nil {
		return fmt.Errorf("bus: consumer %s: %w", c.Durable, err)
	}
	info := cons.CachedInfo()
	if info.NumAckPending == 0 {
		return nil
	}
	if err := js.DeleteConsumer(ctx, c.Stream, c.Durable); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("bus: consumer %s: restart from its ack floor: %w", c.Durable, err)
	}
	c.startSeq = info.AckFloor.Stream + 1
	c.Logger.Info("partition taken over with messages in hand; its consumer starts again from its ack floor",
		"consumer", c.Durable, "in_hand", info.NumAckPending, "from_seq", c.startSeq)
	return nil
}

// groupFloor is the stream sequence after the lowest ack floor of the
// consumers of base (base itself, base-pN), 0 when there is none.
func groupFloor(ctx context.Context, js jetstream.JetStream, stream, base string) (uint64, error) {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return 0, fmt.Errorf("bus: stream %s: %w", stream, err)
	}
	var floor uint64
	found := false
	infos := s.ListConsumers(ctx)
	for ci := range infos.Info() {
		if ci.Name != base && !strings.HasPrefix(ci.Name, base+"-p") {
			continue
		}
		if !found || ci.AckFloor.Stream < floor {
			floor, found = ci.AckFloor.Stream, true
		}
	}
	if err := infos.Err(); err != nil {
		return 0, fmt.Errorf("bus: consumers of %s: %w", stream, err)
	}
	if !found {
		return 0, nil
	}
	return floor + 1, nil
}
