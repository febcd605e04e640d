package account

import (
	"regexp"
	"testing"
	"time"
)

func TestNewKeyShape(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 200 {
		k := NewKey("800000000001", time.Now())
		if !regexp.MustCompile(`^AKID[A-Za-z0-9]{32}$`).MatchString(k.SecretID) {
			t.Fatalf("SecretId %q does not look like a real one", k.SecretID)
		}
		if !regexp.MustCompile(`^[A-Za-z0-9]{32}$`).MatchString(k.SecretKey) {
			t.Fatalf("SecretKey %q is not 32 letters and digits", k.SecretKey)
		}
		if seen[k.SecretID] || seen[k.SecretKey] {
			t.Fatal("a key repeated")
		}
		seen[k.SecretID], seen[k.SecretKey] = true, true
	}
	if u := NewUIN(); CheckUIN(u) != nil || len(u) != 12 {
		t.Errorf("NewUIN() = %q", u)
	}
}

func TestCheckUINAndParseRole(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"1", "800000400309", "12345678901234567890"} {
		if err := CheckUIN(ok); err != nil {
			t.Errorf("CheckUIN(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "12a", " 1", "-1", "123456789012345678901", "１２"} {
		if CheckUIN(bad) == nil {
			t.Errorf("CheckUIN(%q) accepted", bad)
		}
	}
	for _, r := range Roles {
		if got, err := ParseRole(string(r)); err != nil || got != r {
			t.Errorf("ParseRole(%q) = %q, %v", r, got, err)
		}
	}
	if _, err := ParseRole("End-Customer"); err == nil {
		t.Error("ParseRole is case-insensitive")
	}
}
