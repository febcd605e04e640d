package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/partnerbill/partnerbill/internal/account"
	"github.com/partnerbill/partnerbill/internal/store"
)

// issuedKey is what account create and key create print: the only time a
// SecretKey is ever shown.
type issuedKey struct {
	Uin       string
	Role      string
	SecretId  string
	SecretKey string
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func accountCommand(cfg *Config) *cobra.Command {
	cmd := &cobra.Command{Use: "account", Short: "Create and list accounts"}
	var role, uin, reseller, name string
	create := &cobra.Command{
		Use:   "create --role ROLE [--uin UIN] [--reseller UIN] [--name NAME]",
		Short: "Create an account and its first key; prints {Uin, Role, SecretId, SecretKey} as JSON",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := account.ParseRole(role)
			if err != nil {
				return fmt.Errorf("--role: %w", err)
			}
			if uin != "" {
				if err := account.CheckUIN(uin); err != nil {
					return fmt.Errorf("--uin: %w", err)
				}
			}
			if reseller != "" {
				if err := account.CheckUIN(reseller); err != nil {
					return fmt.Errorf("--reseller: %w", err)
				}
				if r != account.RoleEndCustomer {
					return fmt.Errorf("--reseller binds an end customer to its reseller; role %s cannot have one", r)
				}
			}
			st, err := cfg.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			out, err := createAccount(cmd, st, account.Account{UIN: uin, Role: r, Name: name, ResellerUIN: reseller})
			if err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), out)
		},
	}
	create.Flags().StringVar(&role, "role", "", "end-customer, reseller, distributor or second-level-reseller (required)")
	create.Flags().StringVar(&uin, "uin", "", "the account's UIN, a string of digits; generated when empty")
	create.Flags().StringVar(&reseller, "reseller", "", "UIN of the reseller an end customer belongs to")
	create.Flags().StringVar(&name, "name", "", "a display name")
	create.MarkFlagRequired("role")

	list := &cobra.Command{
		Use:   "list",
		Short: "List accounts (never their keys)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := cfg.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			accts, err := st.ListAccounts(cmd.Context())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "UIN\tROLE\tRESELLER\tNAME\tCREATED")
			for _, a := range accts {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.UIN, a.Role, a.ResellerUIN, a.Name, a.CreatedAt.UTC().Format("2006-01-02 15:04:05"))
			}
			return tw.Flush()
		},
	}
	cmd.AddCommand(create, list)
	return cmd
}

// createAccount stores a (drawing a UIN when it has none) and issues its
// first key.
func createAccount(cmd *cobra.Command, st store.Store, a account.Account) (issuedKey, error) {
	ctx := cmd.Context()
	if a.ResellerUIN != "" {
		res, err := st.GetAccount(ctx, a.ResellerUIN)
		if errors.Is(err, store.ErrNotFound) {
			return issuedKey{}, fmt.Errorf("--reseller %s: no such account; create the reseller first", a.ResellerUIN)
		}
		if err != nil {
			return issuedKey{}, err
		}
		if res.Role == account.RoleEndCustomer {
			return issuedKey{}, fmt.Errorf("--reseller %s is an end customer, not a reseller", a.ResellerUIN)
		}
	}
	given := a.UIN != ""
	for tries := 0; ; tries++ {
		if !given {
			a.UIN = account.NewUIN()
		}
		err := st.CreateAccount(ctx, a)
		if err == nil {
			break
		}
		if errors.Is(err, store.ErrDuplicate) && given {
			return issuedKey{}, fmt.Errorf("--uin %s: an account with this UIN already exists", a.UIN)
		}
		if !errors.Is(err, store.ErrDuplicate) || tries > 10 {
			return issuedKey{}, err
		}
	}
	return issueKey(cmd, st, a)
}

func issueKey(cmd *cobra.Command, st store.Store, a account.Account) (issuedKey, error) {
	k := account.NewKey(a.UIN, time.Now())
	if err := st.CreateKey(cmd.Context(), k); err != nil {
		return issuedKey{}, fmt.Errorf("create key: %w", err)
	}
	return issuedKey{Uin: a.UIN, Role: string(a.Role), SecretId: k.SecretID, SecretKey: k.SecretKey}, nil
}

func keyCommand(cfg *Config) *cobra.Command {
	cmd := &cobra.Command{Use: "key", Short: "Issue, rotate and disable API keys"}
	var uin string
	create := &cobra.Command{
		Use:   "create --uin UIN",
		Short: "Issue another key for an account; prints {Uin, Role, SecretId, SecretKey} as JSON",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := cfg.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			a, err := st.GetAccount(cmd.Context(), uin)
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("--uin %s: no such account", uin)
			}
			if err != nil {
				return err
			}
			out, err := issueKey(cmd, st, a)
			if err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), out)
		},
	}
	create.Flags().StringVar(&uin, "uin", "", "the account that gets the key (required)")
	create.MarkFlagRequired("uin")
	disable := &cobra.Command{
		Use:   "disable SECRETID",
		Short: "Disable a key: requests it signs are refused from now on",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := cfg.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			if err := st.DisableKey(cmd.Context(), args[0]); errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("no key with SecretId %s", args[0])
			} else if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "disabled %s\n", args[0])
			return nil
		},
	}
	var grace time.Duration
	rotate := &cobra.Command{
		Use:   "rotate SECRETID [--grace DURATION]",
		Short: "Issue a new key for SECRETID's account and stop SECRETID after a grace period; prints {Uin, Role, SecretId, SecretKey} as JSON",
		Long: `Issue a new key for the account of SECRETID, printed once as JSON like key
create, and make SECRETID stop working when the grace period ends, so that
clients can move to the new key in the meantime. --grace 0 stops it at once.
A rotation never extends a key's life: an earlier end already set stays.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if grace < 0 {
				return fmt.Errorf("--grace %v: want 0 (stop the old key now) or a positive duration", grace)
			}
			ctx := cmd.Context()
			st, err := cfg.openStore(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			old, err := st.GetKey(ctx, args[0])
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("no key with SecretId %s", args[0])
			}
			if err != nil {
				return err
			}
			a, err := st.GetAccount(ctx, old.UIN)
			if err != nil {
				return fmt.Errorf("account %s of key %s: %w", old.UIN, old.SecretID, err)
			}
			now := time.Now()
			k := account.NewKey(a.UIN, now)
			if err := st.RotateKey(ctx, old.SecretID, k, now.Add(grace)); err != nil {
				return fmt.Errorf("rotate key %s: %w", old.SecretID, err)
			}
			if err := printJSON(cmd.OutOrStdout(), issuedKey{Uin: a.UIN, Role: string(a.Role), SecretId: k.SecretID, SecretKey: k.SecretKey}); err != nil {
				return err
			}
			// What became of the old key goes to stderr: stdout stays the
			// one JSON object scripts read.
			if old, err = st.GetKey(ctx, old.SecretID); err != nil {
				return err
			}
			switch {
			case old.Disabled:
				fmt.Fprintf(cmd.ErrOrStderr(), "%s was already disabled\n", old.SecretID)
			case !old.ExpiresAt.After(now):
				fmt.Fprintf(cmd.ErrOrStderr(), "%s no longer works\n", old.SecretID)
			default:
				fmt.Fprintf(cmd.ErrOrStderr(), "%s stops working at %s\n", old.SecretID, old.ExpiresAt.UTC().Format(time.RFC3339))
			}
			return nil
		},
	}
	rotate.Flags().DurationVar(&grace, "grace", 24*time.Hour, "how long the old key keeps working, e.g. 1h or 168h; 0 stops it at once")
	cmd.AddCommand(create, disable, rotate)
	return cmd
}
