// Package filestore keeps bill files in a gocloud.dev/blob bucket and hands
// out expiring download links for them. The embedded default is a fileblob
// bucket under the data folder whose links are HMAC-signed and served by
// partnerbill itself (Handler); other buckets (S3) will hand out their own
// presigned links.
package filestore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	"gocloud.dev/gcerrors"
)

// DownloadPath is where partnerbill serves signed links to fileblob files.
const DownloadPath = "/download"

// Store is a bucket of bill files plus the means to link to them.
type Store struct {
	bucket *blob.Bucket
	// signer verifies links partnerbill serves itself; nil when the bucket
	// serves its own links.
	signer *fileblob.URLSignerHMAC
	logger *slog.Logger
}

// Options configures Open.
type Options struct {
	// DataDir is the data folder: an empty storage URL means bill files in
	// DataDir/files, and the link signing key lives in DataDir unless
	// LinkKey is set.
	DataDir string
	// PublicURL is the base of download links (scheme, host and optional
	// path prefix), for example http://127.0.0.1:8080.
	PublicURL string
	// LinkKey, when not empty, is the hex-encoded HMAC key for download
	// links (PARTNERBILL_LINK_KEY); otherwise DataDir/link-signing.key is
	// used, created on first start.
	LinkKey string
	// Logger receives download errors; nil discards them.
	Logger *slog.Logger
}

// Open opens the bucket named by storageURL: "" (files under the data
// folder) or file:///absolute/path. Other schemes are refused with a
// message saying what is supported, never ignored.
func Open(ctx context.Context, storageURL string, opts Options) (*Store, error) {
	dir := filepath.Join(opts.DataDir, "files")
	if storageURL != "" {
		u, err := url.Parse(storageURL)
		if err != nil {
			return nil, fmt.Errorf("storage URL %q: %w", storageURL, err)
		}
		switch u.Scheme {
		case "file":
			if u.Path == "" || u.Host != "" {
				return nil, fmt.Errorf("storage URL %q: a file URL names an absolute folder, for example file:///var/lib/partnerbill/files", storageURL)
			}
			dir = u.Path
		default:
			return nil, fmt.Errorf("storage URL %q: scheme %q is not supported by this build; use file:///PATH, or leave it empty for files under the data folder", storageURL, u.Scheme)
		}
	}
	key, err := linkKey(opts)
	if err != nil {
		return nil, err
	}
	base, err := url.Parse(strings.TrimSuffix(opts.PublicURL, "/") + DownloadPath)
	if err != nil || base.Scheme == "" || base.Host == "" {
		return nil, fmt.Errorf("public URL %q: want an absolute URL such as http://127.0.0.1:8080", opts.PublicURL)
	}
	signer := fileblob.NewURLSignerHMAC(base, key)
	b, err := fileblob.OpenBucket(dir, &fileblob.Options{
		URLSigner: signer,
		CreateDir: true,
		// Temporary files beside their target, so the final rename never
		// crosses file systems and a published file is always whole.
		NoTempDir: true,
	})
	if err != nil {
		return nil, fmt.Errorf("open file storage %s: %w", dir, err)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Store{bucket: b, signer: signer, logger: logger}, nil
}

// linkKey returns the HMAC key of download links. Keeping it in the data
// folder means links stay valid across restarts.
func linkKey(opts Options) ([]byte, error) {
	if opts.LinkKey != "" {
		k, err := hex.DecodeString(opts.LinkKey)
		if err != nil || len(k) < 16 {
			return nil, errors.New("PARTNERBILL_LINK_KEY: want at least 32 hex digits (16 bytes)")
		}
		return k, nil
	}
	path := filepath.Join(opts.DataDir, "link-signing.key")
	b, err := os.ReadFile(path)
	if err == nil {
		k, err := hex.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(k) < 16 {
			return nil, fmt.Errorf("%s: want at least 32 hex digits; delete the file to make a new key (links already handed out stop working)", path)
		}
		return k, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read link signing key: %w", err)
	}
	k := make([]byte, 32)
	rand.Read(k)
	if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
		return nil, err
	}
	// O_EXCL: if another process made the key first, use that one.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return linkKey(opts)
	}
	if err != nil {
		return nil, fmt.Errorf("create link signing key: %w", err)
	}
	if _, err := f.WriteString(hex.EncodeToString(k) + "\n"); err != nil {
		f.Close()
		return nil, err
	}
	return k, f.Close()
}

// Close releases the bucket.
func (s *Store) Close() error { return s.bucket.Close() }

// Meta describes a file being written.
type Meta struct {
	ContentType string
	// FileName is the name a browser saves the download as.
	FileName string
}

// Put writes the object key with whatever write sends it. The object
// appears whole when write returns nil and never otherwise: on error the
// upload is abandoned and nothing is published.
func (s *Store) Put(ctx context.Context, key string, m Meta, write func(io.Writer) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := s.bucket.NewWriter(ctx, key, &blob.WriterOptions{
		ContentType:        m.ContentType,
		ContentDisposition: fmt.Sprintf("attachment; filename=%q", m.FileName),
		// A bill file is written once, straight through; a large buffer
		// means fewer, larger writes.
		BufferSize: 1 << 20,
	})
	if err != nil {
		return fmt.Errorf("store %s: %w", key, err)
	}
	if err := write(w); err != nil {
		cancel() // abandons the upload: Close publishes nothing
		w.Close()
		return fmt.Errorf("store %s: %w", key, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("store %s: %w", key, err)
	}
	return nil
}

// Exists reports whether key holds a file.
func (s *Store) Exists(ctx context.Context, key string) (bool, error) {
	return s.bucket.Exists(ctx, key)
}

// SignedURL mints a GET link to key that works, without credentials, until
// expiry has passed.
func (s *Store) SignedURL(ctx context.Context, key string, expiry time.Duration) (string, error) {
	u, err := s.bucket.SignedURL(ctx, key, &blob.SignedURLOptions{Expiry: expiry, Method: http.MethodGet})
	if err != nil {
		return "", fmt.Errorf("sign link to %s: %w", key, err)
	}
	return u, nil
}

// Handler serves the links SignedURL mints for a fileblob bucket. A link
// that is altered, expired or not a GET link gets 403 Forbidden, the same
// answer whether or not the file exists.
func (s *Store) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if s.signer == nil {
			http.NotFound(w, r)
			return
		}
		key, err := s.signer.KeyFromURL(r.Context(), r.URL)
		if err != nil || r.URL.Query().Get("method") != http.MethodGet {
			http.Error(w, "this download link is invalid or has expired; ask the API for a fresh one", http.StatusForbidden)
			return
		}
		attrs, err := s.bucket.Attributes(r.Context(), key)
		if gcerrors.Code(err) == gcerrors.NotFound {
			http.NotFound(w, r)
			return
		}
		if err != nil {
			s.logger.Error("download: attributes", "key", key, "err", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		rd, err := s.bucket.NewReader(r.Context(), key, nil)
		if err != nil {
			s.logger.Error("download: open", "key", key, "err", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		defer rd.Close()
		if attrs.ContentType != "" {
			w.Header().Set("Content-Type", attrs.ContentType)
		}
		if attrs.ContentDisposition != "" {
			w.Header().Set("Content-Disposition", attrs.ContentDisposition)
		}
		w.Header().Set("Cache-Control", "private, no-store")
		http.ServeContent(w, r, "", attrs.ModTime, rd)
	})
}
