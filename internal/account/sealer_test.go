package account

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func newTestSealer(t *testing.T) *Sealer {
	t.Helper()
	k := make([]byte, MasterKeySize)
	rand.Read(k)
	s, err := NewSealer(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSealRoundTripAndBinding(t *testing.T) {
	t.Parallel()
	s, other := newTestSealer(t), newTestSealer(t)
	k := NewKey("800000000001", time.Now())
	sealed := s.SealSecretKey(k.SecretID, k.SecretKey)
	if !IsSealed(sealed) || strings.Contains(sealed, k.SecretKey) {
		t.Fatalf("sealed form %q", sealed)
	}
	if again := s.SealSecretKey(k.SecretID, k.SecretKey); again == sealed {
		t.Error("sealing twice gave the same value: the nonce is not fresh")
	}
	if got, err := s.OpenSecretKey(k.SecretID, sealed); err != nil || got != k.SecretKey {
		t.Fatalf("open = %q, %v", got, err)
	}
	flipped := []byte(sealed)
	flipped[len(flipped)-3] ^= 1
	for name, open := range map[string]func() (string, error){
		"another SecretId":   func() (string, error) { return s.OpenSecretKey("AKIDother", sealed) },
		"another master key": func() (string, error) { return other.OpenSecretKey(k.SecretID, sealed) },
		"one byte changed":   func() (string, error) { return s.OpenSecretKey(k.SecretID, string(flipped)) },
		"plaintext":          func() (string, error) { return s.OpenSecretKey(k.SecretID, k.SecretKey) },
		"truncated":          func() (string, error) { return s.OpenSecretKey(k.SecretID, sealed[:10]) },
	} {
		got, err := open()
		if !errors.Is(err, ErrCannotUnseal) || got != "" {
			t.Errorf("%s: %q, %v; want ErrCannotUnseal", name, got, err)
		}
		if err != nil && strings.Contains(err.Error(), k.SecretKey) {
			t.Errorf("%s: the error shows the key", name)
		}
	}
	if err := s.VerifyCheckValue(s.CheckValue()); err != nil {
		t.Errorf("own check value: %v", err)
	}
	for _, bad := range []string{other.CheckValue(), s.SealSecretKey("x", "partnerbill"), "", "pb1:AAAA"} {
		if err := s.VerifyCheckValue(bad); !errors.Is(err, ErrWrongMasterKey) {
			t.Errorf("VerifyCheckValue(%q) = %v, want ErrWrongMasterKey", bad, err)
		}
	}
	if _, err := NewSealer(make([]byte, 16)); err == nil {
		t.Error("a 16-byte master key was accepted")
	}
}

func TestKeyActive(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name string
		k    Key
		want bool
	}{
		{"plain", Key{}, true},
		{"disabled", Key{Disabled: true}, false},
		{"expires later", Key{ExpiresAt: now.Add(time.Second)}, true},
		{"expires now", Key{ExpiresAt: now}, false},
		{"expired", Key{ExpiresAt: now.Add(-time.Second)}, false},
		{"disabled, expires later", Key{Disabled: true, ExpiresAt: now.Add(time.Hour)}, false},
	} {
		if got := c.k.Active(now); got != c.want {
			t.Errorf("%s: Active = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestLoadMasterKeyFromEnv(t *testing.T) {
	t.Parallel()
	want := bytes.Repeat([]byte{0xab}, 32)
	got, err := LoadMasterKey(hex.EncodeToString(want)+"\n", "/nonexistent/never/read")
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("LoadMasterKey = %x, %v", got, err)
	}
	for _, bad := range []string{"abcd", strings.Repeat("z", 64), strings.Repeat("ab", 33), "secretsecret" + strings.Repeat("0", 52)} {
		_, err := LoadMasterKey(bad, "")
		if err == nil || !strings.Contains(err.Error(), "PARTNERBILL_MASTER_KEY") || !strings.Contains(err.Error(), "64 hex digits") {
			t.Errorf("LoadMasterKey(%q) = %v, want an error naming the variable and the form", bad, err)
		}
		if err != nil && strings.Contains(err.Error(), bad) {
			t.Errorf("the error repeats the value: %v", err)
		}
	}
}

func TestLoadMasterKeyFile(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "master.key")
	k1, err := LoadMasterKey("", path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("master.key mode %04o, want 0600", fi.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	if strings.TrimSpace(string(b)) != hex.EncodeToString(k1) {
		t.Errorf("the file holds %q, not the key", b)
	}
	k2, err := LoadMasterKey("", path)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatalf("second load: %v, same key %v", err, bytes.Equal(k1, k2))
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".master.key-*"))
	if len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}

	for _, mode := range []os.FileMode{0o640, 0o604, 0o620} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, err := LoadMasterKey("", path)
		if err == nil || !strings.Contains(err.Error(), "chmod 600 "+path) {
			t.Errorf("mode %04o: err = %v, want a refusal saying chmod 600", mode, err)
		}
	}
	os.Chmod(path, 0o600)
	os.WriteFile(path, []byte("not a key\n"), 0o600)
	if _, err := LoadMasterKey("", path); err == nil || !strings.Contains(err.Error(), "64 hex digits") || !strings.Contains(err.Error(), "cannot be recovered") {
		t.Errorf("damaged file: %v", err)
	}
}

// TestLoadMasterKeyRace has many loaders create the key file at once: they
// all get the same key.
func TestLoadMasterKeyRace(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "master.key")
	const n = 16
	keys := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			keys[i], errs[i] = LoadMasterKey("", path)
		})
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("loader %d: %v", i, errs[i])
		}
		if !bytes.Equal(keys[i], keys[0]) {
			t.Fatalf("loaders %d and 0 got different keys", i)
		}
	}
}
