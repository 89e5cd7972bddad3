package record

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

var (
	// ErrNotFound is returned for an object that does not exist.
	ErrNotFound = errors.New("record: not found")
	// ErrRange is returned for an offset past the end of an object.
	ErrRange = errors.New("record: offset past the end")
	// ErrName is returned for a name that is not a valid object name.
	ErrName = errors.New("record: bad object name")
)

// Info describes a stored object.
type Info struct {
	Name    string
	Size    int64
	ModTime time.Time
}

// Store keeps recording objects by name.
type Store interface {
	// Put stores all of r as name, replacing an object of that name only
	// once r has been read to its end without error.
	Put(ctx context.Context, name string, r io.Reader) (Info, error)
	// Open reads name from byte off to its end. off may equal the size
	// (nothing to read); past it, Open fails with ErrRange.
	Open(ctx context.Context, name string, off int64) (io.ReadCloser, Info, error)
	// Stat describes name.
	Stat(ctx context.Context, name string) (Info, error)
	// Delete removes name; deleting what is not there is not an error.
	Delete(ctx context.Context, name string) error
	// List describes the objects whose names start with prefix, by name.
	List(ctx context.Context, prefix string) ([]Info, error)
}

// CheckName reports whether name is a valid object name.
func CheckName(name string) error {
	if name == "" || len(name) > 255 {
		return fmt.Errorf("%w: %q: empty or longer than 255 bytes", ErrName, name)
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("%w: %q: empty, . or .. segment", ErrName, name)
		}
		for _, r := range seg {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
				return fmt.Errorf("%w: %q: character %q", ErrName, name, r)
			}
		}
	}
	return nil
}

// checkPrefix allows the empty prefix and a prefix ending in '/'.
func checkPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	return CheckName(strings.TrimSuffix(prefix, "/"))
}
