package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	sdkerrors "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"
	tchttp "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/http"

	"github.com/partnerbill/partnerbill/internal/account"
	"github.com/partnerbill/partnerbill/internal/gateway"
)

// callAction sends any action with params through the official SDK,
// signed with k, and returns "ok" or the error code, and the message.
func callAction(t testing.TB, host string, k key, action string, params map[string]any) (code, message string) {
	t.Helper()
	req := tchttp.NewCommonRequest("intlpartnersmgt", "2022-09-28", action)
	if err := req.SetActionParameters(params); err != nil {
		t.Fatal(err)
	}
	resp := tchttp.NewCommonResponse()
	err := sdk(host, k).Send(req, resp)
	if err == nil {
		return "ok", ""
	}
	var e *sdkerrors.TencentCloudSDKError
	if !errors.As(err, &e) {
		t.Fatalf("%s: %v", action, err)
	}
	return e.Code, e.Message
}

// isolationWorld is a data folder with accounts of every role and
// standing, and line items of several end customers in the same months.
type isolationWorld struct {
	dir string
	srv *server
	// customers have line items, except the last, which has none.
	customers []key
	// resellers are one account of each reseller role.
	resellers []key
	disabled  key
	expired   key
	uins      []string
	// rows counts each customer's line items per month.
	rows map[string]map[string]int
}

var isolationMonths = []string{"2024-11", "2024-12"}

func setupIsolation(t *testing.T) *isolationWorld {
	t.Helper()
	w := &isolationWorld{dir: t.TempDir(), rows: map[string]map[string]int{}}
	reseller := newAccount(t, w.dir, "--role", "reseller", "--uin", "800000100001")
	distributor := newAccount(t, w.dir, "--role", "distributor", "--uin", "800000100002")
	second := newAccount(t, w.dir, "--role", "second-level-reseller", "--uin", "800000100003")
	w.resellers = []key{reseller, distributor, second}
	for i, r := range []string{reseller.Uin, reseller.Uin, distributor.Uin, second.Uin} {
		w.customers = append(w.customers, newAccount(t, w.dir, "--role", "end-customer", "--uin", fmt.Sprint(800000200001+i), "--reseller", r))
	}
	w.disabled = newAccount(t, w.dir, "--role", "end-customer", "--uin", "800000200009", "--reseller", reseller.Uin)
	cli(t, w.dir, "key", "disable", w.disabled.SecretId)
	// An expired key of the first customer, whose data is there to reach.
	w.expired = parseKey(t, cli(t, w.dir, "key", "create", "--uin", w.customers[0].Uin))
	cli(t, w.dir, "key", "rotate", w.expired.SecretId, "--grace", "0")
	for _, k := range append(append([]key{}, w.resellers...), append(w.customers, w.disabled)...) {
		w.uins = append(w.uins, k.Uin)
	}

	// Every customer but the last has line items in both months, all
	// paid by the same payer, in the same products and instances: only
	// OwnerAccountId tells them apart.
	var lines []string
	for i, c := range w.customers[:len(w.customers)-1] {
		w.rows[c.Uin] = map[string]int{}
		for m, month := range isolationMonths {
			for j := range 2 + i + m {
				id := fmt.Sprintf("%s%d%02d", c.Uin, m, j)
				b, _ := json.Marshal(map[string]string{
					"Id": id, "PayerAccountId": payer, "OwnerAccountId": c.Uin, "BillMonth": month,
					"TransactionTime": month + fmt.Sprintf("-%02d 10:00:00", j+1), "Currency": "USD",
					"ProductName": "Cloud Virtual Machine", "InstanceId": fmt.Sprintf("ins-%d", j%2),
					"OriginalCost": "1.5", "TotalAmountAfterDiscount": "1.5", "VoucherDeduction": "0", "TotalCost": "1.5",
				})
				lines = append(lines, string(b))
				w.rows[c.Uin][month]++
			}
		}
	}
	items := filepath.Join(w.dir, "items.jsonl")
	if err := os.WriteFile(items, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cli(t, w.dir, "ledger", "import", items)
	w.srv = startServer(t, w.dir)
	return w
}

// TestIsolationMatrix calls every action the gateway serves (from its
// action table, so a new action joins by itself) as every kind of caller:
// end customers, each reseller role, a disabled key, an expired key and
// an unknown SecretId. It checks that a caller whose role the action does
// not admit gets UnauthorizedOperation naming no other account, that a
// disabled, expired and unknown key get one and the same answer, and runs
// the action's own probe for each end customer it admits, which proves
// that the customer reaches its own data and no one else's.
func TestIsolationMatrix(t *testing.T) {
	t.Parallel()
	w := setupIsolation(t)
	// Build every customer's files first, so that other customers' objects
	// exist while each probe tries to reach them.
	for _, c := range w.customers {
		for _, m := range isolationMonths {
			for _, ft := range []string{"L2", "L3"} {
				waitReady(t, w.srv.Host, c, m, ft)
			}
		}
	}
	probes := map[string]func(t *testing.T, w *isolationWorld, k key){
		"DescribeBillDownloadUrl": probeBillDownloadURL,
	}
	unknown := key{SecretId: "AKID" + strings.Repeat("Z", 32), SecretKey: strings.Repeat("k", 32)}

	actions := gateway.Actions()
	names := make([]string, 0, len(actions))
	for name := range actions {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, action := range names {
		roles := actions[action]
		t.Run(action, func(t *testing.T) {
			// Refused keys: one answer whatever the reason, and whoever's.
			ucode, umsg := callAction(t, w.srv.Host, unknown, action, map[string]any{})
			if ucode != "AuthFailure.SecretIdNotFound" {
				t.Fatalf("unknown SecretId: %s %q", ucode, umsg)
			}
			for _, k := range []key{w.disabled, w.expired} {
				code, msg := callAction(t, w.srv.Host, k, action, map[string]any{})
				if code != ucode || strings.ReplaceAll(msg, k.SecretId, "ID") != strings.ReplaceAll(umsg, unknown.SecretId, "ID") {
					t.Errorf("key %s answers %s %q; an unknown SecretId %s %q: the answer tells them apart", k.SecretId, code, msg, ucode, umsg)
				}
			}
			for _, k := range append(append([]key{}, w.resellers...), w.customers...) {
				role := account.Role(k.Role)
				if !slices.Contains(roles, role) {
					code, msg := callAction(t, w.srv.Host, k, action, map[string]any{})
					if code != "UnauthorizedOperation" {
						t.Errorf("%s %s: %s %q, want UnauthorizedOperation", role, k.Uin, code, msg)
					}
					for _, u := range w.uins {
						if u != k.Uin && strings.Contains(msg, u) {
							t.Errorf("%s %s: the refusal names account %s: %q", role, k.Uin, u, msg)
						}
					}
					continue
				}
				probe := probes[action]
				if probe == nil {
					t.Fatalf("%s admits %s but has no isolation probe: add one to TestIsolationMatrix's probes", action, role)
				}
				t.Run(string(role)+"/"+k.Uin, func(t *testing.T) {
					t.Parallel() // the rate limit is per account: probes of different accounts need not queue
					probe(t, w, k)
				})
			}
		})
	}
}

// probeBillDownloadURL proves that DescribeBillDownloadUrl gives customer
// k its own bill and nothing of anyone else's: every row of every file its
// links return is its own, and all of them are there; no request
// parameter can name another owner; no value of Month or FileType reaches
// outside its files; and its link, pointed at another customer's file
// that exists, is refused exactly as one pointed at a file that does not.
func probeBillDownloadURL(t *testing.T, w *isolationWorld, k key) {
	for _, month := range isolationMonths {
		for _, ft := range []string{"L2", "L3"} {
			link := waitReady(t, w.srv.Host, k, month, ft)
			_, recs := download(t, link)
			owner := slices.Index(recs[0], "OwnerAccountId")
			if owner < 0 {
				t.Fatalf("%s %s has no OwnerAccountId column: %v", ft, month, recs[0])
			}
			for _, r := range recs[1:] {
				if r[owner] != k.Uin {
					t.Fatalf("%s's %s %s holds a row of %s", k.Uin, ft, month, r[owner])
				}
			}
			if ft == "L3" && len(recs)-1 != w.rows[k.Uin][month] {
				t.Errorf("%s's L3 %s holds %d rows, want its %d", k.Uin, month, len(recs)-1, w.rows[k.Uin][month])
			}
		}
	}

	// No parameter names an owner: any name for one is refused, and in
	// the same words whether the UIN it gives exists or not.
	base := map[string]any{"Month": "2024-12", "FileType": "L3"}
	with := func(name, value string) map[string]any {
		p := map[string]any{name: value}
		for n, v := range base {
			p[n] = v
		}
		return p
	}
	for _, name := range []string{"Uin", "OwnerUin", "OwnerAccountId", "PayerUin", "PayerAccountId", "CustomerUin", "ClientUin", "SubUin", "AccountId", "CustomerUinList"} {
		ncode, nmsg := callAction(t, w.srv.Host, k, "DescribeBillDownloadUrl", with(name, "800000999999"))
		for _, other := range w.uins {
			if other == k.Uin {
				continue
			}
			code, msg := callAction(t, w.srv.Host, k, "DescribeBillDownloadUrl", with(name, other))
			if code != "UnknownParameter" {
				t.Errorf("%s=%s: %s %q, want UnknownParameter", name, other, code, msg)
			}
			if code != ncode || msg != nmsg {
				t.Errorf("%s=%s answers %s %q, a UIN that does not exist %s %q", name, other, code, msg, ncode, nmsg)
			}
		}
	}
	other := w.customers[0]
	if other.Uin == k.Uin {
		other = w.customers[1]
	}
	for _, p := range []map[string]any{
		{"Month": "2024-12/../../" + other.Uin + "/2024-12", "FileType": "L3"},
		{"Month": "2024-12", "FileType": "L3/../../" + other.Uin + "/2024-12/L3-v1"},
		{"Month": other.Uin, "FileType": "L3"},
	} {
		if code, msg := callAction(t, w.srv.Host, k, "DescribeBillDownloadUrl", p); code != "InvalidParameter" {
			t.Errorf("%v: %s %q, want InvalidParameter", p, code, msg)
		}
	}

	// The link names its object; pointing it at another customer's file,
	// which exists, gets what pointing it at no file at all gets.
	link := waitReady(t, w.srv.Host, k, "2024-12", "L3")
	retarget := func(owner string) (int, string) {
		t.Helper()
		u, err := url.Parse(link)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		obj := q.Get("obj")
		if !strings.Contains(obj, k.Uin) {
			t.Fatalf("link %s does not name its object in obj", link)
		}
		q.Set("obj", strings.ReplaceAll(obj, k.Uin, owner))
		u.RawQuery = q.Encode()
		resp, err := http.Get(u.String())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(body)
	}
	for _, c := range w.customers[:len(w.customers)-1] {
		if c.Uin == k.Uin {
			continue
		}
		if _, err := os.Stat(filepath.Join(w.dir, "files", "bills", c.Uin, "2024-12")); err != nil {
			t.Fatalf("customer %s's files are not there to reach: %v", c.Uin, err)
		}
		status, body := retarget(c.Uin)
		nstatus, nbody := retarget("800000999999")
		if status != http.StatusForbidden || status != nstatus || body != nbody {
			t.Errorf("%s's link pointed at %s's file: %d %q; at no file: %d %q", k.Uin, c.Uin, status, body, nstatus, nbody)
		}
	}
}
