package record_test

import (
	"context"
	"testing"

	"github.com/earshot-dev/earshot/bus/bustest"
	"github.com/earshot-dev/earshot/record"
	"github.com/earshot-dev/earshot/record/recordtest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestDir(t *testing.T) {
	recordtest.Run(t, func(t *testing.T) record.Store {
		d, err := record.NewDir(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return d
	})
}

func TestObjectStore(t *testing.T) {
	_, c := bustest.Start(t)
	n := 0
	recordtest.Run(t, func(t *testing.T) record.Store {
		n++
		o, err := record.NewObjectStore(context.Background(), c.JS, record.ObjectStoreConfig{Bucket: "T" + string(rune('A'+n))})
		if err != nil {
			t.Fatal(err)
		}
		return o
	})
}
