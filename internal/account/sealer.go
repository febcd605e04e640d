package account

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// MasterKeySize is the length of a master key: AES-256.
const MasterKeySize = 32

// Sealer encrypts SecretKeys for storage with AES-256-GCM under the master
// key, so that a copy of the database (a backup, a replica's disk, a SQL
// injection elsewhere) does not hand out working credentials. Each sealed
// value has a fresh random nonce and is bound to its SecretId as
// additional data: moved onto another key's row, it no longer opens.
//
// The stores seal on write and open on read (see store.Store), so the rest
// of partnerbill deals in plaintext keys and cannot forget to seal one.
type Sealer struct {
	aead cipher.AEAD
}

// sealedPrefix starts every sealed value: a format version, and a way to
// tell sealed values from the plaintext keys partnerbill stored before it
// sealed them (32 letters and digits, never a colon).
const sealedPrefix = "pb1:"

// Errors of sealing. Neither ever carries key material.
var (
	// ErrCannotUnseal reports a sealed SecretKey that does not decrypt.
	ErrCannotUnseal = errors.New("cannot decrypt the sealed SecretKey: it was sealed under another master key " +
		"(PARTNERBILL_MASTER_KEY must be the same for every replica and admin command on one database), " +
		"or the stored value was altered or copied from another key's row")
	// ErrWrongMasterKey reports a master key other than the one a
	// database's SecretKeys are sealed with.
	ErrWrongMasterKey = errors.New("the master key is not the one this database's SecretKeys are sealed with")
)

// NewSealer returns a Sealer for a 32-byte master key.
func NewSealer(masterKey []byte) (*Sealer, error) {
	if len(masterKey) != MasterKeySize {
		return nil, fmt.Errorf("master key: %d bytes, want %d", len(masterKey), MasterKeySize)
	}
	block, err := aes.NewCipher(masterKey)
	if err != nil {
		return nil, err
	}
	// A random 96-bit nonce per value, prepended to it: the usual GCM
	// limit of 2^32 values per key is far beyond the number of API keys.
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// keyAAD binds a sealed SecretKey to its SecretId.
func keyAAD(secretID string) []byte { return []byte("partnerbill SecretKey\x00" + secretID) }

// SealSecretKey returns secretKey sealed for the row of secretID.
func (s *Sealer) SealSecretKey(secretID, secretKey string) string {
	return s.seal([]byte(secretKey), keyAAD(secretID))
}

// OpenSecretKey returns the SecretKey that SealSecretKey sealed for
// secretID. It fails with ErrCannotUnseal for a value sealed under another
// master key or for another SecretId, an altered one, and a plaintext key
// stored before sealing (which opening the store with the master key
// seals).
func (s *Sealer) OpenSecretKey(secretID, sealed string) (string, error) {
	if !IsSealed(sealed) {
		return "", fmt.Errorf("%w (the stored value is not sealed: it predates sealing; opening the database with migrations on, or partnerbill migrate, seals it)", ErrCannotUnseal)
	}
	p, err := s.open(sealed, keyAAD(secretID))
	if err != nil {
		return "", ErrCannotUnseal
	}
	return string(p), nil
}

// checkAAD and checkText make the check value: a known plaintext sealed
// under the master key, kept once per database.
var (
	checkAAD  = []byte("partnerbill master key check")
	checkText = []byte("partnerbill")
)

// CheckValue returns a value a store keeps once, when it is first opened
// with a master key, so that a process that later opens it with another
// key is refused at start (VerifyCheckValue) instead of failing every
// request.
func (s *Sealer) CheckValue() string { return s.seal(checkText, checkAAD) }

// VerifyCheckValue returns ErrWrongMasterKey unless check was made by
// CheckValue under this Sealer's master key.
func (s *Sealer) VerifyCheckValue(check string) error {
	p, err := s.open(check, checkAAD)
	if err != nil || string(p) != string(checkText) {
		return ErrWrongMasterKey
	}
	return nil
}

func (s *Sealer) seal(plaintext, aad []byte) string {
	return sealedPrefix + base64.RawStdEncoding.EncodeToString(s.aead.Seal(nil, nil, plaintext, aad))
}

func (s *Sealer) open(sealed string, aad []byte) ([]byte, error) {
	rest, ok := strings.CutPrefix(sealed, sealedPrefix)
	if !ok {
		return nil, errors.New("not sealed")
	}
	ct, err := base64.RawStdEncoding.DecodeString(rest)
	if err != nil {
		return nil, err
	}
	return s.aead.Open(nil, nil, ct, aad)
}

// IsSealed reports whether a stored value is in the sealed format, as
// opposed to a plaintext key from before sealing.
func IsSealed(v string) bool { return strings.HasPrefix(v, sealedPrefix) }

// LoadMasterKey returns the master key: hexKey when it is not empty (the
// value of PARTNERBILL_MASTER_KEY, 64 hex digits), else the one in the key
// file at path, which is created with a fresh random key, readable by its
// owner only, when it does not exist. Two processes creating it at once
// end up with the same key: the file appears whole, by an exclusive link,
// and the loser reads the winner's. An existing file that group or others
// may read or write is refused: the key would no longer be a secret.
func LoadMasterKey(hexKey, path string) ([]byte, error) {
	if hexKey != "" {
		k, err := parseMasterKey(hexKey)
		if err != nil {
			return nil, fmt.Errorf("PARTNERBILL_MASTER_KEY: %w", err)
		}
		return k, nil
	}
	for range 3 {
		k, err := readMasterKey(path)
		if !errors.Is(err, os.ErrNotExist) {
			return k, err
		}
		err = createMasterKey(path)
		if err != nil && !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("create master key file: %w", err)
		}
	}
	return nil, fmt.Errorf("master key file %s: created, but it keeps disappearing", path)
}

func parseMasterKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	k, err := hex.DecodeString(s)
	if err != nil || len(k) != MasterKeySize {
		// Never repeat the value: it is, or is close to, a secret.
		return nil, errors.New("want exactly 64 hex digits (32 bytes), for example from `openssl rand -hex 32`")
	}
	return k, nil
}

func readMasterKey(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("master key file %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("master key file %s is open to group or others (mode %04o); only its owner may read it: run chmod 600 %s", path, perm, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, 1024))
	if err != nil {
		return nil, fmt.Errorf("read master key file: %w", err)
	}
	k, err := parseMasterKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("master key file %s: %w; if the file is lost or damaged, the SecretKeys sealed with it cannot be recovered (see SECURITY.md)", path, err)
	}
	return k, nil
}

// createMasterKey writes a fresh key to a temporary file and links it to
// path, which fails with os.ErrExist if another process got there first:
// the key file never exists half written.
func createMasterKey(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	k := make([]byte, MasterKeySize)
	rand.Read(k)
	// CreateTemp opens with O_EXCL and mode 0600.
	tmp, err := os.CreateTemp(dir, ".master.key-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.WriteString(hex.EncodeToString(k) + "\n"); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		return err
	}
	// Losing the key loses every SecretKey: make the new name durable.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
