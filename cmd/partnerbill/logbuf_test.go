package main

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer safe to read while the flusher writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestLogBufferWarnsAtOnceAndFlushesTheRest(t *testing.T) {
	t.Parallel()
	var out lockedBuffer
	buf := newLogBuffer(&out)
	log := slog.New(flushOnWarn{slog.NewTextHandler(buf, nil), buf}).With("request_id", "r1")
	log.Info("request", "code", "ok")
	log.Warn("something to see")
	if s := out.String(); !strings.Contains(s, "something to see") || !strings.Contains(s, "code=ok") {
		t.Fatalf("after a warning, the output is %q; want both lines", s)
	}
	log.Info("request", "code", "later")
	for deadline := time.Now().Add(10 * flushEvery); !strings.Contains(out.String(), "code=later"); {
		if time.Now().After(deadline) {
			t.Fatalf("an info line was not written within %v", 10*flushEvery)
		}
		time.Sleep(flushEvery / 4)
	}
	log.Info("request", "code", "last")
	if err := buf.Close(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "code=last") {
		t.Fatal("Close did not write out the last line")
	}
}
