package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var nodeOnce sync.Once
var nodeErr error

// nodeSDK makes sure the official Node SDK is installed under
// testdata/node (npm ci, from the committed lock file) and returns that
// folder. Without node the test fails in CI and is skipped elsewhere.
func nodeSDK(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("node is not installed; the Node SDK tests need Node.js 20")
		}
		t.Skip("node is not installed: skipping the Node SDK tests")
	}
	dir, _ := filepath.Abs(filepath.Join("testdata", "node"))
	nodeOnce.Do(func() {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", "tencentcloud-sdk-nodejs-intl-en")); err == nil {
			return
		}
		cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			nodeErr = err
			t.Logf("npm ci: %s", out)
		}
	})
	if nodeErr != nil {
		t.Fatalf("installing the Node SDK: %v", nodeErr)
	}
	return dir
}

// nodeCall runs call.js and returns the responses it printed.
func nodeCall(t *testing.T, dir string, env ...string) []map[string]any {
	t.Helper()
	cmd := exec.Command("node", "call.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node call.js: %v\n%s", err, out)
	}
	var resps []map[string]any
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("call.js printed %q", sc.Text())
		}
		resps = append(resps, m)
	}
	if len(resps) == 0 {
		t.Fatal("call.js printed nothing")
	}
	return resps
}

func TestNodeSDKDefaultV1AndTC3(t *testing.T) {
	t.Parallel()
	dir := nodeSDK(t)
	w := setupWorld(t, 100)
	srv := startServer(t, w.dir)
	port := srv.Host[strings.LastIndex(srv.Host, ":")+1:]
	creds := []string{"PB_ID=" + w.a.SecretId, "PB_KEY=" + w.a.SecretKey, "PB_MONTH=2024-12"}

	cases := []struct {
		name, fileType string
		env            []string
	}{
		// The SDK's default profile: signature v1 (HmacSHA256) form POST; a
		// bare IP endpoint is fine, v1 names no service.
		{"default v1", "L3", []string{"PB_SIGN=v1", "PB_ENDPOINT=" + srv.Host}},
		// TC3 takes the service from the endpoint's first label, so the
		// endpoint is intlpartnersmgt.localhost, dialled on the local port.
		{"TC3", "L2", []string{"PB_SIGN=tc3", "PB_ENDPOINT=intlpartnersmgt.localhost:" + port, "PB_CONNECT=127.0.0.1:" + port}},
	}
	for _, c := range cases {
		resps := nodeCall(t, dir, append(append(c.env, creds...), "PB_FILETYPE="+c.fileType)...)
		first, last := resps[0], resps[len(resps)-1]
		if first["Ready"] != float64(0) || first["DownloadUrl"] != "" {
			t.Fatalf("%s: first answer %v, want Ready 0", c.name, first)
		}
		if last["Ready"] != float64(1) {
			t.Fatalf("%s: last answer %v, want Ready 1", c.name, last)
		}
		_, recs := download(t, last["DownloadUrl"].(string))
		mine := w.rowsOf(w.a.Uin)
		if c.fileType == "L3" {
			sortRows(mine, "TransactionTime", "Id")
			compareRecords(t, l3Header, recs, mine)
		} else {
			compareRecords(t, l2Header, recs, expectedL2(mine))
		}
	}

	// TC3 from a bare IP endpoint signs for service "127": refused, with a
	// message that says how to fix it.
	resps := nodeCall(t, dir, append(creds, "PB_SIGN=tc3", "PB_ENDPOINT="+srv.Host, "PB_FILETYPE=L3")...)
	if e, _ := resps[0]["error"].(string); !strings.Contains(e, "AuthFailure.SignatureFailure") {
		t.Fatalf("TC3 from %s: %v, want AuthFailure.SignatureFailure", srv.Host, resps[0])
	}
}

func TestNodeSDKTC3OnBareIPWithAcceptAnyService(t *testing.T) {
	t.Parallel()
	dir := nodeSDK(t)
	w := setupWorld(t, 20)
	srv := startServer(t, w.dir, "--accept-any-service")
	resps := nodeCall(t, dir, "PB_SIGN=tc3", "PB_ENDPOINT="+srv.Host, "PB_ID="+w.a.SecretId, "PB_KEY="+w.a.SecretKey, "PB_MONTH=2024-12", "PB_FILETYPE=L3")
	if last := resps[len(resps)-1]; last["Ready"] != float64(1) {
		t.Fatalf("TC3 with --accept-any-service: %v", resps)
	}
}
