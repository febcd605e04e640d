package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"runtime/trace"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/partnerbill/partnerbill/internal/filestore"
	"github.com/partnerbill/partnerbill/internal/gateway"
	"github.com/partnerbill/partnerbill/internal/job"
	"github.com/partnerbill/partnerbill/internal/metrics"
	"github.com/partnerbill/partnerbill/internal/ratelimit"
)

// serveOptions are serve's own flags.
type serveOptions struct {
	addr       string
	publicURL  string
	anyService bool
	demo       bool
	logFormat  string
	noMigrate  bool
	redisURL   string
	// buildTimeout bounds one build attempt.
	buildTimeout time.Duration
	// jobOptions lets tests shorten retries; flags do not set it.
	jobOptions job.Options
	// nowFunc lets tests move the clock; nil is time.Now.
	nowFunc func() time.Time
}

func serveCommand(cfg *Config, getenv env) *cobra.Command {
	o := &serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve [--addr HOST:PORT] [--public-url URL]",
		Short: "Serve the partner billing API",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return serve(cmd.Context(), cfg, o, getenv, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.addr, "addr", "127.0.0.1:8080", "address to listen on")
	f.StringVar(&o.publicURL, "public-url", "", "base URL of download links (default http://ADDR, with the port actually bound)")
	f.BoolVar(&o.anyService, "accept-any-service", false,
		"accept TC3 signatures whatever service their credential scope names; for local clients that derive it from a bare IP endpoint (the Node SDK)")
	f.BoolVar(&o.demo, "demo", false, "create a demo end customer with last month's synthetic bill and print ready-to-paste calls")
	f.StringVar(&o.logFormat, "log-format", "text", "request log format: text or json (on stderr)")
	f.StringVar(&o.redisURL, "redis", getenv("PARTNERBILL_REDIS"),
		"redis://HOST:PORT/DB shared by all replicas for the rate limit; empty keeps it in this process (env PARTNERBILL_REDIS)")
	f.BoolVar(&o.noMigrate, "no-migrate", false, "do not apply migrations at start (run partnerbill migrate first)")
	f.DurationVar(&o.buildTimeout, "build-timeout", 30*time.Minute,
		"longest a bill file build may run; a build left running by a dead replica is retried this long plus 5 minutes after it started")
	return cmd
}

// serveGCPercent is the garbage collector's pace for serve when GOGC is
// not set. A server's live heap is small (a few MiB: caches, connections),
// and every request leaves garbage (about 13 KiB when this was measured,
// about 6 KiB since), so at Go's default (GOGC=100) a busy server
// collected some fifteen times a second, each time taking a share of the
// CPU from requests. At 200 it collects half as
// often: the request path's throughput rose by about 10% and builds got
// faster, for about 5 MiB more memory in an L3 build. (400 gained a little
// more throughput but raised an L2 build's peak from 67 to 101 MiB.) GOGC
// in the environment overrides it.
const serveGCPercent = 200

// serve runs the server until ctx ends, then stops taking requests,
// finishes those in flight and cancels running builds (they resume after a
// restart), all within shutdownGrace.
func serve(ctx context.Context, cfg *Config, o *serveOptions, getenv env, stdout, stderr io.Writer) error {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(serveGCPercent)
	}
	logs := newLogBuffer(stderr)
	defer logs.Close()
	var h slog.Handler
	switch o.logFormat {
	case "text":
		h = slog.NewTextHandler(logs, nil)
	case "json":
		h = slog.NewJSONHandler(logs, nil)
	default:
		return fmt.Errorf("--log-format %q: want text or json", o.logFormat)
	}
	logger := slog.New(flushOnWarn{h, logs})
	kind, err := cfg.database()
	if err != nil {
		return err
	}
	if kind == dbSQLite {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return fmt.Errorf("data folder: %w", err)
		}
		unlock, err := lockDataDir(cfg.DataDir)
		if err != nil {
			return err
		}
		defer unlock()
	}

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.addr, err)
	}
	defer ln.Close()
	base := "http://" + ln.Addr().String()
	public := o.publicURL
	if public == "" {
		public = base
	}
	files, err := filestore.Open(ctx, cfg.Storage, filestore.Options{
		DataDir: cfg.DataDir, PublicURL: public, LinkKey: getenv("PARTNERBILL_LINK_KEY"), Logger: logger,
	})
	if err != nil {
		return err
	}
	defer files.Close()

	m := metrics.New()
	limiter, closeLimiter, err := openLimiter(o.redisURL, logger, m)
	if err != nil {
		return err
	}
	defer closeLimiter()

	jo := o.jobOptions
	jo.Logger = logger
	jo.Metrics = m
	jo.BuildTimeout = o.buildTimeout
	be, err := cfg.openBackend(ctx, files, jo, o.noMigrate)
	if err != nil {
		return err
	}
	defer be.close()
	st, queue := be.store, be.queue
	if be.exclusive {
		if n, err := queue.RescueOrphans(ctx); err != nil {
			return err
		} else if n > 0 {
			logger.Info("resuming builds interrupted by the last stop", "builds", n)
		}
	}
	if err := queue.Start(context.WithoutCancel(ctx)); err != nil {
		if o.noMigrate {
			return fmt.Errorf("start job queue (started with --no-migrate: has partnerbill migrate been run on this database?): %w", err)
		}
		return fmt.Errorf("start job queue: %w", err)
	}

	gw := gateway.New(gateway.Config{
		Accounts:   st,
		Files:      &job.Files{Store: st, Queue: queue},
		Links:      files,
		Limiter:    limiter,
		Logger:     logger,
		Metrics:    m,
		AnyService: o.anyService,
		NowFunc:    o.nowFunc,
		// Clients poll: on PostgreSQL each caller's key is read once a
		// second, so `key disable` takes effect within that second; the
		// embedded store caches exactly and needs no TTL.
		KeyCacheTTL: be.keyCacheTTL,
	})
	srv := &http.Server{
		Handler:           gateway.Routes(gw, filestore.DownloadPath, downloadDeadline(files.Handler()), st.Ping, m),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}

	if o.demo {
		if err := demo(ctx, st, base, stdout); err != nil {
			return fmt.Errorf("demo data: %w", err)
		}
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "partnerbill listening on %s\n", base)

	select {
	case err := <-serveErr:
		queue.Stop(context.Background())
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- queue.Stop(sctx) }()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		logger.Warn("requests still in flight at shutdown were cut off", "err", err)
	}
	if err := <-stopped; err != nil {
		logger.Warn("job queue stop", "err", err)
	}
	return nil
}

// shutdownGrace bounds a graceful stop, within the 10 seconds a supervisor
// is promised.
const shutdownGrace = 8 * time.Second

// downloadDeadline lets a download run past the API's write timeout, for
// as long as its link is valid.
func downloadDeadline(h http.Handler) http.Handler {
	if h == nil {
		return nil // the object store serves its own links
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.NewResponseController(w).SetWriteDeadline(time.Now().Add(time.Hour))
		h.ServeHTTP(w, r)
	})
}

// lockDataDir makes sure only one server works a data folder: builds left
// running by a previous process are resumed at start, which is only safe
// when no other server is running them. Admin commands take no lock.
func lockDataDir(dir string) (func(), error) {
	path := filepath.Join(dir, "serve.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock data folder: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("another partnerbill serve is using the data folder %s (lock %s)", dir, path)
		}
		return nil, fmt.Errorf("lock data folder: %w", err)
	}
	return func() { f.Close() }, nil
}

// openLimiter returns the rate limiter: in process, or shared through
// Redis with the in-process one as its fallback while Redis is away.
func openLimiter(redisURL string, logger *slog.Logger, m *metrics.Metrics) (ratelimit.Limiter, func(), error) {
	local := ratelimit.NewLocal()
	if redisURL == "" {
		return local, func() {}, nil
	}
	client, err := ratelimit.OpenRedis(redisURL)
	if err != nil {
		return nil, nil, fmt.Errorf("--redis: %w", err)
	}
	// go-redis logs through a global logger of its own; send it to ours.
	redis.SetLogger(redisLog{logger})
	lim := ratelimit.NewRedis(client, local, &ratelimit.RedisOptions{Logger: logger, FallbackFunc: m.RateLimitFallback})
	return lim, func() { client.Close() }, nil
}

// redisLog passes go-redis's own messages to slog at warning level.
type redisLog struct{ l *slog.Logger }

func (r redisLog) Printf(ctx context.Context, format string, v ...any) {
	r.l.WarnContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}

// startProfiles starts a CPU profile and an execution trace and arranges
// for an allocation profile, each when its path is set; the returned
// function writes them out.
func startProfiles(cpuPath, memPath, tracePath string) (func(), error) {
	var cpu, tr *os.File
	if cpuPath != "" {
		f, err := os.Create(cpuPath)
		if err != nil {
			return nil, fmt.Errorf("--cpuprofile: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, fmt.Errorf("--cpuprofile: %w", err)
		}
		cpu = f
	}
	if tracePath != "" {
		f, err := os.Create(tracePath)
		if err == nil {
			err = trace.Start(f)
		}
		if err != nil {
			if cpu != nil {
				pprof.StopCPUProfile()
				cpu.Close()
			}
			if f != nil {
				f.Close()
			}
			return nil, fmt.Errorf("--trace: %w", err)
		}
		tr = f
	}
	return func() {
		if cpu != nil {
			pprof.StopCPUProfile()
			cpu.Close()
		}
		if tr != nil {
			trace.Stop()
			tr.Close()
		}
		if memPath != "" {
			if f, err := os.Create(memPath); err == nil {
				pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		}
	}, nil
}
