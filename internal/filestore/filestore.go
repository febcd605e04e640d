// Package filestore keeps bill files in a gocloud.dev/blob bucket and hands
// out expiring download links for them. Two kinds of bucket:
//
//   - file: the embedded default, a fileblob bucket under the data folder
//     (or any folder). Its links are HMAC-signed by partnerbill and served
//     by partnerbill itself (Handler, mounted at DownloadPath).
//   - s3: any S3-compatible object store (AWS S3, MinIO, Tencent COS, ...)
//     through gocloud.dev/blob/s3blob, for partnerbill scaled out over
//     several processes. Its links are S3 presigned GET URLs, served by the
//     object store; Handler is nil.
//
// Either way, a file appears whole or not at all (Put), and a link works
// without credentials until it expires (SignedURL). filestoretest is the
// suite that holds every kind of bucket to that.
package filestore

import (
	"bufio"
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
	"slices"
	"strings"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/s3blob" // registers s3:// with blob.OpenBucket
	"gocloud.dev/gcerrors"
)

// DownloadPath is where partnerbill serves signed links to files in a file
// bucket (see Handler).
const DownloadPath = "/download"

// Store is a bucket of bill files plus the means to link to them.
type Store struct {
	bucket *blob.Bucket
	// signer verifies links partnerbill serves itself; nil when the bucket
	// serves its own links (S3).
	signer *linkSigner
	// cancelToAbort says how Put abandons an upload. fileblob publishes
	// whatever it has read when its body fails, unless the upload's context
	// is cancelled first; S3 aborts its multipart upload when the body
	// fails, which takes a request that a cancelled context would stop.
	cancelToAbort bool
	logger        *slog.Logger
}

// Options configures Open.
type Options struct {
	// DataDir is the data folder: an empty storage URL means bill files in
	// DataDir/files, and the link signing key of a file bucket lives in
	// DataDir unless LinkKey is set. An S3 bucket does not use it.
	DataDir string
	// PublicURL is the base of the download links of a file bucket (scheme,
	// host and optional path prefix), for example http://127.0.0.1:8080.
	// An S3 bucket does not use it: its links point at the object store.
	PublicURL string
	// LinkKey, when not empty, is the hex-encoded HMAC key for the download
	// links of a file bucket (PARTNERBILL_LINK_KEY); otherwise
	// DataDir/link-signing.key is used, created on first start.
	LinkKey string
	// Logger receives download errors; nil discards them.
	Logger *slog.Logger
}

// supported is what Open's errors suggest instead of an unsupported URL.
const supported = "use s3://BUCKET?region=REGION (plus endpoint=URL&use_path_style=true for a server other than AWS), file:///PATH, or leave it empty for files under the data folder"

// Open opens the bucket named by storageURL:
//
//   - "" means files under DataDir/files, file:///absolute/path files in
//     that folder;
//   - s3://BUCKET?region=...&endpoint=...&use_path_style=true means an
//     S3-compatible bucket, opened by gocloud.dev's blob.OpenBucket, so
//     every query parameter in s3Params works as s3blob documents it.
//     Credentials come from the AWS SDK's default chain
//     (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE and the shared
//     config files, or the instance's role), never from the URL: a URL
//     that carries any is refused, without repeating it. Open lists the
//     bucket once, so a wrong endpoint, bucket name or key fails at startup;
//     the credentials need s3:ListBucket, s3:GetObject, s3:PutObject and
//     s3:AbortMultipartUpload on the bucket.
//
// Other schemes are refused with a message saying what is supported, never
// ignored.
func Open(ctx context.Context, storageURL string, opts Options) (*Store, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if storageURL == "" {
		return openFiles(filepath.Join(opts.DataDir, "files"), opts, logger)
	}
	u, err := url.Parse(storageURL)
	if err != nil {
		// Not err: url.Parse's message quotes the URL, secrets and all.
		return nil, errors.New("storage URL: not a valid URL; " + supported)
	}
	switch u.Scheme {
	case "file":
		if u.Path == "" || u.Host != "" || u.User != nil || u.RawQuery != "" {
			return nil, errors.New("storage URL: a file URL names an absolute folder and nothing else, for example file:///var/lib/partnerbill/files")
		}
		return openFiles(u.Path, opts, logger)
	case "s3":
		return openS3(ctx, storageURL, u, logger)
	default:
		return nil, fmt.Errorf("storage URL: scheme %q is not supported; %s", u.Scheme, supported)
	}
}

// openFiles opens a fileblob bucket in dir whose links partnerbill serves.
func openFiles(dir string, opts Options, logger *slog.Logger) (*Store, error) {
	key, err := linkKey(opts)
	if err != nil {
		return nil, err
	}
	base, err := url.Parse(strings.TrimSuffix(opts.PublicURL, "/") + DownloadPath)
	if err != nil || base.Scheme == "" || base.Host == "" {
		return nil, fmt.Errorf("public URL %q: want an absolute URL such as http://127.0.0.1:8080", opts.PublicURL)
	}
	signer := newLinkSigner(base, key)
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
	return &Store{bucket: b, signer: signer, cancelToAbort: true, logger: logger}, nil
}

// s3Params are the query parameters an s3:// storage URL may carry: those
// that gocloud.dev v0.47 documents for s3blob's URL opener and the AWS
// config it builds (gocloud.dev/aws.V2ConfigFromURLParams), and
// blob.OpenBucket's prefix. Listing them lets Open refuse anything else
// without gocloud.dev's error, which quotes the whole URL. Compare with
// those docs when upgrading gocloud.dev.
var s3Params = []string{
	"region", "endpoint", "use_path_style", "s3ForcePathStyle", "disable_https",
	"hostname_immutable", "profile", "role", "anonymous", "dualstack", "fips",
	"accelerate", "ssetype", "kmskeyid", "rate_limiter_capacity",
	"request_checksum_calculation", "response_checksum_validation",
	"prefix", "awssdk",
}

// credentialsInURL is the one answer to a URL that carries credentials. It
// names neither them nor the URL.
func credentialsInURL(bucket string) error {
	return fmt.Errorf("storage URL s3://%s: credentials do not belong in the storage URL (it ends up in logs and process lists); "+
		"remove them and set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, in partnerbill's environment", bucket)
}

// looksSecret reports whether a query parameter name names a credential:
// aws_secret_access_key, access_key, session_token, password,
// X-Amz-Credential and the like.
func looksSecret(name string) bool {
	n := strings.NewReplacer("_", "", "-", "").Replace(strings.ToLower(name))
	for _, w := range []string{"secret", "password", "passwd", "token", "credential", "signature", "accesskey"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// checkS3URL refuses an s3:// URL that carries credentials, or anything
// s3Params does not list. Its errors name the bucket, never the URL's
// other parts.
func checkS3URL(u *url.URL) error {
	name := "s3://" + u.Host
	if u.User != nil {
		return credentialsInURL(u.Host)
	}
	q := u.Query()
	for p := range q {
		if looksSecret(p) {
			return credentialsInURL(u.Host)
		}
	}
	for p := range q {
		switch {
		case p == "key":
			return fmt.Errorf("storage URL %s: parameter key would keep every file in one object; use prefix=FOLDER/ to keep the files under a folder", name)
		case !slices.Contains(s3Params, p):
			return fmt.Errorf("storage URL %s: unknown parameter %q; an s3 URL takes %s", name, p, strings.Join(s3Params, ", "))
		}
	}
	if e := q.Get("endpoint"); e != "" {
		eu, err := url.Parse(e)
		if err == nil && eu.User != nil {
			return credentialsInURL(u.Host)
		}
		if err != nil || (eu.Scheme != "http" && eu.Scheme != "https") || eu.Host == "" {
			return fmt.Errorf("storage URL %s: endpoint must be an absolute http:// or https:// URL, for example endpoint=https://cos.ap-singapore.myqcloud.com", name)
		}
	}
	if u.Host == "" {
		return errors.New("storage URL: name the bucket, as in s3://BUCKET?region=REGION")
	}
	if u.Path != "" && u.Path != "/" {
		return fmt.Errorf("storage URL %s: the path is not used; to keep the files under a folder use ?prefix=FOLDER/", name)
	}
	return nil
}

// openS3 opens a checked s3:// URL with blob.OpenBucket and lists the
// bucket once.
func openS3(ctx context.Context, storageURL string, u *url.URL, logger *slog.Logger) (*Store, error) {
	if err := checkS3URL(u); err != nil {
		return nil, err
	}
	name := "s3://" + u.Host
	// gocloud.dev's errors quote the URL: checkS3URL made sure it holds
	// nothing secret.
	b, err := blob.OpenBucket(ctx, storageURL)
	if err != nil {
		return nil, fmt.Errorf("open storage %s: %w", name, err)
	}
	// Surface a wrong endpoint, bucket, region or key now, not at the
	// first build.
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	ok, err := b.IsAccessible(cctx)
	if err == nil && !ok {
		err = errors.New("no such bucket")
	}
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("open storage %s: listing the bucket failed (check the bucket name, endpoint, region and AWS credentials): %w", name, err)
	}
	return &Store{bucket: b, logger: logger}, nil
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
	// ContentType is the download's Content-Type; empty means
	// application/octet-stream.
	ContentType string
	// FileName is the name a browser saves the download as.
	FileName string
}

const (
	// partSize is the part size of S3 multipart uploads. S3 takes at most
	// 10,000 parts, so a file may grow to 78 GiB.
	partSize = 8 << 20
	// uploadConcurrency is how many parts of one file are sent at once.
	//
	// Memory: before its first request the AWS transfer manager reads up
	// to 16 MiB of the file to choose between one PUT and a multipart
	// upload (a threshold s3blob does not let us change), and a multipart
	// upload then allocates (uploadConcurrency+1) × partSize = 24 MiB of
	// part buffers: at most about 40 MiB per S3 upload in flight, whatever
	// the file's size (measured: 42 MiB of heap for a 200 MiB file, 23 MiB
	// for a 10 MiB one). A file bucket streams through writeBuffer alone.
	uploadConcurrency = 2
	// writeBuffer batches the many small writes of a CSV writer into
	// fewer hand-offs to the upload.
	writeBuffer = 64 << 10
	// abortGrace is how long a Put whose context is done waits for the
	// object store to abort its upload before it cancels the upload's
	// requests too (which leaves the parts sent so far to the bucket's
	// lifecycle rule for incomplete multipart uploads).
	abortGrace = 5 * time.Second
)

// Put writes the object key with whatever write sends it, streaming: an S3
// bucket gets a multipart upload for a file of 16 MiB or more. The object appears
// whole when Put returns nil and never otherwise: when write fails or ctx
// is done, the upload is abandoned, and nothing is published (S3 aborts the
// multipart upload; fileblob removes its temporary file).
//
// S3 only aborts a multipart upload if its body fails while the upload's
// context is still live, so the upload does not run on ctx: write's error,
// or ctx's end, fails the body, and the upload's own context is cancelled
// only abortGrace later (at once for fileblob, which needs it; see
// cancelToAbort).
func (s *Store) Put(ctx context.Context, key string, m Meta, write func(io.Writer) error) error {
	upCtx, cancelUp := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelUp()
	pr, pw := io.Pipe()
	abort := func(err error) {
		if s.cancelToAbort {
			cancelUp()
		}
		pw.CloseWithError(err)
	}
	ct := m.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	cd := "attachment"
	if m.FileName != "" {
		cd = fmt.Sprintf("attachment; filename=%q", m.FileName)
	}
	uploaded := make(chan error, 1)
	go func() {
		err := s.bucket.Upload(upCtx, key, pr, &blob.WriterOptions{
			ContentType:        ct,
			ContentDisposition: cd,
			BufferSize:         partSize,
			MaxConcurrency:     uploadConcurrency,
		})
		// An upload that stopped early fails write's next Write.
		pr.CloseWithError(err)
		uploaded <- err
	}()
	stop := context.AfterFunc(ctx, func() {
		abort(context.Cause(ctx))
		time.AfterFunc(abortGrace, cancelUp)
	})
	defer stop()

	bw := bufio.NewWriterSize(pw, writeBuffer)
	err := write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		if errors.Is(err, io.ErrClosedPipe) && ctx.Err() != nil {
			err = context.Cause(ctx) // what closed the pipe
		}
		abort(err)
		<-uploaded
		return fmt.Errorf("store %s: %w", key, err)
	}
	pw.Close()
	if err := <-uploaded; err != nil {
		return fmt.Errorf("store %s: %w", key, err)
	}
	return nil
}

// Exists reports whether key holds a file.
func (s *Store) Exists(ctx context.Context, key string) (bool, error) {
	return s.bucket.Exists(ctx, key)
}

// SignedURL mints a GET link to key that works, without credentials, until
// expiry has passed: a link to Handler for a file bucket, an S3 presigned
// URL for an S3 bucket. A presigned URL is signed with the credentials
// Open found; temporary ones (a role's) end its validity when they expire,
// even before expiry.
func (s *Store) SignedURL(ctx context.Context, key string, expiry time.Duration) (string, error) {
	u, err := s.bucket.SignedURL(ctx, key, &blob.SignedURLOptions{Expiry: expiry, Method: http.MethodGet})
	if err != nil {
		return "", fmt.Errorf("sign link to %s: %w", key, err)
	}
	return u, nil
}

// Handler serves the links SignedURL mints for a file bucket, to be mounted
// at DownloadPath. It is nil for an S3 bucket, whose links the object store
// serves: mount it only when it is not nil.
//
// A link that is altered, expired or not a GET link gets 403 Forbidden, the
// same answer whether or not the file exists.
func (s *Store) Handler() http.Handler {
	if s.signer == nil {
		return nil
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
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
