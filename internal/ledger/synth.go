package ledger

import (
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/shopspring/decimal"
)

// SynthOptions says what [Synth] should generate.
type SynthOptions struct {
	Customers       int // number of end customers; taken from CustomerUins when 0
	RowsPerCustomer int
	Month           Month // bill month of every row; required
	Seed            int64
	PayerUin        string   // reseller UIN; default DefaultPayerUin
	CustomerUins    []string // optional; else derived from Seed (12 digits, starting 8000)
}

// DefaultPayerUin is the reseller UIN synthetic rows use when none is
// given; it is the payer in the API documentation's examples.
const DefaultPayerUin = "800000400309"

// maxSynthRows bounds one Synth call so that row ids (see synthID) stay
// unique: they are a permutation of the row numbers, which must fit below
// 9e18.
const maxSynthRows = 1_000_000_000_000

// Synth returns synthetic but realistic line items for demos, tests and
// benchmarks, with the customer UINs they belong to.
//
// Output is deterministic: the same options give the same rows, byte for
// byte, on every run and every iteration of rows. Rows are built on demand,
// so ten million of them take no more memory than ten. Every row passes
// [Row.Validate] and its amounts obey the bill's formulas exactly:
//
//	OriginalCost             = round8(ComponentListPrice × ComponentUsage × UsageDuration)
//	TotalAmountAfterDiscount = round8(OriginalCost × CustomerDiscountRate)
//	TotalCost                = TotalAmountAfterDiscount − VoucherDeduction
//
// where round8 rounds half away from zero to 8 decimal places.
//
// Each customer gets a few instances (pay-as-you-go and monthly
// subscription) that persist across months for the same Seed, and rows are
// grouped in settlement events that share a TransactionId: an hourly CVM
// settlement yields CPU, memory and system disk rows. Row Ids never repeat
// within a call; the month is mixed into them, so files synthesised for
// several months with one Seed can be imported side by side (a clash
// between months is as unlikely as between two random 63-bit numbers).
func Synth(opts SynthOptions) (uins []string, rows iter.Seq[Row], err error) {
	if opts.Customers == 0 {
		opts.Customers = len(opts.CustomerUins)
	}
	switch {
	case opts.Customers < 0:
		return nil, nil, fmt.Errorf("synth: Customers = %d, want 0 or more", opts.Customers)
	case opts.RowsPerCustomer < 0:
		return nil, nil, fmt.Errorf("synth: RowsPerCustomer = %d, want 0 or more", opts.RowsPerCustomer)
	case opts.Month.IsZero():
		return nil, nil, errors.New("synth: Month is required")
	case opts.Month.Year < 1000 || opts.Month.Year > 9999 || opts.Month.Mon < 1 || opts.Month.Mon > 12:
		return nil, nil, fmt.Errorf("synth: Month %s out of range", opts.Month)
	case opts.RowsPerCustomer > 0 && opts.Customers > maxSynthRows/opts.RowsPerCustomer:
		return nil, nil, fmt.Errorf("synth: %d customers × %d rows is more than %d rows", opts.Customers, opts.RowsPerCustomer, maxSynthRows)
	}
	if opts.PayerUin == "" {
		opts.PayerUin = DefaultPayerUin
	}
	if !isUIN(opts.PayerUin) {
		return nil, nil, fmt.Errorf("synth: PayerUin %s is not a UIN; want 1 to 20 ASCII digits", quoteShort(opts.PayerUin))
	}
	if len(opts.CustomerUins) > 0 {
		if len(opts.CustomerUins) != opts.Customers {
			return nil, nil, fmt.Errorf("synth: %d CustomerUins for %d Customers", len(opts.CustomerUins), opts.Customers)
		}
		seen := make(map[string]bool, len(opts.CustomerUins))
		for _, u := range opts.CustomerUins {
			if !isUIN(u) {
				return nil, nil, fmt.Errorf("synth: customer UIN %s is not a UIN; want 1 to 20 ASCII digits", quoteShort(u))
			}
			if seen[u] {
				return nil, nil, fmt.Errorf("synth: customer UIN %s listed twice", u)
			}
			seen[u] = true
		}
		uins = append([]string(nil), opts.CustomerUins...)
	} else {
		if opts.Customers > 10_000_000 {
			return nil, nil, fmt.Errorf("synth: %d customers; derived UINs allow at most 10000000", opts.Customers)
		}
		uins = synthUins(opts.Seed, opts.Customers, opts.PayerUin)
	}

	rows = func(yield func(Row) bool) {
		idKey := mix64(uint64(opts.Seed) ^ mix64(uint64(opts.Month.Year*12+int(opts.Month.Mon))))
		n := uint64(0)
		for c, uin := range uins {
			g := newSynthCustomer(&opts, c, uin)
			for range opts.RowsPerCustomer {
				var row Row
				g.fill(&row)
				row.Id = synthID(idKey, n)
				n++
				if !yield(row) {
					return
				}
			}
		}
	}
	return uins, rows, nil
}

// synthUins derives n distinct 12-digit customer UINs starting with 8000
// (the shape of real international-site UINs) from seed.
func synthUins(seed int64, n int, payer string) []string {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x5eed_0000_0000_0001))
	uins := make([]string, 0, n)
	seen := make(map[string]bool, n+1)
	seen[payer] = true
	for len(uins) < n {
		u := fmt.Sprintf("8000%08d", rng.IntN(100_000_000))
		if !seen[u] {
			seen[u] = true
			uins = append(uins, u)
		}
	}
	return uins
}

// synthID maps row number n to a 19-digit id. The mapping is a keyed
// permutation of [0, 9e18), so distinct row numbers never share an id, while
// ids still look like the random 63-bit numbers Tencent's line ids are.
// mix63 permutes [0, 2^63); cycle walking (re-applying it until the value
// lands below 9e18) turns that into a permutation of the smaller range.
func synthID(key, n uint64) string {
	const span = 9_000_000_000_000_000_000
	x := n
	for {
		x = mix63(x, key)
		if x < span {
			return strconv.FormatUint(x+1_000_000_000_000_000_000, 10)
		}
	}
}

// mix63 is a bijection on 63-bit values: each step (xor with a constant,
// xorshift right, multiplication by an odd number, addition, all modulo
// 2^63) can be undone.
func mix63(x, key uint64) uint64 {
	const mask = 1<<63 - 1
	x = (x ^ key) & mask
	x ^= x >> 31
	x = (x * 0x7fb5d329728ea185) & mask
	x ^= x >> 27
	x = (x * 0x81dadef4bc2dd44d) & mask
	x ^= x >> 33
	return (x + key>>1) & mask
}

// mix64 scrambles a seed (the splitmix64 finaliser).
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// The catalogue. Names, units and prices are modelled on the examples in
// Tencent's API documentation; prices are list prices per unit.

// synthComponent is one billable component of a sub-product.
type synthComponent struct {
	typ, name   string
	usageUnit   string
	payg        string // pay-as-you-go list price, per paygUnit
	paygUnit    string
	monthly     string // subscription list price per month; "" if not sold monthly
	monthlyUnit string
	sizes       []string // per-instance usage choices; nil = drawn per settlement
	maxMicros   int      // per-settlement usage bound, in millionths of usageUnit
}

// synthSub is a sub-product and its components.
type synthSub struct {
	name  string
	comps []synthComponent
}

// synthProduct is a product line: how its instances are named and billed.
type synthProduct struct {
	name     string
	subs     []synthSub
	idPrefix string // "ins-" etc.; "" for products named by bucket or domain
	daily    bool   // settled daily (usage-based) rather than hourly
	monthly  bool   // can be bought as a monthly subscription
	zonal    bool   // has an availability zone
}

var (
	cvm = synthProduct{
		name: "Cloud Virtual Machine(CVM)", idPrefix: "ins-", monthly: true, zonal: true,
		subs: []synthSub{
			{"CVM Standard S5", cvmComps("S5", "0.00000583", "13.5", "0.00000311", "7.2")},
			{"CVM Standard SA2", cvmComps("SA2", "0.00000486", "11.25", "0.00000259", "6")},
			{"CVM Memory Optimized M5", cvmComps("M5", "0.00000583", "13.5", "0.00000389", "9")},
		},
	}
	cbs = synthProduct{
		name: "cloud block storage", idPrefix: "disk-", monthly: true, zonal: true,
		subs: []synthSub{
			{"HDD cloud block storage", diskComps("HDD cloud block storage", "0.00000003", "0.05")},
			{"Premium Cloud Storage", diskComps("Premium Cloud Storage", "0.00000006", "0.1")},
			{"SSD cloud block storage", diskComps("SSD cloud block storage", "0.00000013", "0.23")},
		},
	}
	mysql = synthProduct{
		name: "TencentDB for MySQL", idPrefix: "cdb-", monthly: true, zonal: true,
		subs: []synthSub{
			{"MySQL High-Availability Edition", []synthComponent{
				{typ: "CPU", name: "MySQL CPU", usageUnit: "Core", payg: "0.00001157", paygUnit: "USD/Core/Second", monthly: "27", monthlyUnit: "USD/Core/Month", sizes: []string{"1", "2", "4", "8"}},
				{typ: "memory", name: "MySQL memory", usageUnit: "GB", payg: "0.00000579", paygUnit: "USD/GB/Second", monthly: "13.5", monthlyUnit: "USD/GB/Month", sizes: []string{"2", "4", "8", "16"}},
				{typ: "storage space", name: "MySQL storage space", usageUnit: "GB", payg: "0.00000005", paygUnit: "USD/GB/Second", monthly: "0.12", monthlyUnit: "USD/GB/Month", sizes: []string{"50", "100", "200", "500", "1000"}},
			}},
		},
	}
	clb = synthProduct{
		name: "Cloud Load Balancer", idPrefix: "lb-", zonal: true,
		subs: []synthSub{
			{"CLB Standard", []synthComponent{
				{typ: "instance fee", name: "CLB instance fee", usageUnit: "Instance", payg: "0.00000556", paygUnit: "USD/Instance/Second", sizes: []string{"1"}},
				{typ: "LCU", name: "CLB LCU fee", usageUnit: "LCU", payg: "0.00000194", paygUnit: "USD/LCU/Second", maxMicros: 3_000_000},
			}},
		},
	}
	cos = synthProduct{
		name: "Cloud Object Storage", daily: true,
		subs: []synthSub{
			{"COS Standard Storage", []synthComponent{
				{typ: "storage", name: "Standard storage capacity", usageUnit: "GB", payg: "0.0008", paygUnit: "USD/GB/Day", maxMicros: 5_000_000_000},
				{typ: "traffic", name: "Public network downstream traffic", usageUnit: "GB", payg: "0.12", paygUnit: "USD/GB", maxMicros: 200_000_000},
			}},
		},
	}
	cdn = synthProduct{
		name: "Content Delivery Network", daily: true,
		subs: []synthSub{
			{"CDN Traffic", []synthComponent{
				{typ: "traffic", name: "CDN traffic - Asia Pacific 1", usageUnit: "GB", payg: "0.0646", paygUnit: "USD/GB", maxMicros: 800_000_000},
			}},
		},
	}
	// synthProducts weights products by how often customers run them.
	synthProducts = []*synthProduct{&cvm, &cvm, &cvm, &cbs, &cbs, &mysql, &clb, &cos, &cdn}
	// synthMonthlyProducts are what the one guaranteed subscription is.
	synthMonthlyProducts = []*synthProduct{&cvm, &cbs, &mysql}
)

// cvmComps builds the CPU, memory and system disk of a CVM family.
func cvmComps(family, cpu, cpuMonthly, mem, memMonthly string) []synthComponent {
	return []synthComponent{
		{typ: "CPU", name: "CPU " + family, usageUnit: "Core", payg: cpu, paygUnit: "USD/Core/Second", monthly: cpuMonthly, monthlyUnit: "USD/Core/Month", sizes: []string{"1", "2", "2", "4", "4", "8", "16"}},
		{typ: "memory", name: "Memory " + family, usageUnit: "GiB", payg: mem, paygUnit: "USD/GiB/Second", monthly: memMonthly, monthlyUnit: "USD/GiB/Month", sizes: []string{"2", "4", "8", "8", "16", "32", "64"}},
		{typ: "system disk", name: "Premium Cloud Storage-system disk", usageUnit: "GB", payg: "0.00000006", paygUnit: "USD/GB/Second", monthly: "0.1", monthlyUnit: "USD/GB/Month", sizes: []string{"50", "50", "100"}},
	}
}

// diskComps builds the single volume-size component of a disk type.
func diskComps(sub, payg, monthly string) []synthComponent {
	return []synthComponent{
		{typ: "volume size", name: sub + "-volume size", usageUnit: "GB", payg: payg, paygUnit: "USD/GB/Second", monthly: monthly, monthlyUnit: "USD/GB/Month", sizes: []string{"100", "250", "500", "1000"}},
	}
}

// synthRegion is a region name, with the no-break space Tencent puts before
// the parenthesis, and its zones.
type synthRegion struct {
	name  string
	zones []string
}

// synthRegions lists Singapore twice: partnerbill's users are mostly served
// from the international site's home region.
var synthRegions = []synthRegion{
	{"Southeast Asia\u00a0(Singapore)", []string{"Singapore Zone 1", "Singapore Zone 2", "Singapore Zone 3", "Singapore Zone 4"}},
	{"Southeast Asia\u00a0(Singapore)", []string{"Singapore Zone 1", "Singapore Zone 3"}},
	{"East China\u00a0(Shanghai)", []string{"Shanghai Zone 1", "Shanghai Zone 2", "Shanghai Zone 4", "Shanghai Zone 5"}},
	{"South China\u00a0(Guangzhou)", []string{"Guangzhou Zone 3", "Guangzhou Zone 4", "Guangzhou Zone 6", "Guangzhou Zone 7"}},
	{"North China\u00a0(Beijing)", []string{"Beijing Zone 1", "Beijing Zone 3", "Beijing Zone 5", "Beijing Zone 7"}},
	{"Hong Kong, Macau and Taiwan (China)\u00a0(Hong Kong, China)", []string{"Hong Kong Zone 1", "Hong Kong Zone 2"}},
	{"Southeast Asia\u00a0(Jakarta)", []string{"Jakarta Zone 1", "Jakarta Zone 2"}},
	{"Southeast Asia\u00a0(Bangkok)", []string{"Bangkok Zone 1", "Bangkok Zone 2"}},
	{"Northeast Asia\u00a0(Tokyo)", []string{"Tokyo Zone 1", "Tokyo Zone 2"}},
	{"Europe\u00a0(Frankfurt)", []string{"Frankfurt Zone 1", "Frankfurt Zone 2"}},
}

var (
	synthProjects = []string{"default", "default", "default", "ecommerce", "data-platform", "Marketing Site"}
	// Instance names are user-chosen aliases; these include the text that
	// trips CSV tools: commas, quotes, CJK, emoji, and the empty alias.
	synthNames = []string{
		"", "", "web-01", "web-02", "api-gateway", "prod-db", "staging", "batch-worker",
		"生产环境-数据库", "測試, 備份", `log "archive"`, "🚀 launch", "jenkins", "redis-cache",
	}
	synthWords     = []string{"shop", "media", "assets", "logs", "backup", "static", "img", "video"}
	synthDiscounts = []string{"1", "1", "1", "0.95", "0.9", "0.85"}
	synthVouchers  = []string{"0.1", "0.25", "0.5", "1"}
)

// synthInstance is one resource of a customer.
type synthInstance struct {
	product   *synthProduct
	sub       *synthSub
	id, name  string
	project   string
	region    string
	zone      string
	operator  string
	monthly   bool
	sizes     []string // usage per component (fixed sizes only)
	subscribe string   // "Purchase" or "Renewal", for monthly instances
	billed    bool     // the monthly subscription event has been emitted
}

// synthCustomer generates one customer's rows, event by event.
type synthCustomer struct {
	opts     *SynthOptions
	rng      *rand.Rand // draws this month's settlements
	uin      string
	discount decimal.Decimal
	discText string
	insts    []synthInstance
	payg     []int // indexes of pay-as-you-go instances
	subs     []int // indexes of monthly-subscription instances

	// The current settlement event; rows are its components in order.
	ev synthEvent
}

// synthEvent is one settlement: its rows share a TransactionId and times.
type synthEvent struct {
	inst                   *synthInstance
	txType, txID           string
	txTime, start, end     string
	duration, durationUnit string
	refund                 bool
	next                   int // next component to emit
}

// newSynthCustomer sets up customer c. Its instances come from a stream
// seeded by Seed and c only, so the same customers run the same resources
// in every month; its settlements come from a stream that also mixes in the
// month.
func newSynthCustomer(opts *SynthOptions, c int, uin string) *synthCustomer {
	seed := uint64(opts.Seed)
	setup := rand.New(rand.NewPCG(seed, mix64(uint64(c)*2+1)))
	month := uint64(opts.Month.Year*12 + int(opts.Month.Mon))
	g := &synthCustomer{
		opts: opts,
		rng:  rand.New(rand.NewPCG(seed^mix64(month), mix64(uint64(c)*2+2))),
		uin:  uin,
	}
	g.discText = pick(setup, synthDiscounts)
	g.discount = decimal.RequireFromString(g.discText)
	subUser := fmt.Sprintf("100%09d", setup.IntN(1_000_000_000))

	n := 3 + setup.IntN(4)
	g.insts = make([]synthInstance, n)
	for i := range g.insts {
		// The first instance is always a pay-as-you-go CVM and the second a
		// monthly subscription, so every customer has hourly settlements to
		// aggregate and something a refund can apply to.
		var p *synthProduct
		switch i {
		case 0:
			p = &cvm
		case 1:
			p = pick(setup, synthMonthlyProducts)
		default:
			p = pick(setup, synthProducts)
		}
		monthly := i == 1 || (i > 1 && p.monthly && setup.IntN(10) < 3)
		g.insts[i] = newSynthInstance(setup, p, monthly, uin, subUser)
		if monthly {
			g.subs = append(g.subs, i)
		} else {
			g.payg = append(g.payg, i)
		}
	}
	return g
}

// newSynthInstance draws one resource of product p.
func newSynthInstance(rng *rand.Rand, p *synthProduct, monthly bool, owner, subUser string) synthInstance {
	in := synthInstance{product: p, sub: &p.subs[rng.IntN(len(p.subs))], monthly: monthly}
	reg := &synthRegions[rng.IntN(len(synthRegions))]
	in.region = reg.name
	if p.zonal {
		in.zone = pick(rng, reg.zones)
	}
	in.project = pick(rng, synthProjects)
	in.operator = owner
	if rng.IntN(4) == 0 {
		in.operator = subUser
	}
	switch {
	case p.idPrefix != "":
		in.id = p.idPrefix + randomID(rng, 8)
		in.name = pick(rng, synthNames)
	case p == &cos:
		in.id = fmt.Sprintf("%s-%d", pick(rng, synthWords), 1250000000+rng.IntN(10_000_000))
	default:
		in.id = fmt.Sprintf("%s.%s-%d.com", pick(rng, synthWords), pick(rng, synthWords), rng.IntN(100))
	}
	in.sizes = make([]string, len(in.sub.comps))
	for i, c := range in.sub.comps {
		if c.sizes != nil {
			in.sizes[i] = pick(rng, c.sizes)
		}
	}
	in.subscribe = "Renewal"
	if rng.IntN(10) < 3 {
		in.subscribe = "Purchase"
	}
	return in
}

// fill writes the customer's next row into r (all fields but Id).
func (g *synthCustomer) fill(r *Row) {
	if g.ev.inst == nil || g.ev.next == len(g.ev.inst.sub.comps) {
		g.newEvent()
	}
	ev := &g.ev
	in := ev.inst
	ci := ev.next
	ev.next++
	comp := &in.sub.comps[ci]

	usage := in.sizes[ci]
	if usage == "" {
		usage = FormatDecimal(decimal.New(int64(1+g.rng.IntN(comp.maxMicros)), -6))
	}
	price, priceUnit := comp.payg, comp.paygUnit
	if in.monthly {
		price, priceUnit = comp.monthly, comp.monthlyUnit
	}
	original := mustDecimal(price).Mul(mustDecimal(usage)).Mul(mustDecimal(ev.duration)).Round(8)
	afterDiscount := original.Mul(g.discount).Round(8)
	voucher := decimal.Zero
	if !ev.refund && g.rng.IntN(25) == 0 {
		voucher = afterDiscount.Mul(mustDecimal(pick(g.rng, synthVouchers))).Round(8)
	}

	billingMode := "Pay-As-You-Go resources"
	if in.monthly {
		billingMode = "Monthly subscription"
	}
	*r = Row{
		PayerAccountId:                g.opts.PayerUin,
		OwnerAccountId:                g.uin,
		OperatorAccountId:             in.operator,
		ProductName:                   in.product.name,
		BillingMode:                   billingMode,
		ProjectName:                   in.project,
		Region:                        in.region,
		AvailabilityZone:              in.zone,
		InstanceId:                    in.id,
		InstanceName:                  in.name,
		SubProductName:                in.sub.name,
		TransactionType:               ev.txType,
		TransactionId:                 ev.txID,
		TransactionTime:               ev.txTime,
		UsageStartTime:                ev.start,
		UsageEndTime:                  ev.end,
		ComponentType:                 comp.typ,
		ComponentName:                 comp.name,
		ComponentListPrice:            price,
		ComponentPriceMeasurementUnit: priceUnit,
		ComponentUsage:                usage,
		ComponentUsageUnit:            comp.usageUnit,
		UsageDuration:                 ev.duration,
		DurationUnit:                  ev.durationUnit,
		OriginalCost:                  FormatDecimal(original),
		DiscountRate:                  "1",
		Currency:                      "USD",
		TotalAmountAfterDiscount:      FormatDecimal(afterDiscount),
		VoucherDeduction:              FormatDecimal(voucher),
		TotalCost:                     FormatDecimal(afterDiscount.Sub(voucher)),
		CustomerDiscountRate:          g.discText,
		BillMonth:                     g.opts.Month,
	}
}

// newEvent draws the next settlement. About one in 200 is a refund of a
// monthly subscription; each subscription is bought or renewed once a
// month; everything else is hourly or daily pay-as-you-go settlement, all
// with transaction times inside the bill month.
func (g *synthCustomer) newEvent() {
	rng := g.rng
	m0 := g.opts.Month.first()
	nDays := m0.AddDate(0, 1, -1).Day()
	ev := synthEvent{}
	var tx time.Time

	i := g.payg[rng.IntN(len(g.payg))]
	if rng.IntN(8) == 0 {
		// A monthly instance; its purchase or renewal happens once.
		if j := g.subs[rng.IntN(len(g.subs))]; !g.insts[j].billed {
			i = j
		}
	}
	in := &g.insts[i]
	ev.inst = in

	switch {
	case rng.IntN(200) == 0:
		// Part of a subscription is returned: negative duration, so the
		// amounts come out negative through the usual formula.
		ev.inst = &g.insts[g.subs[rng.IntN(len(g.subs))]]
		ev.refund = true
		ev.txType = "Monthly subscription refund"
		tx = m0.Add(time.Duration(rng.IntN(nDays*86400)) * time.Second)
		left := 1 + rng.IntN(29)
		ev.start = tx.Format(timeLayout)
		ev.end = tx.AddDate(0, 0, left).Add(-time.Second).Format(timeLayout)
		ev.duration = FormatDecimal(decimal.NewFromInt(int64(-left)).DivRound(decimal.NewFromInt(30), 8))
		ev.durationUnit = "Month"
	case in.monthly:
		in.billed = true
		ev.txType = in.subscribe
		tx = m0.Add(time.Duration(rng.IntN(nDays*86400)) * time.Second)
		ev.start = tx.Format(timeLayout)
		ev.end = tx.AddDate(0, 1, 0).Add(-time.Second).Format(timeLayout)
		ev.duration, ev.durationUnit = "1", "Month"
	case in.product.daily:
		// Yesterday's usage, settled in the small hours; never the last
		// day, whose settlement would fall in the next month.
		start := m0.AddDate(0, 0, rng.IntN(nDays-1))
		end := start.Add(24*time.Hour - time.Second)
		tx = end.Add(time.Duration(1+rng.IntN(4*3600)) * time.Second)
		ev.txType = "Daily settlement"
		ev.start, ev.end = start.Format(timeLayout), end.Format(timeLayout)
		ev.duration, ev.durationUnit = "1", "Day"
	default:
		// One hour's usage, settled within half an hour of its end; never
		// the month's last hour.
		start := m0.Add(time.Duration(rng.IntN(nDays*24-1)) * time.Hour)
		end := start.Add(time.Hour - time.Second)
		tx = end.Add(time.Duration(1+rng.IntN(1800)) * time.Second)
		ev.txType = "Hourly settlement"
		ev.start, ev.end = start.Format(timeLayout), end.Format(timeLayout)
		ev.duration, ev.durationUnit = "3600", "Second"
		if rng.IntN(20) == 0 { // created or released within the hour
			ev.duration = strconv.Itoa(1 + rng.IntN(3599))
		}
	}
	ev.txTime = tx.Format(timeLayout)
	ev.txID = tx.Format("20060102") + fmt.Sprintf("%015d", rng.Int64N(1_000_000_000_000_000))
	g.ev = ev
}

// pick returns a random element of xs.
func pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

// randomID returns n random lowercase letters and digits, the tail of
// Tencent resource ids such as "ins-kxzoyw6c".
func randomID(rng *rand.Rand, n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return string(b)
}

// mustDecimal parses a catalogue or generated number, which is always valid.
func mustDecimal(s string) decimal.Decimal {
	d, err := ParseDecimal(s)
	if err != nil {
		panic("ledger: synth catalogue: " + err.Error())
	}
	return d
}
