package ledger

import (
	"fmt"
	"iter"
	"testing"
)

func numbered(n int, failAt int) iter.Seq2[Row, error] {
	return func(yield func(Row, error) bool) {
		for i := range n {
			if i == failAt {
				yield(Row{}, fmt.Errorf("row %d: broken", i))
				return
			}
			if !yield(Row{Id: fmt.Sprint(i)}, nil) {
				return
			}
		}
	}
}

func TestReadaheadKeepsOrderAndErrors(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 7, 8, 9, 1000} {
		var got []string
		for r, err := range Readahead(numbered(n, -1), 8, 2) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, r.Id)
		}
		if len(got) != n {
			t.Fatalf("n=%d: got %d rows", n, len(got))
		}
		for i, id := range got {
			if id != fmt.Sprint(i) {
				t.Fatalf("n=%d: row %d is %s", n, i, id)
			}
		}
	}
	// An error arrives after every row before it, and ends the stream.
	var seen int
	var gotErr error
	for r, err := range Readahead(numbered(100, 50), 8, 2) {
		if err != nil {
			gotErr = err
			continue
		}
		if r.Id != fmt.Sprint(seen) {
			t.Fatalf("row %d is %s", seen, r.Id)
		}
		seen++
	}
	if seen != 50 || gotErr == nil || gotErr.Error() != "row 50: broken" {
		t.Fatalf("saw %d rows then %v; want 50 rows then row 50's error", seen, gotErr)
	}
}

// A consumer that stops early stops the reader, and the reader has
// finished (its cursor closed) by the time the loop is over.
func TestReadaheadStopsTheReader(t *testing.T) {
	t.Parallel()
	closed := make(chan struct{})
	endless := func(yield func(Row, error) bool) {
		defer close(closed)
		for i := 0; ; i++ {
			if !yield(Row{Id: fmt.Sprint(i)}, nil) {
				return
			}
		}
	}
	n := 0
	for range Readahead(endless, 16, 2) {
		n++
		if n == 100 {
			break
		}
	}
	select {
	case <-closed:
	default:
		t.Fatal("the reader was still running after the loop ended")
	}
}
