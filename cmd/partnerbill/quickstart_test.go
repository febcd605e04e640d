package main

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestDemoCurlSnippetWorks runs serve --demo as the README's quick start
// does and pastes the curl call it prints into bash until the file is
// ready, then downloads it.
func TestDemoCurlSnippetWorks(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"bash", "curl", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the quick start's curl call needs %s", tool)
		}
	}
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	found := make(chan string, 1)
	out := &lineWriter{found: found}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--demo", "--addr", "127.0.0.1:0", "--data-dir", dir}, testEnv, nil, out, &lineWriter{})
	}()
	select {
	case <-found:
	case err := <-done:
		t.Fatalf("serve --demo: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve --demo did not start")
	}
	text := out.String()
	start := strings.Index(text, "  ID=")
	end := strings.Index(text, "; echo")
	if start < 0 || end < 0 {
		t.Fatalf("no curl snippet in:\n%s", text)
	}
	snippet := text[start : end+len("; echo")]
	var link string
	for deadline := time.Now().Add(30 * time.Second); link == "" && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		got, err := exec.Command("bash", "-c", snippet).Output()
		if err != nil {
			t.Fatalf("snippet failed: %v\n%s", err, snippet)
		}
		var r struct{ Response map[string]any }
		if err := json.Unmarshal(got, &r); err != nil {
			t.Fatalf("snippet printed %q", got)
		}
		if r.Response["Error"] != nil {
			t.Fatalf("snippet got an error: %v", r.Response["Error"])
		}
		if r.Response["Ready"] == float64(1) {
			link = r.Response["DownloadUrl"].(string)
		}
	}
	if link == "" {
		t.Fatal("the demo file was not ready within 30 s")
	}
	_, recs := download(t, link)
	if len(recs) != 501 {
		t.Errorf("demo L3 file has %d records, want header + 500", len(recs))
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve --demo stopped with %v", err)
	}
}
