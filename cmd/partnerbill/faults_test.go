package main

// Faults: partnerbill killed with SIGKILL at random points of an import,
// a file build and an upload to object storage. Each test kills -kills
// times (default: a few, so that go test ./... stays quick); RELIABILITY.md
// records a run with -kills=20 or more.

import (
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jackc/pgx/v5"

	"github.com/partnerbill/partnerbill/internal/filestore/filestoretest"
	"github.com/partnerbill/partnerbill/internal/job"
	"github.com/partnerbill/partnerbill/internal/testenv"
)

var killsFlag = flag.Int("kills", 0, "kill points per kill test; 0 means each test's short default")

// kills is how many times a kill test kills: -kills, else def.
func kills(def int) int {
	if *killsFlag > 0 {
		return *killsFlag
	}
	return def
}

// startServeChild is startChild with serve flags of the test's choosing
// (a database, a storage URL, a build timeout).
func startServeChild(t testing.TB, dataDir string, extra ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"serve", "--data-dir", dataDir, "--addr", "127.0.0.1:0"}, extra...)...)
	cmd.Env = append(os.Environ(), "PARTNERBILL_TEST_AS_MAIN=1", "PARTNERBILL_MASTER_KEY="+testMasterKey)
	found := make(chan string, 1)
	logs := &lineWriter{}
	cmd.Stdout, cmd.Stderr = &lineWriter{found: found}, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	select {
	case u := <-found:
		return &child{cmd: cmd, URL: u, Host: strings.TrimPrefix(u, "http://"), logs: logs}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("child did not start:\n%s", logs.String())
	}
	return nil
}

// kill sends SIGKILL and reaps the process.
func (c *child) kill() {
	c.cmd.Process.Kill()
	c.cmd.Wait()
}

// readPos reports how far process pid has read the open file path (its
// offset, from /proc/PID/fdinfo), or -1 when it does not have it open.
func readPos(pid int, path string) int64 {
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	for _, fd := range fds {
		if l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); l != path {
			continue
		}
		info, _ := os.ReadFile(fmt.Sprintf("/proc/%d/fdinfo/%s", pid, fd.Name()))
		for _, line := range strings.Split(string(info), "\n") {
			if v, ok := strings.CutPrefix(line, "pos:"); ok {
				n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				return n
			}
		}
	}
	return -1
}

// tally counts outcomes by name, for the log and RELIABILITY.md.
type tally map[string]int

func (t tally) String() string {
	var names []string
	for n := range t {
		names = append(names, n)
	}
	slices.Sort(names)
	var parts []string
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s %d", n, t[n]))
	}
	return strings.Join(parts, ", ")
}

// TestKillDuringImport kills `ledger import` (this test binary re-executed
// as partnerbill) after a random delay, again and again, each time on a
// file of a month of its own, and checks that each file's rows are all
// in the ledger or none of them, and that its month's ledger version moved
// exactly when they are. Afterwards the files that were cut off load in
// full, and the SQLite file passes its integrity check.
func TestKillDuringImport(t *testing.T) {
	t.Parallel()
	t.Run("SQLite", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		db := openDB(t, dir)
		testKillDuringImport(t, dir, nil, func(month string) (int, int) {
			return countRows(t, db, `SELECT count(*) FROM line_items WHERE BillMonth = ?`, month),
				countRows(t, db, `SELECT count(*) FROM ledger_versions WHERE bill_month = ?`, month)
		})
		var ok string
		if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&ok); err != nil || ok != "ok" {
			t.Fatalf("integrity_check after the kills: %q %v", ok, err)
		}
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		t.Parallel()
		dbURL := pgSchemaURL(t)
		testKillDuringImport(t, t.TempDir(), []string{"--database", dbURL}, func(month string) (int, int) {
			n, _ := strconv.Atoi(pgQuery(t, dbURL, `SELECT count(*)::text FROM line_items WHERE BillMonth = $1`, month))
			v, _ := strconv.Atoi(pgQuery(t, dbURL, `SELECT count(*)::text FROM ledger_versions WHERE bill_month = $1`, month))
			return n, v
		})
	})
}

// importRows is the size of each killed import: large enough that the
// import takes a good fraction of a second.
const importRows = 6000

func testKillDuringImport(t *testing.T, dir string, global []string, count func(month string) (rows, versions int)) {
	n := kills(3)
	// File i holds importRows line items of one customer in month i.
	file := func(i int) (path, month string) {
		month = time.Date(2001, time.Month(1+i), 1, 0, 0, 0, 0, time.UTC).Format("2006-01")
		path = filepath.Join(dir, "import-"+month+".csv")
		cli(t, dir, "ledger", "synth", "--customers", "1", "--rows-per-customer", fmt.Sprint(importRows),
			"--month", month, "--seed", fmt.Sprint(1000+i), "--out", path)
		return path, month
	}
	importCmd := func(paths ...string) *exec.Cmd {
		args := append(append([]string{"--data-dir", dir}, global...), append([]string{"ledger", "import"}, paths...)...)
		cmd := exec.Command(os.Args[0], args...)
		cmd.Env = append(os.Environ(), "PARTNERBILL_TEST_AS_MAIN=1")
		return cmd
	}
	check := func(month string) (rows int) {
		t.Helper()
		rows, versions := count(month)
		if rows != 0 && rows != importRows {
			t.Fatalf("%s: %d of the file's %d rows are in the ledger", month, rows, importRows)
		}
		if (rows == 0) != (versions == 0) {
			t.Fatalf("%s: %d rows in the ledger but %d ledger versions", month, rows, versions)
		}
		return rows
	}

	// An import left alone, to time it.
	path, month := file(0)
	start := time.Now()
	if out, err := importCmd(path).CombinedOutput(); err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	full := time.Since(start)
	if check(month) != importRows {
		t.Fatal("an import left alone did not load")
	}
	size := func(p string) int64 { fi, _ := os.Stat(p); return fi.Size() }

	outcomes := tally{}
	var cut []string
	for i := 1; i <= n; i++ {
		path, month := file(i)
		cmd := importCmd(path)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		delay := time.Duration(rand.Int64N(int64(full) * 11 / 10))
		time.Sleep(delay)
		// Where the import has got to, read just before the kill.
		pos := readPos(cmd.Process.Pid, path)
		cmd.Process.Kill()
		werr := cmd.Wait()
		exited := cmd.ProcessState.Exited() // it finished before the kill
		rows := check(month)
		var at string
		switch {
		case exited:
			at = "finished before the kill"
			if werr != nil || rows != importRows {
				t.Fatalf("%s: the import exited (%v) with %d rows loaded", month, werr, rows)
			}
		case pos < 0 && rows == 0:
			at = "killed before opening the file, nothing loaded"
		case pos < 0:
			at = "killed after closing the file, all loaded"
		case pos < size(path) && rows == 0:
			at = "killed while reading the file, nothing loaded"
		case rows == 0:
			at = "killed after reading the whole file, before the commit: nothing loaded"
		default:
			at = "killed after reading the whole file, after the commit: all loaded"
		}
		outcomes[at]++
		if rows == 0 {
			cut = append(cut, path)
		}
		t.Logf("kill %d after %v (file at %d of %d bytes): %s", i, delay.Round(time.Millisecond), pos, size(path), at)
	}
	t.Logf("%d kills (an import takes %v): %s", n, full.Round(time.Millisecond), outcomes)

	// What was cut off loads in full now.
	if len(cut) > 0 {
		if out, err := importCmd(cut...).CombinedOutput(); err != nil {
			t.Fatalf("importing the files cut off again: %v\n%s", err, out)
		}
	}
	for i := range n + 1 {
		m := time.Date(2001, time.Month(1+i), 1, 0, 0, 0, 0, time.UTC).Format("2006-01")
		if got := check(m); got != importRows {
			t.Fatalf("%s: %d rows after importing again", m, got)
		}
	}
}

// extraRow imports one more line item for the owner of base (a copy of
// base with a fresh Id, on the 28th of its month), which moves the
// month's ledger version on, and returns it as imported.
func extraRow(t *testing.T, dir string, global []string, base map[string]string, i int) map[string]string {
	t.Helper()
	r := make(map[string]string, len(base))
	for k, v := range base {
		r[k] = v
	}
	r["Id"] = fmt.Sprintf("77%017d", i)
	r["TransactionTime"] = base["TransactionTime"][:8] + fmt.Sprintf("28 %02d:%02d:%02d", i/3600%24, i/60%60, i%60)
	path := filepath.Join(t.TempDir(), "extra.csv")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := csv.NewWriter(f)
	w.Write(l3Header)
	rec := make([]string, len(l3Header))
	for j, h := range l3Header {
		rec[j] = r[h]
	}
	w.Write(rec)
	w.Flush()
	f.Close()
	cli(t, dir, append(global, "ledger", "import", path)...)
	return r
}

// expectFile checks a downloaded file against the rows it must hold.
func expectFile(t *testing.T, fileType string, recs [][]string, rows []map[string]string) {
	t.Helper()
	mine := slices.Clone(rows)
	if fileType == "L3" {
		sortRows(mine, "TransactionTime", "Id")
		compareRecords(t, l3Header, recs, mine)
		return
	}
	compareRecords(t, l2Header, recs, expectedL2(mine))
}

// jobState returns the state of the build job for args, or "none".
func jobState(t *testing.T, query func(q string, args ...any) string, a job.BuildArgs) string {
	t.Helper()
	return query(`SELECT coalesce(max(state), 'none') FROM river_job WHERE kind = 'build_bill_file'
		AND json_extract(args, '$.owner_uin') = ? AND json_extract(args, '$.file_type') = ? AND json_extract(args, '$.version') = ?`,
		a.OwnerUIN, a.FileType, a.Version)
}

// TestKillDuringBuild kills the server (a child process) at a random
// point after a request queued a build: before the build started, while
// it streamed, or just after it published. Each time it checks that no
// request can see part of a file (no ready record without its whole
// object, no object at the build's key without its record), restarts the
// server and checks that the file it then hands out is exact. Each round
// first imports one more line item, so that every round builds a new
// file; rounds alternate L3 and L2.
func TestKillDuringBuild(t *testing.T) {
	t.Parallel()
	n := kills(3)
	w := setupWorld(t, 20_000)
	db := openDB(t, w.dir)
	query := func(q string, args ...any) string {
		var s string
		if err := db.QueryRow(q, args...).Scan(&s); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return s
	}
	rows := w.rowsOf(w.a.Uin)
	version := func() int64 {
		v, _ := strconv.ParseInt(query(`SELECT CAST(version AS TEXT) FROM ledger_versions WHERE owner_uin = ? AND bill_month = '2024-12'`, w.a.Uin), 10, 64)
		return v
	}

	// A build left alone, to time it: customer B's L3 of the same size.
	c := startChild(t, w.dir)
	start := time.Now()
	waitReady(t, c.Host, w.b, "2024-12", "L3")
	full := time.Since(start)

	// noPartialFile checks every ready record against the store, and
	// returns the state of the build of a, the size of a file at its key
	// that has no record yet (-1: none; the kill fell between publishing
	// and recording, and the file must then be whole), and the number and
	// bytes of temporary files beside the key.
	noPartialFile := func(a job.BuildArgs) (state string, unrecorded int64, tmpFiles int, tmpBytes int64) {
		t.Helper()
		recs, err := db.Query(`SELECT object_key, byte_count FROM bill_files WHERE state = 'ready'`)
		if err != nil {
			t.Fatal(err)
		}
		defer recs.Close()
		for recs.Next() {
			var key string
			var n int64
			recs.Scan(&key, &n)
			fi, err := os.Stat(filepath.Join(w.dir, "files", key))
			if err != nil || fi.Size() != n {
				t.Fatalf("bill_files says %s is ready with %d bytes; the store has %v %v", key, n, fi, err)
			}
		}
		ready := query(`SELECT CAST(count(*) AS TEXT) FROM bill_files WHERE owner_uin = ? AND kind = ? AND version = ?`,
			a.OwnerUIN, a.FileType, a.Version)
		unrecorded = -1
		if fi, err := os.Stat(filepath.Join(w.dir, "files", job.ObjectKey(a))); err == nil && ready == "0" {
			unrecorded = fi.Size()
		}
		tmps, _ := filepath.Glob(filepath.Join(w.dir, "files", job.ObjectKey(a)+".*.tmp"))
		for _, p := range tmps {
			if fi, err := os.Stat(p); err == nil {
				tmpFiles++
				tmpBytes += fi.Size()
			}
		}
		return jobState(t, query, a), unrecorded, tmpFiles, tmpBytes
	}

	outcomes := tally{}
	leftovers := 0
	for i := 1; i <= n; i++ {
		fileType := []string{"L3", "L2"}[i%2]
		c.kill()
		rows = append(rows, extraRow(t, w.dir, nil, rows[0], i))
		a := job.BuildArgs{OwnerUIN: w.a.Uin, Month: "2024-12", FileType: fileType, Version: version()}

		c = startChild(t, w.dir)
		if r, err := describe(t, c.Host, w.a, "2024-12", fileType); err != nil || *r.Response.Ready != 0 {
			t.Fatalf("round %d: first request %+v %v", i, r, err)
		}
		delay := time.Duration(rand.Int64N(int64(full) * 12 / 10))
		time.Sleep(delay)
		c.kill()
		state, unrecorded, tmpFiles, tmpBytes := noPartialFile(a)
		at := map[string]string{"available": "before the build started", "running": "during the build",
			"completed": "after the build was recorded"}[state]
		switch {
		case at == "":
			t.Fatalf("round %d: build job %s after the kill", i, state)
		case unrecorded >= 0:
			at = "after the file was published, before it was recorded"
		}
		if tmpFiles > 0 {
			at += " (temporary file left behind)"
			leftovers++
		}
		outcomes[at]++
		t.Logf("kill %d (%s) after %v: job %s, %d temporary files of %d bytes", i, fileType, delay.Round(time.Millisecond), state, tmpFiles, tmpBytes)

		c = startChild(t, w.dir)
		_, recs := download(t, waitReady(t, c.Host, w.a, "2024-12", fileType))
		expectFile(t, fileType, recs, rows)
		noPartialFile(a)
		if unrecorded >= 0 {
			var n int64
			db.QueryRow(`SELECT byte_count FROM bill_files WHERE owner_uin = ? AND kind = ? AND version = ?`, a.OwnerUIN, a.FileType, a.Version).Scan(&n)
			if n != unrecorded {
				t.Fatalf("round %d: the file found unrecorded after the kill had %d bytes, the whole file %d", i, unrecorded, n)
			}
		}
	}
	c.kill()
	t.Logf("%d kills (a build takes %v from the request): %s", n, full.Round(time.Millisecond), outcomes)
	if leftovers > 0 {
		t.Logf("%d kills left a temporary file beside the key (never served; removed by nothing)", leftovers)
	}
}

// TestKillDuringUpload kills the server while it uploads a bill file of
// more than 16 MiB to an S3 bucket (a multipart upload in 8 MiB parts),
// restarts it on the same database and bucket, and checks that no object
// was ever visible half-written at the build's key and that the file
// completes, exact. On the embedded database the restarted server resumes
// the build at once; on PostgreSQL a replica cannot tell a dead replica's
// build from a slow one, and River's rescuer retries it --build-timeout
// plus 5 minutes after it started: the test moves the build's start back
// by that much instead of waiting.
func TestKillDuringUpload(t *testing.T) {
	t.Parallel()
	t.Run("SQLite", func(t *testing.T) {
		t.Parallel()
		testKillDuringUpload(t, nil, kills(2), nil)
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		t.Parallel()
		dbURL := pgSchemaURL(t)
		testKillDuringUpload(t, []string{"--database", dbURL}, kills(1), func() {
			conn, err := pgx.Connect(context.Background(), dbURL)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(context.Background())
			if _, err := conn.Exec(context.Background(),
				`UPDATE river_job SET attempted_at = attempted_at - interval '2 hours' WHERE state = 'running'`); err != nil {
				t.Fatal(err)
			}
		})
	})
}

// uploadRows makes the L3 file about 20 MB: more than the 16 MiB up to
// which S3 uploads take a single PUT.
const uploadRows = 48_000

func testKillDuringUpload(t *testing.T, global []string, n int, rescue func()) {
	endpoint := testenv.S3Endpoint(t)
	s3c, bucket := filestoretest.NewS3Bucket(t, endpoint)
	global = append(global, "--storage", filestoretest.S3URL(bucket, endpoint))
	dir := t.TempDir()
	synth := filepath.Join(dir, "synth.csv")
	cli(t, dir, "ledger", "synth", "--customers", "1", "--rows-per-customer", fmt.Sprint(uploadRows), "--month", "2024-12", "--seed", "21", "--out", synth)
	rows := csvRows(t, synth)
	owner := rows[0]["OwnerAccountId"]
	newAccount(t, dir, append(global, "--role", "reseller", "--uin", payer)...)
	k := newAccount(t, dir, append(global, "--role", "end-customer", "--uin", owner, "--reseller", payer)...)
	cli(t, dir, append(global, "ledger", "import", synth)...)
	serveArgs := append(slices.Clone(global), "--build-timeout", "1m")

	ctx := context.Background()
	head := func(key string) (int64, bool) {
		o, err := s3c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: &key})
		if err != nil {
			return 0, false
		}
		return *o.ContentLength, true
	}
	// uploads counts the incomplete multipart uploads in the bucket, and
	// the parts sent of those to key.
	uploads := func(key string) (n, parts int) {
		ups, err := s3c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &bucket})
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range ups.Uploads {
			if *u.Key != key {
				continue
			}
			ps, err := s3c.ListParts(ctx, &s3.ListPartsInput{Bucket: &bucket, Key: u.Key, UploadId: u.UploadId})
			if err == nil {
				parts += len(ps.Parts)
			}
		}
		return len(ups.Uploads), parts
	}
	// The record of a build and the object at its key: "ready" with the
	// object's size, or nothing and no object.
	var recordOf func(a job.BuildArgs) (ready bool, bytes int64)
	if global[0] == "--database" {
		dbURL := global[1]
		recordOf = func(a job.BuildArgs) (bool, int64) {
			s := pgQuery(t, dbURL, `SELECT coalesce(max(byte_count), -1)::text FROM bill_files
				WHERE owner_uin = $1 AND bill_month = $2 AND kind = $3 AND version = $4 AND state = 'ready'`,
				a.OwnerUIN, "2024-12", a.FileType, a.Version)
			n, _ := strconv.ParseInt(s, 10, 64)
			return n >= 0, n
		}
	} else {
		db := openDB(t, dir)
		recordOf = func(a job.BuildArgs) (bool, int64) {
			var n int64 = -1
			db.QueryRow(`SELECT coalesce(max(byte_count), -1) FROM bill_files
				WHERE owner_uin = ? AND kind = ? AND version = ? AND state = 'ready'`, a.OwnerUIN, a.FileType, a.Version).Scan(&n)
			return n >= 0, n
		}
	}
	version := 1
	// nothingHalfWritten checks the object at a's key against a's record:
	// a ready record has its whole object. It returns the size of an
	// object that has no record yet (-1: none), which the caller checks
	// against the whole file once it is recorded.
	nothingHalfWritten := func(a job.BuildArgs) (unrecorded int64) {
		t.Helper()
		ready, want := recordOf(a)
		size, exists := head(job.ObjectKey(a))
		switch {
		case exists && !ready:
			return size
		case ready && (!exists || size != want):
			t.Fatalf("%s is recorded with %d bytes; the bucket has %d (exists %v)", job.ObjectKey(a), want, size, exists)
		}
		return -1
	}

	// A build left alone, to time it and to see the file's size.
	c := startServeChild(t, dir, serveArgs...)
	start := time.Now()
	waitReadyWithin(t, c.Host, k, "2024-12", "L3", 2*time.Minute)
	full := time.Since(start)
	a := job.BuildArgs{OwnerUIN: owner, Month: "2024-12", FileType: "L3", Version: 1}
	nothingHalfWritten(a)
	size, _ := head(job.ObjectKey(a))
	if size <= 16<<20 {
		t.Fatalf("the file is %d bytes; the test needs more than 16 MiB for a multipart upload", size)
	}

	outcomes := tally{}
	abandoned := 0
	for i := 1; i <= n; i++ {
		c.kill()
		rows = append(rows, extraRow(t, dir, global, rows[0], i))
		version++
		a := job.BuildArgs{OwnerUIN: owner, Month: "2024-12", FileType: "L3", Version: int64(version)}
		c = startServeChild(t, dir, serveArgs...)
		before, _ := uploads("")
		if r, err := describe(t, c.Host, k, "2024-12", "L3"); err != nil || *r.Response.Ready != 0 {
			t.Fatalf("round %d: first request %+v %v", i, r, err)
		}
		// Odd rounds kill at any point of the build; even rounds wait for
		// the multipart upload to begin (after the first 16 MiB) and kill
		// within the next 250 ms, about how long it lasts on loopback.
		requested := time.Now()
		if i%2 == 0 {
			for n, _ := uploads(""); n == before && time.Since(requested) < 30*time.Second; n, _ = uploads("") {
				time.Sleep(5 * time.Millisecond)
			}
			time.Sleep(time.Duration(rand.Int64N(int64(250 * time.Millisecond))))
		} else {
			time.Sleep(time.Duration(rand.Int64N(int64(full) * 11 / 10)))
		}
		delay := time.Since(requested)
		ups, parts := uploads(job.ObjectKey(a))
		c.kill()
		unrecorded := nothingHalfWritten(a)
		published, _ := recordOf(a)
		var at string
		switch {
		case published:
			at = "after the file was recorded"
		case unrecorded >= 0:
			at = "after the upload completed, before the file was recorded"
		case ups > before:
			at = "during the multipart upload"
		default:
			at = "before the multipart upload began"
		}
		outcomes[at]++
		t.Logf("kill %d after %v: %s (%d parts sent)", i, delay.Round(time.Millisecond), at, parts)
		if after, _ := uploads(""); after > before {
			abandoned += after - before
		}

		c = startServeChild(t, dir, serveArgs...)
		if rescue != nil && !published {
			rescue()
		}
		_, recs := download(t, waitReadyWithin(t, c.Host, k, "2024-12", "L3", 2*time.Minute))
		expectFile(t, "L3", recs, rows)
		nothingHalfWritten(a)
		if _, n := recordOf(a); unrecorded >= 0 && unrecorded != n {
			t.Fatalf("round %d: the object found unrecorded after the kill had %d bytes, the whole file %d", i, unrecorded, n)
		}
	}
	c.kill()
	t.Logf("%d kills (the %d-byte file takes %v from the request): %s; %d multipart uploads left incomplete in the bucket",
		n, size, full.Round(time.Millisecond), outcomes, abandoned)
}

// waitReadyWithin is waitReady with a deadline of the test's choosing.
func waitReadyWithin(t testing.TB, host string, k key, month, fileType string, within time.Duration) string {
	t.Helper()
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		r, err := describe(t, host, k, month, fileType)
		if err != nil {
			t.Fatalf("DescribeBillDownloadUrl: %v", err)
		}
		if *r.Response.Ready == 1 {
			return *r.Response.DownloadUrl
		}
	}
	t.Fatalf("%s %s of %s not ready within %v", fileType, month, k.Uin, within)
	return ""
}
