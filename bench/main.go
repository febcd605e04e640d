// Command bench measures partnerbill where its users feel it, each figure
// against a baseline doing the same work in the same run on the same
// machine, and prints one table:
//
//	go run ./bench                      # small sizes, a few minutes
//	go run ./bench -rows 1000000 -large-rows 10000000   # the full run
//
// Scenarios: the signed request path against a bare net/http handler
// returning the same bytes; time from the first request to Ready 1 for one
// customer-month, L3 and L2, against the database's own CSV export of the
// same rows; peak memory of a build at two sizes; and ledger import
// against the database's own bulk loader. With PARTNERBILL_DATABASE set to
// a postgres:// URL the database scenarios run on PostgreSQL (baselines
// through psql); the default is the embedded SQLite (baselines through the
// sqlite3 command-line shell).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"text/tabwriter"
	"time"
)

// config is the command line.
type config struct {
	scenarios   map[string]bool
	rows        int
	largeRows   int
	accounts    int
	duration    time.Duration
	concurrency int
	runs        int
	workDir     string
	keep        bool
	database    string
	profileDir  string
	trace       bool
}

func main() {
	// The bench binary doubles as the bare net/http baseline server:
	// -baseline-serve ADDR BODYFILE [BURN].
	if (len(os.Args) == 4 || len(os.Args) == 5) && os.Args[1] == "-baseline-serve" {
		var burn time.Duration
		if len(os.Args) == 5 {
			d, err := time.ParseDuration(os.Args[4])
			if err != nil {
				fmt.Fprintln(os.Stderr, "bench: -baseline-serve:", err)
				os.Exit(2)
			}
			burn = d
		}
		serveBaseline(os.Args[2], os.Args[3], burn)
		return
	}
	// The load generator shares the machine with the servers it measures:
	// collecting less often keeps its own pauses out of both sides'
	// latencies (its heap is a few MiB of latency samples).
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	var c config
	var scen string
	flag.StringVar(&scen, "scenarios", "request,ready,memory,import", "comma-separated scenarios: request, ready, memory, import")
	flag.IntVar(&c.rows, "rows", 200_000, "line items of the customer-month for ready and import (full run: 1000000)")
	flag.IntVar(&c.largeRows, "large-rows", 1_000_000, "line items of the larger month in the memory scenario (full run: 10000000)")
	flag.IntVar(&c.accounts, "accounts", 2000, "accounts the request path is spread over, so no rate limit is hit (each may make 20 requests a second)")
	flag.DurationVar(&c.duration, "duration", 5*time.Second, "length of each load phase")
	flag.IntVar(&c.concurrency, "concurrency", 32, "concurrent keep-alive connections of the load generator")
	flag.IntVar(&c.runs, "runs", 3, "runs per timed measurement; the table shows medians")
	flag.StringVar(&c.workDir, "work", "", "working folder (default: a temporary one, removed afterwards)")
	flag.BoolVar(&c.keep, "keep", false, "keep the working folder, with the servers' logs in its logs folder and the memory scenario's data folders")
	flag.StringVar(&c.profileDir, "profile", "", "write CPU and allocation profiles of the partnerbill server for each scenario into this folder")
	flag.BoolVar(&c.trace, "trace", false, "with -profile, also write a Go execution trace of each server (go tool trace; large under load)")
	flag.Parse()
	c.scenarios = map[string]bool{}
	for _, s := range strings.Split(scen, ",") {
		c.scenarios[strings.TrimSpace(s)] = true
	}
	c.database = os.Getenv("PARTNERBILL_DATABASE")

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	results, err := runAll(ctx, c)
	printTable(os.Stdout, results)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// result is one row of the table.
type result struct {
	scenario    string
	partnerbill string
	baseline    string
	ratio       string
	target      string
}

func printTable(w *os.File, rs []result) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tPARTNERBILL\tBASELINE\tRATIO\tTARGET")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.scenario, r.partnerbill, r.baseline, r.ratio, r.target)
	}
	tw.Flush()
}

// logf reports progress on stderr, keeping stdout for the table.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}
