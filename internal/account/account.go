// Package account defines who may call partnerbill: accounts identified by a
// UIN, the role each plays in the partner hierarchy, and the API keys
// (SecretId/SecretKey pairs) they sign requests with.
package account

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// Role is the part an account plays in the partner hierarchy. It decides
// which actions the account may call.
type Role string

// The roles the partner API knows. End customers fetch their own bills;
// the reseller roles manage customers and, in later actions, their bills.
const (
	RoleEndCustomer         Role = "end-customer"
	RoleReseller            Role = "reseller"
	RoleDistributor         Role = "distributor"
	RoleSecondLevelReseller Role = "second-level-reseller"
)

// Roles lists every valid role, in the order the CLI documents them.
var Roles = []Role{RoleEndCustomer, RoleReseller, RoleDistributor, RoleSecondLevelReseller}

// ParseRole checks that s names a role.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	names := make([]string, len(Roles))
	for i, r := range Roles {
		names[i] = string(r)
	}
	return "", fmt.Errorf("unknown role %q: want one of %s", s, strings.Join(names, ", "))
}

// Account is one party that can hold keys.
type Account struct {
	UIN  string
	Role Role
	Name string
	// ResellerUIN binds an end customer to the reseller that serves it; empty
	// for accounts without one.
	ResellerUIN string
	CreatedAt   time.Time
}

// Key is one SecretId/SecretKey pair of an account. A disabled or expired
// key can no longer sign requests but is kept so its SecretId is never
// reissued.
type Key struct {
	SecretID string
	// SecretKey is the plaintext key. Stores keep it sealed (Sealer) and
	// hand it back in plaintext.
	SecretKey string
	UIN       string
	Disabled  bool
	// ExpiresAt is when the key stops working (the end of a rotation's
	// grace period); zero means never.
	ExpiresAt time.Time
	CreatedAt time.Time
}

// Active reports whether the key may sign a request at now: it is not
// disabled, and now is before its expiry, if it has one.
func (k Key) Active(now time.Time) bool {
	return !k.Disabled && (k.ExpiresAt.IsZero() || now.Before(k.ExpiresAt))
}

// ErrInvalidUIN reports a UIN that is not a string of digits.
var ErrInvalidUIN = errors.New("a UIN is a string of 1 to 20 digits")

// CheckUIN reports whether s has the shape of a UIN.
func CheckUIN(s string) error {
	if len(s) == 0 || len(s) > 20 {
		return fmt.Errorf("%q: %w", s, ErrInvalidUIN)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return fmt.Errorf("%q: %w", s, ErrInvalidUIN)
		}
	}
	return nil
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// randomString draws n characters of alphabet from the operating system's
// CSPRNG.
func randomString(n int, alphabet string) string {
	max := big.NewInt(int64(len(alphabet)))
	b := make([]byte, n)
	for i := range b {
		v, err := rand.Int(rand.Reader, max)
		if err != nil {
			// crypto/rand never fails on supported platforms (Go 1.24+ panics
			// inside rand.Read instead), so this is unreachable.
			panic(err)
		}
		b[i] = alphabet[v.Int64()]
	}
	return string(b)
}

// NewKey issues a fresh key pair for uin. SecretIds look like the real
// service's ("AKID" and 32 letters and digits) so client code that checks
// their shape keeps working; SecretKeys are 32 random characters.
func NewKey(uin string, now time.Time) Key {
	return Key{
		SecretID:  "AKID" + randomString(32, alnum),
		SecretKey: randomString(32, alnum),
		UIN:       uin,
		CreatedAt: now,
	}
}

// NewUIN draws a random 12-digit UIN in the range real international
// accounts use (they start with 8000); the store rejects a duplicate and
// callers draw again.
func NewUIN() string {
	return "8000" + randomString(8, "0123456789")
}
