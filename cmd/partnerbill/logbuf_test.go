package main

import (
	"bytes"
	"errors"
	"fmt"
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

// gatedWriter blocks every Write until the test lets it go, and can fail
// its first write.
type gatedWriter struct {
	entered chan struct{} // receives once per Write that has started
	release chan struct{} // each receive lets one Write finish
	failOne bool
	lockedBuffer
}

func (g *gatedWriter) Write(p []byte) (int, error) {
	g.entered <- struct{}{}
	<-g.release
	if g.failOne {
		g.failOne = false
		return 0, errors.New("disk full")
	}
	return g.lockedBuffer.Write(p)
}

func TestLogBufferWriteNeverWaitsForTheWriter(t *testing.T) {
	t.Parallel()
	out := &gatedWriter{entered: make(chan struct{}, 100), release: make(chan struct{}, 100)}
	buf := newLogBuffer(out)
	fmt.Fprintf(buf, "line 0\n")
	flushed := make(chan error, 1)
	go func() { flushed <- buf.Flush() }()
	<-out.entered // the flush is now inside the underlying writer, held there

	// Lines logged meanwhile (more than a batch's worth) are taken without
	// waiting for it.
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		for i := 1; i <= 2000; i++ {
			fmt.Fprintf(buf, "line %d %s\n", i, strings.Repeat("x", 64))
		}
	}()
	select {
	case <-wrote:
	case <-time.After(30 * time.Second):
		t.Fatal("Write waited for the underlying writer to finish a flush")
	}
	// Let every write through from now on, and check that nothing was lost
	// or reordered.
	for range 100 {
		out.release <- struct{}{}
	}
	if err := <-flushed; err != nil {
		t.Fatal(err)
	}
	if err := buf.Close(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 2001 {
		t.Fatalf("%d lines written; want 2001", len(lines))
	}
	for i, l := range lines {
		if !strings.HasPrefix(l, fmt.Sprintf("line %d", i)) || (i > 0 && !strings.HasPrefix(l, fmt.Sprintf("line %d ", i))) {
			t.Fatalf("line %d is %q: lines were lost or reordered", i, l)
		}
	}
}

func TestLogBufferWritesOnAfterAFailedWrite(t *testing.T) {
	t.Parallel()
	out := &gatedWriter{entered: make(chan struct{}, 100), release: make(chan struct{}, 100), failOne: true}
	for range 100 {
		out.release <- struct{}{}
	}
	buf := newLogBuffer(out)
	fmt.Fprintln(buf, "lost with the failed write")
	if err := buf.Flush(); err == nil {
		t.Fatal("Flush reported no error for a failed write")
	}
	fmt.Fprintln(buf, "written later")
	if err := buf.Close(); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "written later\n" {
		t.Fatalf("output %q; want only the line logged after the failure", got)
	}
}
