package record

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// Bucket is the object store bucket recordings live in.
const Bucket = "EARSHOT_RECORDINGS"

// ObjectStore is a Store in a NATS JetStream object store bucket, so
// recordings are replicated across a NATS cluster like the streams.
type ObjectStore struct {
	os jetstream.ObjectStore
}

var _ Store = (*ObjectStore)(nil)

// ObjectStoreConfig configures NewObjectStore.
type ObjectStoreConfig struct {
	// Bucket is the bucket's name. Default Bucket.
	Bucket string
	// Replicas is how many servers keep each recording. Default 1.
	Replicas int
	// Memory keeps the bucket in memory rather than on disk (tests).
	Memory bool
}

// NewObjectStore creates (or opens) the bucket.
func NewObjectStore(ctx context.Context, js jetstream.JetStream, cfg ObjectStoreConfig) (*ObjectStore, error) {
	if cfg.Bucket == "" {
		cfg.Bucket = Bucket
	}
	if cfg.Replicas == 0 {
		cfg.Replicas = 1
	}
	if cfg.Replicas < 1 || cfg.Replicas > 5 {
		return nil, fmt.Errorf("record: object store replicas %d: want 1 to 5", cfg.Replicas)
	}
	st := jetstream.FileStorage
	if cfg.Memory {
		st = jetstream.MemoryStorage
	}
	os, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket: cfg.Bucket, Description: "Earshot call recordings",
		Replicas: cfg.Replicas, Storage: st,
	})
	if err != nil {
		return nil, fmt.Errorf("record: object store bucket %s: %w", cfg.Bucket, err)
	}
	return &ObjectStore{os: os}, nil
}

func objInfo(oi *jetstream.ObjectInfo) Info {
	return Info{Name: oi.Name, Size: int64(oi.Size), ModTime: oi.ModTime}
}

func (o *ObjectStore) wrap(op, name string, err error) error {
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	return fmt.Errorf("record: %s %s: %w", op, name, err)
}

// Put implements Store. The object store publishes an object's metadata
// only after its last chunk, and purges the chunks of a failed put.
func (o *ObjectStore) Put(ctx context.Context, name string, r io.Reader) (Info, error) {
	if err := CheckName(name); err != nil {
		return Info{}, err
	}
	oi, err := o.os.Put(ctx, jetstream.ObjectMeta{Name: name}, r)
	if err != nil {
		return Info{}, o.wrap("put", name, err)
	}
	return objInfo(oi), nil
}

// Open implements Store. The object store reads from the start, so the
// bytes before off are read and dropped.
func (o *ObjectStore) Open(ctx context.Context, name string, off int64) (io.ReadCloser, Info, error) {
	if err := CheckName(name); err != nil {
		return nil, Info{}, err
	}
	res, err := o.os.Get(ctx, name)
	if err != nil {
		return nil, Info{}, o.wrap("open", name, err)
	}
	oi, err := res.Info()
	if err != nil {
		res.Close()
		return nil, Info{}, o.wrap("open", name, err)
	}
	info := objInfo(oi)
	if off < 0 || off > info.Size {
		res.Close()
		return nil, info, fmt.Errorf("%w: %s: offset %d, size %d", ErrRange, name, off, info.Size)
	}
	if _, err := io.CopyN(io.Discard, res, off); err != nil {
		res.Close()
		return nil, info, o.wrap("open", name, err)
	}
	return res, info, nil
}

// Stat implements Store.
func (o *ObjectStore) Stat(ctx context.Context, name string) (Info, error) {
	if err := CheckName(name); err != nil {
		return Info{}, err
	}
	oi, err := o.os.GetInfo(ctx, name)
	if err != nil {
		return Info{}, o.wrap("stat", name, err)
	}
	return objInfo(oi), nil
}

// Delete implements Store.
func (o *ObjectStore) Delete(ctx context.Context, name string) error {
	if err := CheckName(name); err != nil {
		return err
	}
	if err := o.os.Delete(ctx, name); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		return o.wrap("delete", name, err)
	}
	return nil
}

// List implements Store.
func (o *ObjectStore) List(ctx context.Context, prefix string) ([]Info, error) {
	if err := checkPrefix(prefix); err != nil {
		return nil, err
	}
	all, err := o.os.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("record: list %q: %w", prefix, err)
	}
	var out []Info
	for _, oi := range all {
		if !oi.Deleted && strings.HasPrefix(oi.Name, prefix) {
			out = append(out, objInfo(oi))
		}
	}
	slices.SortFunc(out, func(a, b Info) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}
