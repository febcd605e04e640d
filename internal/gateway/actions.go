package gateway

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/partnerbill/partnerbill/internal/account"
	"github.com/partnerbill/partnerbill/internal/billfile"
	"github.com/partnerbill/partnerbill/internal/job"
	"github.com/partnerbill/partnerbill/internal/ledger"
	"github.com/partnerbill/partnerbill/internal/tc3"
)

// table lists every action partnerbill serves, with who may call it and
// its documented rate per account. New actions are one row each.
func (g *Gateway) table() map[string]action {
	return map[string]action{
		"DescribeBillDownloadUrl": {
			roles:     []account.Role{account.RoleEndCustomer},
			perSecond: 20,
			handle:    g.describeBillDownloadURL,
		},
	}
}

// Actions lists every action the gateway serves, with the roles that may
// call it, straight from the action table: tests that must cover every
// action (the isolation matrix) pick a new one up as soon as it is added.
func Actions() map[string][]account.Role {
	out := map[string][]account.Role{}
	for name, a := range (&Gateway{}).table() {
		out[name] = slices.Clone(a.roles)
	}
	return out
}

// firstMonth is the earliest bill month the partner API serves.
var firstMonth = ledger.Month{Year: 2022, Mon: time.June}

// linkValidity is how long a download link works.
const linkValidity = time.Hour

// downloadURLResponse is the answer, fields in the order the real service
// sends them. Ready is an integer, as the SDK models expect.
type downloadURLResponse struct {
	DownloadUrl string
	Ready       int
}

func (g *Gateway) describeBillDownloadURL(ctx context.Context, c *call) (any, error) {
	var in struct {
		Month    *string
		FileType *string
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	if in.Month == nil {
		return nil, tc3.Missing("Month")
	}
	if in.FileType == nil {
		return nil, tc3.Missing("FileType")
	}
	month, err := g.parseMonth(*in.Month)
	if err != nil {
		return nil, err
	}
	kind, err := billfile.ParseKind(*in.FileType)
	if err != nil {
		return nil, tc3.Invalid("FileType", "%v", err)
	}
	st, err := g.cfg.Files.Ensure(ctx, c.Account.UIN, month, kind)
	if errors.Is(err, job.ErrBuildFailed) {
		return nil, tc3.Errorf(tc3.CodeFailedOperation, "Building the %s bill file for %s failed; your next request queues a new build.", kind, month)
	}
	if err != nil {
		return nil, err
	}
	if !st.Ready {
		// Still being built: the client polls again, as with the real service.
		return downloadURLResponse{Ready: 0, DownloadUrl: ""}, nil
	}
	url, err := g.cfg.Links.SignedURL(ctx, st.ObjectKey, linkValidity)
	if err != nil {
		return nil, err
	}
	return downloadURLResponse{Ready: 1, DownloadUrl: url}, nil
}

// parseMonth accepts YYYY-MM from 2022-06 to the current month (UTC).
func (g *Gateway) parseMonth(s string) (ledger.Month, error) {
	last := ledger.MonthOf(g.cfg.NowFunc().UTC())
	rangeMsg := func() string {
		return fmt.Sprintf("a month in YYYY-MM form from %s to %s (the current month, UTC)", firstMonth, last)
	}
	m, err := ledger.ParseMonth(s)
	if err != nil {
		return m, tc3.Invalid("Month", "must be %s; %q is not in that form.", rangeMsg(), s)
	}
	if m.Before(firstMonth) || last.Before(m) {
		return m, tc3.Invalid("Month", "must be %s; %s is outside that range.", rangeMsg(), s)
	}
	return m, nil
}
