package ledger

import (
	"bytes"
	"io"
	"testing"
	"time"
)

// benchSynthCSV returns a synth CSV file of n rows for the reader benchmarks.
func benchSynthCSV(b *testing.B, n int) []byte {
	b.Helper()
	return synthBytes(b, SynthOptions{Customers: n / 1000, RowsPerCustomer: 1000, Month: Month{2024, time.March}, Seed: 1})
}

func BenchmarkSynth(b *testing.B) {
	_, rows, err := Synth(SynthOptions{Customers: 1, RowsPerCustomer: b.N, Month: Month{2024, time.March}, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for r := range rows {
		_ = r
	}
}

func BenchmarkWriter(b *testing.B) {
	r := validRow()
	w := NewWriter(io.Discard, true)
	b.ReportAllocs()
	for b.Loop() {
		if err := w.Write(&r); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkCSVReader(b *testing.B) {
	data := benchSynthCSV(b, 10_000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		rd, err := NewReader("bench.csv", bytes.NewReader(data), FormatCSV)
		if err != nil {
			b.Fatal(err)
		}
		for _, err := range rd.All() {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkJSONLReader(b *testing.B) {
	var buf bytes.Buffer
	for range 10_000 {
		buf.WriteString(jsonGood)
		buf.WriteByte('\n')
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		rd, err := NewReader("bench.jsonl", bytes.NewReader(data), FormatJSONL)
		if err != nil {
			b.Fatal(err)
		}
		for _, err := range rd.All() {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}
