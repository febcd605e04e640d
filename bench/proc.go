package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// env is the working folder and the binaries a run uses.
type env struct {
	cfg      config
	dir      string
	pb       string // the partnerbill binary
	database string // the PARTNERBILL_DATABASE children get, "" for SQLite
	schema   string // the PostgreSQL schema of the current scenario
}

// buildPartnerbill compiles ./cmd/partnerbill into dir.
func buildPartnerbill(ctx context.Context, dir string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" || strings.TrimSpace(string(out)) == os.DevNull {
		return "", fmt.Errorf("run the bench from inside the partnerbill module (go env GOMOD: %q, %v)", out, err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	bin := filepath.Join(dir, "partnerbill")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/partnerbill")
	cmd.Dir = root
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build partnerbill: %w", err)
	}
	return bin, nil
}

// cli runs a partnerbill command on dataDir and returns its stdout.
func (e *env) cli(ctx context.Context, dataDir string, args ...string) (string, error) {
	full := append([]string{"--data-dir", dataDir}, args...)
	cmd := exec.CommandContext(ctx, e.pb, full...)
	cmd.Env = e.childEnv()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("partnerbill %s: %w\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), nil
}

func (e *env) childEnv() []string {
	env := os.Environ()
	if e.database != "" {
		env = append(env, "PARTNERBILL_DATABASE="+e.database)
	}
	return env
}

// key is what partnerbill prints for a new key.
type key struct{ Uin, Role, SecretId, SecretKey string }

func parseKeys(out string) ([]key, error) {
	var keys []key
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var k key
		if err := json.Unmarshal(sc.Bytes(), &k); err != nil {
			return nil, fmt.Errorf("key line %q: %w", sc.Text(), err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// keptLogs is where servers' logs are kept (-keep), or "" to drop them.
var keptLogs string

// proc is a server running as a child process.
type proc struct {
	cmd  *exec.Cmd
	addr string
	logs *os.File

	stopped bool
	stopErr error
}

// startServer starts partnerbill serve (args after serve's own) or the
// baseline and waits for its address line.
func startProc(ctx context.Context, name string, args []string, env []string, prefix string) (*proc, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = env
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	// The server logs every request: to a file, which never blocks it
	// (a pipe into a growing buffer would stall it and show as latency).
	// With -keep the logs stay in the working folder.
	logs, err := os.CreateTemp(keptLogs, filepath.Base(name)+"-*.log")
	if err != nil {
		return nil, err
	}
	if keptLogs == "" {
		os.Remove(logs.Name()) // kept open; gone when closed
	}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), prefix); ok {
				found <- strings.TrimPrefix(strings.TrimSpace(a), "http://")
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	select {
	case a := <-found:
		return &proc{cmd: cmd, addr: a, logs: logs}, nil
	case <-time.After(60 * time.Second):
	case <-ctx.Done():
	}
	cmd.Process.Kill()
	cmd.Wait()
	logs.Seek(0, io.SeekStart)
	tail, _ := io.ReadAll(logs)
	logs.Close()
	return nil, fmt.Errorf("%s did not start:\n%s", name, tail)
}

func (e *env) startServer(ctx context.Context, dataDir string, extra ...string) (*proc, error) {
	args := append([]string{"serve", "--data-dir", dataDir, "--addr", "127.0.0.1:0"}, extra...)
	return startProc(ctx, e.pb, args, e.childEnv(), "partnerbill listening on ")
}

// memory is what /proc says of a process's memory, in bytes: its peak
// resident set (VmHWM) and the parts of the current one (anonymous memory:
// Go's heap and stacks and SQLite's allocations; file pages it has mapped:
// the binary and the wal-index).
type memory struct{ peak, anon, file, shmem int64 }

func (p *proc) memory() memory {
	var m memory
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return m
	}
	for _, line := range strings.Split(string(b), "\n") {
		name, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch name {
		case "VmHWM":
			m.peak = kb << 10
		case "RssAnon":
			m.anon = kb << 10
		case "RssFile":
			m.file = kb << 10
		case "RssShmem":
			m.shmem = kb << 10
		}
	}
	return m
}

// most keeps the largest of each figure.
func (m *memory) most(o memory) {
	m.peak, m.anon, m.file, m.shmem = max(m.peak, o.peak), max(m.anon, o.anon), max(m.file, o.file), max(m.shmem, o.shmem)
}

func (m memory) String() string {
	return fmt.Sprintf("peak RSS %d MiB (largest seen: anonymous %d MiB, file %d MiB, shared %d MiB)", m.peak>>20, m.anon>>20, m.file>>20, m.shmem>>20)
}

// cpuTime is the CPU time (user and system) the process has used so far.
func (p *proc) cpuTime() (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	// The fields after the command name, which is in parentheses and may
	// hold spaces: state is the first, utime the 12th, stime the 13th, in
	// clock ticks (100 a second on Linux).
	var f []string
	if i := bytes.LastIndexByte(b, ')'); i >= 0 {
		f = strings.Fields(string(b[i+1:]))
	}
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", p.cmd.Process.Pid)
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", p.cmd.Process.Pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * (time.Second / clockTicks), nil
}

// clockTicks is the unit of /proc's CPU times: USER_HZ, 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// stop ends the process gracefully; later calls return the first's result.
func (p *proc) stop() error {
	if p.stopped {
		return p.stopErr
	}
	p.stopped = true
	p.stopErr = p.stopOnce()
	return p.stopErr
}

func (p *proc) stopOnce() error {
	defer p.logs.Close()
	p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(15 * time.Second):
		p.cmd.Process.Kill()
		return fmt.Errorf("did not stop within 15 s")
	}
}

// timed runs fn and returns how long it took.
func timed(fn func() error) (time.Duration, error) {
	start := time.Now()
	err := fn()
	return time.Since(start), err
}

// run runs a command, its stdout to out (nil: discarded).
func run(ctx context.Context, out io.Writer, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout = out
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, errb.String())
	}
	return nil
}
