package ledger

import "iter"

// Readahead runs rows (line items, usually) on a goroutine of its own, handing rows over in
// batches of batchSize with at most depth batches waiting, so that reading
// (a database stepping and decoding its rows, a file being parsed) and
// the consumer's work (a bill file's encoding, inserts) use two cores instead of taking turns on one.
// Memory is bounded by (depth+2)·batchSize rows whatever the stream's
// length. When the consumer stops early, the reader is stopped and waited
// for before the returned sequence returns, so nothing outlives it (a
// database cursor in particular).
func Readahead[T any](rows iter.Seq2[T, error], batchSize, depth int) iter.Seq2[T, error] {
	if batchSize < 1 {
		batchSize = 1
	}
	type batch struct {
		rows []T
		err  error
	}
	return func(yield func(T, error) bool) {
		full := make(chan batch, depth)
		free := make(chan []T, depth+2)
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			defer close(full)
			buf := make([]T, 0, batchSize)
			send := func(b batch) bool {
				select {
				case full <- b:
					return true
				case <-stop:
					return false
				}
			}
			for r, err := range rows {
				if err != nil {
					send(batch{rows: buf, err: err})
					return
				}
				buf = append(buf, r)
				if len(buf) == batchSize {
					if !send(batch{rows: buf}) {
						return
					}
					select {
					case buf = <-free:
					default:
						buf = make([]T, 0, batchSize)
					}
				}
			}
			if len(buf) > 0 {
				send(batch{rows: buf})
			}
		}()
		defer func() {
			close(stop)
			<-done
		}()
		for b := range full {
			for i := range b.rows {
				if !yield(b.rows[i], nil) {
					return
				}
			}
			if b.err != nil {
				var zero T
				yield(zero, b.err)
				return
			}
			clear(b.rows) // drop what they point to before reuse
			select {
			case free <- b.rows[:0]:
			default:
			}
		}
	}
}
