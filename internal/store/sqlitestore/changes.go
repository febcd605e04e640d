package sqlitestore

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/partnerbill/partnerbill/internal/account"
	"github.com/partnerbill/partnerbill/internal/store"
)

// Every API request reads its caller's key and account and the current
// bill file; on a busy server those reads were a quarter of the CPU, and
// they answer the same thing thousands of times between two writes. The
// read cache below keeps their answers for as long as nobody has committed
// to the database, and it knows that without a query.
//
// In WAL mode every SQLite connection, in every process, shares the
// wal-index in the "-shm" file next to the database. Its header (two
// copies of 48 bytes at offset 0, https://sqlite.org/walformat.html) is
// rewritten by every commit that writes pages, before the commit returns:
// iChange counts transactions, mxFrame is the last valid WAL frame, and the
// salts change whenever the WAL restarts. The file is mapped, so comparing
// those 96 bytes with an earlier copy is a memory read that tells whether
// anything has been committed since. An answer is cached under the header
// read *before* its query, and used only while the header is still
// byte-for-byte the same, or has moved only by commits that changed none of
// the cached tables (readCache), so a cached answer is never older than
// the last commit that could change it: after `ledger import` or `key disable` returns, the next request
// sees the change, as it would without the cache. A header that cannot be
// trusted (a writer halfway through it) is not cached under.
//
// The header lives in the -shm file only while some connection keeps it
// open: the last connection to close deletes it, and a new one would start
// a new file that our mapping would never see. The watcher therefore holds
// its own connection open for as long as it watches.

// walHeaderSize is the two copies of the wal-index header.
const walHeaderSize = 96

// walToken is a snapshot of the wal-index header.
type walToken [walHeaderSize]byte

// changeWatch reads the wal-index header of one database.
type changeWatch struct {
	shm []byte  // the start of the -shm file, mapped read-only
	pin *sql.DB // one open connection: keeps the -shm file alive
}

// shmMaps holds every -shm file this process has mapped, by file identity,
// and their descriptors, which are never closed. That is deliberate: POSIX
// record locks belong to the process, and closing *any* descriptor of a
// file drops all of the process's locks on it, including those SQLite's
// own connections hold on the -shm file (the lock that marks it in use,
// the WAL read marks). SQLite itself never closes such a descriptor while
// a connection is open; the watcher keeps its one for the process's life.
var shmMaps struct {
	sync.Mutex
	m      map[shmID]shmMap
	leaked []*os.File // opened on a race and kept open for the same reason
}

type shmID struct{ dev, ino uint64 }

type shmMap struct {
	f   *os.File // referenced so that no finalizer closes it
	mem []byte
}

// mapShm maps the first bytes of the -shm file at path, once per file.
func mapShm(path string) ([]byte, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return nil, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	id := shmID{uint64(st.Dev), st.Ino}
	shmMaps.Lock()
	defer shmMaps.Unlock()
	if m, ok := shmMaps.m[id]; ok {
		return m.mem, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil || (shmID{uint64(st.Dev), st.Ino}) != id {
		// Replaced between the two looks: do not close f (see above).
		shmMaps.leaked = append(shmMaps.leaked, f)
		return nil, fmt.Errorf("%s changed while being opened", path)
	}
	mem, err := syscall.Mmap(int(f.Fd()), 0, walHeaderSize, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		shmMaps.leaked = append(shmMaps.leaked, f)
		return nil, fmt.Errorf("map %s: %w", path, err)
	}
	if shmMaps.m == nil {
		shmMaps.m = map[shmID]shmMap{}
	}
	shmMaps.m[id] = shmMap{f, mem}
	return mem, nil
}

// openChangeWatch pins a connection to the database at path and maps its
// wal-index. An error means no cache.
func openChangeWatch(ctx context.Context, path string) (*changeWatch, error) {
	pin, err := OpenPool(path, 1)
	if err != nil {
		return nil, err
	}
	// A read maps the wal-index (creating the -shm file if needed) and
	// takes the shared lock that keeps other processes from deleting it.
	var mode string
	if err := pin.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
		pin.Close()
		return nil, err
	}
	if mode != "wal" {
		pin.Close()
		return nil, fmt.Errorf("journal mode is %q, not wal", mode)
	}
	var n int
	if err := pin.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema`).Scan(&n); err != nil {
		pin.Close()
		return nil, err
	}
	shm, err := mapShm(path + "-shm")
	if err != nil {
		pin.Close()
		return nil, err
	}
	w := &changeWatch{shm: shm, pin: pin}
	if _, ok := w.token(); !ok {
		w.close()
		return nil, fmt.Errorf("%s-shm has no readable wal-index header", path)
	}
	return w, nil
}

// token returns the current header; ok is false when it cannot be trusted
// (a writer is halfway through it, or it is not initialised).
func (w *changeWatch) token() (t walToken, ok bool) {
	// Were the file ever cut short under the mapping, reading it would
	// fault: that becomes a panic here, and "no token".
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	copy(t[:], w.shm)
	// Both copies equal and isInit set: the same test SQLite's readers use.
	return t, bytes.Equal(t[:48], t[48:]) && t[12] != 0
}

// close unpins the database; the mapping stays (see shmMaps).
func (w *changeWatch) close() {
	w.pin.Close()
}

// readCache holds answers read under one wal-index header. A commit moves
// the header whatever it wrote, and the job queue commits every few seconds
// on its own; dropping every answer each time would send a burst of reads
// to the database after each of those. So when the header has moved, one
// request reads cache_generation, which triggers bump on every change to
// the cached tables (migration 0004): if it has not moved either, the
// answers are still true and are kept under the new header.
type readCache struct {
	watch *changeWatch
	// generation reads cache_generation.
	generation func(context.Context) (int64, error)

	genMu sync.Mutex // one generation read at a time

	mu       sync.RWMutex // read: every cached lookup; write: adopting a header, keeping an answer
	token    walToken
	gen      int64
	files    map[fileCacheKey]store.BillFile
	keys     map[string]account.Key
	accounts map[string]account.Account

	hits atomic.Int64 // for tests
}

type fileCacheKey struct{ owner, month, kind string }

// maxCached bounds each map; past it, it starts again empty.
const maxCached = 100_000

// begin returns the header a read is about to be made under, and whether
// answers may be looked up and kept under it.
func (c *readCache) begin(ctx context.Context) (walToken, bool) {
	if c == nil {
		return walToken{}, false
	}
	t, ok := c.watch.token()
	if !ok {
		return t, false
	}
	c.mu.RLock()
	same := t == c.token && c.files != nil
	c.mu.RUnlock()
	if same {
		return t, true
	}
	c.genMu.Lock()
	defer c.genMu.Unlock()
	c.mu.RLock()
	same = t == c.token && c.files != nil
	c.mu.RUnlock()
	if same {
		return t, true // another request has just done it
	}
	// Read after t was taken, the counter is at least as new as t; and if
	// the header has moved again meanwhile, t is not adopted (the maps'
	// header never goes back), the next request tries again.
	g, err := c.generation(ctx)
	if err != nil {
		return t, false
	}
	if now, ok := c.watch.token(); !ok || now != t {
		return t, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if g != c.gen || c.files == nil {
		c.gen = g
		c.files = map[fileCacheKey]store.BillFile{}
		c.keys = map[string]account.Key{}
		c.accounts = map[string]account.Account{}
	}
	c.token = t
	return t, true
}

// cachedRead answers from the map m picks when the cache can vouch for it,
// and otherwise calls read and keeps its answer. Errors are never kept, so
// an unknown SecretId is read every time (a caller could otherwise fill
// the cache with made-up ones).
func cachedRead[K comparable, V any](ctx context.Context, c *readCache, m func(*readCache) map[K]V, key K, read func() (V, error)) (V, error) {
	t, cacheable := c.begin(ctx)
	if cacheable {
		if v, ok := lookup(c, t, m, key); ok {
			return v, nil
		}
	}
	v, err := read()
	if err == nil && cacheable {
		keep(c, t, m, key, v)
	}
	return v, err
}

// lookup finds key in the map m picks, if t is still current.
func lookup[K comparable, V any](c *readCache, t walToken, m func(*readCache) map[K]V, key K) (V, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var zero V
	if t != c.token || c.files == nil {
		return zero, false
	}
	v, ok := m(c)[key]
	if ok {
		c.hits.Add(1)
	}
	return v, ok
}

// keep keeps v, read after the header was t, unless the header has moved
// on meanwhile (then v may be newer than what the maps hold, or older than
// the database) or the maps are for another header.
func keep[K comparable, V any](c *readCache, t walToken, m func(*readCache) map[K]V, key K, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	// The header is read under mu, so that no begin can move the maps to
	// another header between this check and the store.
	now, ok := c.watch.token()
	if !ok || now != t || t != c.token || c.files == nil {
		return
	}
	mm := m(c)
	if len(mm) >= maxCached {
		clear(mm)
	}
	mm[key] = v
}

func (c *readCache) close() {
	if c != nil {
		c.watch.close()
	}
}

func filesOf(c *readCache) map[fileCacheKey]store.BillFile { return c.files }
func keysOf(c *readCache) map[string]account.Key           { return c.keys }
func accountsOf(c *readCache) map[string]account.Account   { return c.accounts }
