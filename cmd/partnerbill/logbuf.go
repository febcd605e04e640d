package main

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// logBuffer batches the server's log output. The server logs a line per
// request; written one by one, that is a system call per request, which
// was a few percent of a busy server's CPU. Lines reach the underlying
// writer within flushEvery (sooner once flushAt bytes are waiting),
// warnings and errors at once (flushOnWarn), and everything on Close. A
// process killed outright loses at most the last flushEvery of request
// lines.
//
// Writing never waits for the underlying writer: a request appends its
// line under a short lock, and the flusher takes the whole batch and
// writes it after letting go of that lock. (An earlier version wrote
// through a bufio.Writer under one lock, so every request that logged
// while a 64 KiB batch went to disk waited for it: a stall of every
// request in flight every few dozen milliseconds under load, which showed
// in the tail latency.) Only when the writer falls behind by maxPending
// does a request write the backlog itself, which bounds the memory.
type logBuffer struct {
	out io.Writer

	mu      sync.Mutex // guards pending
	pending []byte

	flushMu sync.Mutex // one batch at a time goes out, in order
	spare   []byte     // the last batch's storage, reused; guarded by flushMu

	kick chan struct{} // asks the flusher for an early flush
	stop chan struct{}
	done chan struct{}
}

const (
	flushEvery = 100 * time.Millisecond
	flushAt    = 64 << 10
	maxPending = 4 << 20
)

func newLogBuffer(w io.Writer) *logBuffer {
	b := &logBuffer{out: w, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(b.done)
		t := time.NewTicker(flushEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
			case <-b.kick:
			case <-b.stop:
				return
			}
			b.Flush()
		}
	}()
	return b
}

// Write keeps a copy of p for the next flush. It reports no write errors:
// those belong to the flush that meets them.
func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	b.pending = append(b.pending, p...)
	n := len(b.pending)
	b.mu.Unlock()
	switch {
	case n >= maxPending:
		b.Flush()
	case n >= flushAt:
		select {
		case b.kick <- struct{}{}:
		default: // a flush is already asked for
		}
	}
	return len(p), nil
}

// Flush writes out what is waiting. A batch whose write fails is dropped,
// and later lines are written as usual.
func (b *logBuffer) Flush() error {
	b.flushMu.Lock()
	defer b.flushMu.Unlock()
	b.mu.Lock()
	batch := b.pending
	b.pending = b.spare[:0]
	b.mu.Unlock()
	if len(batch) == 0 {
		b.spare = batch
		return nil
	}
	_, err := b.out.Write(batch)
	if cap(batch) <= maxPending {
		b.spare = batch[:0]
	} else {
		b.spare = nil // do not keep a rare large backlog's storage
	}
	return err
}

// Close stops the periodic flush and flushes; later writes still buffer
// and are written by a later Flush.
func (b *logBuffer) Close() error {
	select {
	case <-b.stop:
	default:
		close(b.stop)
	}
	<-b.done
	return b.Flush()
}

// flushOnWarn is a slog.Handler that flushes its buffer after every record
// at Warn or above, so that problems show at once.
type flushOnWarn struct {
	slog.Handler
	buf *logBuffer
}

func (h flushOnWarn) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level >= slog.LevelWarn {
		h.buf.Flush()
	}
	return err
}

func (h flushOnWarn) WithAttrs(as []slog.Attr) slog.Handler {
	return flushOnWarn{h.Handler.WithAttrs(as), h.buf}
}

func (h flushOnWarn) WithGroup(name string) slog.Handler {
	return flushOnWarn{h.Handler.WithGroup(name), h.buf}
}
