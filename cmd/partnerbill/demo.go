package main

import (
	"context"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/partnerbill/partnerbill/internal/account"
	"github.com/partnerbill/partnerbill/internal/ledger"
	"github.com/partnerbill/partnerbill/internal/store"
)

// demoSeed fixes the demo data, so every demo start finds the same
// customer and line items.
const demoSeed = 20221128

// demo makes sure the demo reseller and end customer exist with last
// month's synthetic bill, issues a fresh key, and prints calls to paste.
func demo(ctx context.Context, st store.Store, base string, out io.Writer) error {
	month := ledger.MonthOf(time.Now().UTC().AddDate(0, 0, -time.Now().UTC().Day()))
	const payer = "800000400309"
	uins, rows, err := ledger.Synth(ledger.SynthOptions{Customers: 1, RowsPerCustomer: 500, Month: month, Seed: demoSeed, PayerUin: payer})
	if err != nil {
		return err
	}
	for _, a := range []account.Account{
		{UIN: payer, Role: account.RoleReseller, Name: "demo reseller"},
		{UIN: uins[0], Role: account.RoleEndCustomer, ResellerUIN: payer, Name: "demo customer"},
	} {
		if err := st.CreateAccount(ctx, a); err != nil && !errors.Is(err, store.ErrDuplicate) {
			return err
		}
	}
	if _, err := st.ImportRows(ctx, func(yield func(ledger.Row, error) bool) {
		for r := range rows {
			if !yield(r, nil) {
				return
			}
		}
	}); err != nil {
		return err
	}
	k := account.NewKey(uins[0], time.Now())
	if err := st.CreateKey(ctx, k); err != nil {
		return err
	}
	host := strings.TrimPrefix(base, "http://")
	r := strings.NewReplacer("{ID}", k.SecretID, "{KEY}", k.SecretKey, "{HOST}", host, "{MONTH}", month.String(), "{UIN}", uins[0])
	_, err = io.WriteString(out, r.Replace(demoText))
	return err
}

const demoText = `
Demo end customer {UIN} has 500 line items for {MONTH}.
Its new key: SecretId {ID}  SecretKey {KEY}

With curl (signature v1, HmacSHA256; run it twice: Ready 0 while the file is built, then Ready 1 with a link):

  ID={ID}; KEY={KEY}; HOST={HOST}
  Q="Action=DescribeBillDownloadUrl&FileType=L3&Month={MONTH}&Nonce=$RANDOM&SecretId=$ID&SignatureMethod=HmacSHA256&Timestamp=$(date +%s)&Version=2022-09-28"
  SIG=$(printf 'POST%s/?%s' "$HOST" "$Q" | openssl dgst -sha256 -hmac "$KEY" -binary | base64)
  curl -s "http://$HOST/" --data "$Q" --data-urlencode "Signature=$SIG"; echo

With the official Go SDK (go get github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common@v1.3.211):

  package main

  import (
  	"fmt"

  	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
  	tchttp "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/http"
  	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"
  )

  func main() {
  	cpf := profile.NewClientProfile()
  	cpf.HttpProfile.Endpoint = "{HOST}"
  	cpf.HttpProfile.Scheme = "HTTP"
  	client := common.NewCommonClient(common.NewCredential("{ID}", "{KEY}"), "", cpf)
  	req := tchttp.NewCommonRequest("intlpartnersmgt", "2022-09-28", "DescribeBillDownloadUrl")
  	req.SetActionParameters(` + "`" + `{"Month":"{MONTH}","FileType":"L3"}` + "`" + `)
  	resp := tchttp.NewCommonResponse()
  	if err := client.Send(req, resp); err != nil {
  		panic(err)
  	}
  	fmt.Println(string(resp.GetBody()))
  }

`
