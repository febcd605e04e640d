package main

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// waitRunning polls the job table until a build is running, so the test
// can stop the server in the middle of it.
func waitRunning(t *testing.T, dir string) {
	t.Helper()
	db := openDB(t, dir)
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		if countRows(t, db, `SELECT count(*) FROM river_job WHERE state = 'running'`) > 0 {
			return
		}
	}
	t.Fatal("no build started running within 20 s")
}

// noFileYet checks that an interrupted build left nothing a request can
// see: no recorded outcome and no file at the build's key.
func noFileYet(t *testing.T, dir, uin, fileType string) {
	t.Helper()
	db := openDB(t, dir)
	if n := countRows(t, db, `SELECT count(*) FROM bill_files WHERE owner_uin = ? AND kind = ?`, uin, fileType); n != 0 {
		t.Fatalf("an interrupted build recorded %d outcomes", n)
	}
	if _, err := os.Stat(filepath.Join(dir, "files", "bills", uin, "2024-12", fileType+"-v1.csv")); !os.IsNotExist(err) {
		t.Fatalf("an interrupted build published its file (stat: %v)", err)
	}
}

// TestBuildSurvivesStopAndKill stops the server in the middle of a build,
// once gracefully (SIGTERM: exit 0 within 10 s) and once with SIGKILL, and
// checks that each time the restarted server completes the file exactly.
func TestBuildSurvivesStopAndKill(t *testing.T) {
	t.Parallel()
	// Large enough that a build takes a good fraction of a second.
	w := setupWorld(t, 60_000)

	for _, tc := range []struct {
		fileType string
		sig      syscall.Signal
	}{{"L3", syscall.SIGTERM}, {"L2", syscall.SIGKILL}} {
		c := startChild(t, w.dir)
		if r, err := describe(t, c.Host, w.a, "2024-12", tc.fileType); err != nil || *r.Response.Ready != 0 {
			t.Fatalf("%s first request: %+v %v", tc.fileType, r, err)
		}
		waitRunning(t, w.dir)
		start := time.Now()
		if err := c.cmd.Process.Signal(tc.sig); err != nil {
			t.Fatal(err)
		}
		err := c.cmd.Wait()
		if tc.sig == syscall.SIGTERM {
			if err != nil || time.Since(start) > 10*time.Second {
				t.Fatalf("SIGTERM mid-build: exit %v after %v, want 0 within 10 s\n%s", err, time.Since(start), c.logs.String())
			}
		}
		noFileYet(t, w.dir, w.a.Uin, tc.fileType)

		c = startChild(t, w.dir)
		link := waitReady(t, c.Host, w.a, "2024-12", tc.fileType)
		_, recs := download(t, link)
		mine := w.rowsOf(w.a.Uin)
		if tc.fileType == "L3" {
			sortRows(mine, "TransactionTime", "Id")
			compareRecords(t, l3Header, recs, mine)
		} else {
			compareRecords(t, l2Header, recs, expectedL2(mine))
		}
		c.cmd.Process.Signal(syscall.SIGTERM)
		if err := c.cmd.Wait(); err != nil {
			t.Fatalf("stop after the build: %v", err)
		}
	}
}
