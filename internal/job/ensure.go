package job

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/partnerbill/partnerbill/internal/billfile"
	"github.com/partnerbill/partnerbill/internal/ledger"
	"github.com/partnerbill/partnerbill/internal/store"
)

// Enqueuer queues a build; Queue is one, and the PostgreSQL queue will be
// another.
type Enqueuer interface {
	Enqueue(ctx context.Context, a BuildArgs) error
}

// Files decides, for a request, whether a bill file is ready or must be
// built.
type Files struct {
	Store store.Store
	Queue Enqueuer

	// queued remembers builds this process queued a moment ago, so a client
	// polling for a file being built costs two reads, not a queue insert
	// (River would find the duplicate, but only inside a write
	// transaction).
	mu     sync.Mutex
	queued map[BuildArgs]time.Time
}

// requeueAfter is how long Ensure trusts its memory of a queued build
// before asking the queue again (which is harmless: the queue keeps one
// build per args).
const requeueAfter = 2 * time.Second

// recentlyQueued reports whether a was queued by this process within
// requeueAfter, and otherwise notes that it is being queued now.
func (f *Files) recentlyQueued(a BuildArgs, now time.Time) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.queued == nil {
		f.queued = map[BuildArgs]time.Time{}
	}
	if t, ok := f.queued[a]; ok && now.Sub(t) < requeueAfter {
		return true
	}
	if len(f.queued) > 10_000 {
		for k, t := range f.queued {
			if now.Sub(t) >= requeueAfter {
				delete(f.queued, k)
			}
		}
	}
	f.queued[a] = now
	return false
}

// Status is the answer to "is this file ready?".
type Status struct {
	Ready bool
	// ObjectKey is the stored file, when Ready.
	ObjectKey string
}

// ErrBuildFailed reports that the file's build failed for good. The
// failure is reported once: the next request queues a fresh build.
var ErrBuildFailed = errors.New("the bill file could not be built")

// Ensure returns the file of owner's month and kind built from the current
// ledger, or queues its build. A file built from an older ledger version is
// never returned: an import that changes the month moves the version on.
func (f *Files) Ensure(ctx context.Context, owner string, m ledger.Month, k billfile.Kind) (Status, error) {
	bf, err := f.Store.CurrentBillFile(ctx, owner, m, string(k))
	if err != nil {
		return Status{}, fmt.Errorf("bill file record: %w", err)
	}
	switch bf.State {
	case store.FileReady:
		return Status{Ready: true, ObjectKey: bf.ObjectKey}, nil
	case store.FileFailed:
		if err := f.Store.DeleteBillFile(ctx, bf.FileKey); err != nil {
			return Status{}, fmt.Errorf("forget failed build: %w", err)
		}
		return Status{}, fmt.Errorf("%w: %s", ErrBuildFailed, bf.Error)
	}
	v := bf.Version
	a := BuildArgs{OwnerUIN: owner, Month: m.String(), FileType: string(k), Version: v}
	if f.recentlyQueued(a, time.Now()) {
		return Status{}, nil
	}
	if err := f.Queue.Enqueue(ctx, a); err != nil {
		f.mu.Lock()
		delete(f.queued, a) // not queued after all: the next request tries again
		f.mu.Unlock()
		return Status{}, err
	}
	return Status{}, nil
}
