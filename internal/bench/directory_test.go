package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"appealhub/internal/httpapi"
	"appealhub/internal/hubtest"
	"appealhub/router"
	"appealhub/router/registry"
	"appealhub/schemas"
)

// The directory load: BENCH_SCALE multiplies the request count (not the registry size).
const (
	directoryAuthorities = 10000
	directoryRequests    = 2000
	directoryWarmUp      = 200
	directoryClients     = 8
)

// BenchmarkDirectory measures the public directory (GET /v1/directory) over a registry of 10,000
// authorities: every territorial community and its council over the 24 regions, their district and
// regional administrations, central bodies and some non-state organisations, all with valid EDRPOU
// codes, imported in one transaction through the registry (registry.Service.Import, as
// `appealhub authority import` does). A hub's HTTP API (router.Hub behind the production
// httpapi.Server) answers 8 concurrent clients over keep-alive connections with a mix of name,
// territory, kind, topic and paging queries. It reports the p50/p99/max latency (request sent →
// body read) and requests/s, logs the same per kind of query, and logs the query plan of a typical
// search (EXPLAIN ANALYZE through psql) with whether the pg_trgm index serves it.
//
// The hub's broker side is not started: a started hub would declare and consume 10,000 queues,
// which takes no part in a directory query (docs/scale.md measures that) and would only slow the
// benchmark down and load the shared RabbitMQ.
func BenchmarkDirectory(b *testing.B) {
	readMachine()
	ctx := context.Background()
	env := hubtest.NewEnv(b, nil, nil)
	hub, err := router.New(ctx, env.Config, router.Options{Logger: zap.NewNop()})
	if err != nil {
		b.Fatalf("new hub: %v", err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = hub.Stop(ctx)
	})

	dir := generateDirectory(directoryAuthorities)
	t0 := time.Now()
	n, err := hub.Registry().Import(ctx, dir.rows, schemas.AuthorityChangeMeta{By: "bench", Reason: "directory benchmark"})
	if err != nil {
		b.Fatalf("import %d authorities: %v", len(dir.rows), err)
	}
	if n != directoryAuthorities {
		b.Fatalf("imported %d authorities, want %d", n, directoryAuthorities)
	}
	b.Logf("imported %d authorities in one transaction in %s", n, time.Since(t0).Round(time.Millisecond))
	// As autovacuum leaves the table shortly after a bulk import (PostgreSQL 13+ vacuums after
	// inserts): statistics, and the GIN indexes' pending lists merged. Before that the pending lists
	// of the trigram indexes make an index scan cost more than a sequential scan, and the planner
	// scans the whole table for every name search (docs/performance.md, "Directory search").
	if out, err := psql(ctx, env, "VACUUM ANALYZE authorities"); err != nil {
		b.Fatalf("vacuum authorities: %v %s", err, out)
	}

	cfg := env.Config.HTTP
	hcfg := httpapi.Config{Addr: cfg.Addr, MaxBodyBytes: cfg.MaxBodyBytes, ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout: cfg.ReadTimeout, WriteTimeout: cfg.WriteTimeout, IdleTimeout: cfg.IdleTimeout}
	srv := httpapi.NewServer(hcfg, httpapi.NewHandler(hcfg, httpapi.Deps{Auth: hub, Submitter: hub, Cases: hub,
		Registry: hub}, zap.NewNop()), zap.NewNop())
	if err := srv.Start(ctx); err != nil {
		b.Fatalf("start http: %v", err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Stop(ctx)
	})
	base := "http://" + srv.Addr() + "/v1/directory?"
	tr := &http.Transport{MaxIdleConns: 2 * directoryClients, MaxIdleConnsPerHost: 2 * directoryClients,
		IdleConnTimeout: 30 * time.Second, DisableCompression: true}
	b.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr, Timeout: time.Minute}

	queries := dir.queries()
	for _, q := range queries {
		checkDirectoryQuery(ctx, b, client, base, q)
	}
	warm := runDirectory(ctx, b, client, base, queries, directoryWarmUp)
	requests := scaled(directoryRequests)
	var runs []directoryRun
	b.ResetTimer()
	for range b.N {
		runs = append(runs, runDirectory(ctx, b, client, base, queries, requests))
	}
	b.StopTimer()

	var all []time.Duration
	var wall time.Duration
	perQuery := map[string][]time.Duration{}
	for _, r := range runs {
		all = append(all, r.latencies...)
		wall += r.end.Sub(r.start)
		for i, d := range r.latencies {
			perQuery[r.kinds[i]] = append(perQuery[r.kinds[i]], d)
		}
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(len(all))/wall.Seconds(), "requests/s")
	b.ReportMetric(Millis(Percentile(all, 50)), "p50-ms")
	b.ReportMetric(Millis(Percentile(all, 99)), "p99-ms")
	b.ReportMetric(Millis(Percentile(all, 100)), "max-ms")
	var lines []string
	for _, q := range queries {
		if ds, ok := perQuery[q.kind]; ok {
			lines = append(lines, fmt.Sprintf("  %-18s n=%4d  p50 %6.1f  p99 %6.1f  max %6.1f  (%s, %d matches)", q.kind,
				len(ds), Millis(Percentile(ds, 50)), Millis(Percentile(ds, 99)), Millis(Percentile(ds, 100)), q.example, q.total))
			delete(perQuery, q.kind)
		}
	}
	cores := runs[len(runs)-1].cpu.Cores()
	b.Logf("directory over %d authorities: %d requests from %d clients (+%d warm-up, p99 %.1f ms); CPU cores busy %.2f "+
		"(this process %.2f, postgres %.2f, other %.2f)", directoryAuthorities, len(all), directoryClients,
		len(warm.latencies), Millis(Percentile(warm.latencies, 99)), cores.Busy, cores.Self, cores.Postgres,
		cores.Other+cores.RabbitMQ+cores.IRQ)
	// The benchmark's log is cut at 10 lines: the details go to standard output.
	fmt.Printf("\nBenchmarkDirectory: latency in ms by query (%d requests in all)\n%s\n", len(all), strings.Join(lines, "\n"))
	explainDirectory(ctx, b, env, dir.typicalWord)
}

// directoryQuery is one kind of query and its variants (the query strings after "?"), each of
// which must select something.
type directoryQuery struct {
	kind     string
	variants []string
	example  string // the first variant, for the log
	total    int    // matches of the first variant (set by checkDirectoryQuery)
}

// directoryRun is one timed round of requests.
type directoryRun struct {
	start, end time.Time
	latencies  []time.Duration
	kinds      []string
	cpu        CPUUse
}

// runDirectory sends n requests from directoryClients goroutines: request i is the query kind
// i mod len(queries), its variant i / len(queries). Anything but 200 fails the benchmark.
func runDirectory(ctx context.Context, b *testing.B, client *http.Client, base string, queries []*directoryQuery, n int) directoryRun {
	b.Helper()
	run := directoryRun{latencies: make([]time.Duration, n), kinds: make([]string, n)}
	var next atomic.Int64
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cpu := ReadCPU()
	run.start = time.Now()
	for range directoryClients {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				q := queries[i%len(queries)]
				v := q.variants[(i/len(queries))%len(q.variants)]
				t0 := time.Now()
				status, body, err := getDirectory(ctx, client, base+v)
				if err == nil && status != http.StatusOK {
					err = fmt.Errorf("HTTP %d: %s", status, body)
				}
				if err != nil {
					err = fmt.Errorf("GET ?%s: %w", v, err)
					failed.CompareAndSwap(nil, &err)
					cancel()
					return
				}
				run.latencies[i] = time.Since(t0)
				run.kinds[i] = q.kind
			}
		})
	}
	wg.Wait()
	run.end = time.Now()
	run.cpu = ReadCPU().Since(cpu)
	if err := failed.Load(); err != nil {
		b.Fatalf("directory: %v", *err)
	}
	return run
}

func getDirectory(ctx context.Context, client *http.Client, u string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, nil, fmt.Errorf("build request: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("get: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, fmt.Errorf("read answer: %w", err)
	}
	return resp.StatusCode, body, nil
}

// checkDirectoryQuery asks every variant of q once, before the clock starts, and fails the
// benchmark unless each selects something, fills its page as far as the total allows, and every
// entry shown satisfies the query (each word in the name or short name, under the territory, of
// the kind, competent for the topic): a benchmark of wrong answers measures nothing.
func checkDirectoryQuery(ctx context.Context, b *testing.B, client *http.Client, base string, q *directoryQuery) {
	b.Helper()
	q.example = q.variants[0]
	for i, v := range q.variants {
		status, body, err := getDirectory(ctx, client, base+v)
		if err != nil || status != http.StatusOK {
			b.Fatalf("directory ?%s: HTTP %d: %v %s", v, status, err, body)
		}
		var page struct {
			Items   []httpapi.DirectoryEntry `json:"items"`
			Total   int                      `json:"total"`
			Page    int                      `json:"page"`
			PerPage int                      `json:"per_page"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			b.Fatalf("directory ?%s: decode: %v", v, err)
		}
		want := min(page.PerPage, max(page.Total-(page.Page-1)*page.PerPage, 0))
		if page.Total == 0 || len(page.Items) != want {
			b.Fatalf("directory ?%s: %d items of %d (page %d of %d), want %d", v, len(page.Items), page.Total,
				page.Page, page.PerPage, want)
		}
		params, err := url.ParseQuery(v)
		if err != nil {
			b.Fatalf("directory query %q: %v", v, err)
		}
		prefix := ""
		if t := params.Get("territory"); t != "" {
			if prefix, err = registry.TerritoryPrefix(t); err != nil {
				b.Fatalf("directory query %q: %v", v, err)
			}
		}
		for _, e := range page.Items {
			ok := strings.HasPrefix(e.Territory, prefix) && (params.Get("kind") == "" || e.Kind == params.Get("kind"))
			if topic := params.Get("topic"); topic != "" {
				ok = ok && (slices.Contains(e.Topics, topic) || slices.Contains(e.Topics, schemas.AnyTopic))
			}
			for _, w := range strings.Fields(strings.ToLower(params.Get("q"))) {
				ok = ok && (strings.Contains(strings.ToLower(e.Name), w) || strings.Contains(strings.ToLower(e.ShortName), w))
			}
			if !ok || len(e.Accepts) == 0 {
				b.Fatalf("directory ?%s: entry %s (%s, %s, %s, %v, accepts %v) does not match", v, e.Code, e.Name,
					e.Kind, e.Territory, e.Topics, e.Accepts)
			}
		}
		if i == 0 {
			q.total = page.Total
		}
	}
}

// explainDirectory logs the plan of a typical name search, the two statements
// store.ListRegistryAuthorities runs (the count, then the page), with the word inlined: lib/pq
// sends parameters in an unnamed statement, which PostgreSQL plans with their values, as here.
func explainDirectory(ctx context.Context, b *testing.B, env *hubtest.Env, word string) {
	b.Helper()
	cond := fmt.Sprintf(`(lower(name) LIKE '%%%[1]s%%' OR lower(short_name) LIKE '%%%[1]s%%')`+
		` AND status = 'active' AND cardinality(accepts) > 0 AND kind <> ''`, word)
	out, err := psql(ctx, env,
		"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT count(*) FROM authorities WHERE "+cond,
		"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT * FROM authorities WHERE "+cond+" ORDER BY name, code LIMIT 20")
	if err != nil {
		b.Logf("explain the directory query: %v (psql is needed for the plan; the figures above stand)", err)
		return
	}
	used := strings.Contains(out, "_trgm")
	b.Logf("query plan of q=%s: the trigram index is used: %t (plan on standard output)", word, used)
	fmt.Printf("\nBenchmarkDirectory: query plan of q=%s, count then page (trigram index used: %t)\n%s\n", word, used, out)
}

// psql runs statements on env's schema with the psql client.
func psql(ctx context.Context, env *hubtest.Env, statements ...string) (string, error) {
	args := []string{env.Config.Database.URL, "-X", "-q", "-v", "ON_ERROR_STOP=1",
		"-c", fmt.Sprintf("SET search_path TO %q, public", env.Config.Database.Schema)}
	for _, s := range statements {
		args = append(args, "-c", s)
	}
	return command(ctx, "psql", args...)
}

// directory is a generated registry: its import rows and what the queries need to know of it.
type directory struct {
	rows        []registry.Row
	regions     []string // region territory codes
	communities []string // community-level territory codes (filter form: trailing zeros)
	typicalWord string
}

// regions are the 24 oblasts: KATOTTG region digits and the adjective of their name.
var regions = []struct{ digits, adj string }{
	{"05", "Вінницька"}, {"07", "Волинська"}, {"12", "Дніпропетровська"}, {"14", "Донецька"},
	{"18", "Житомирська"}, {"21", "Закарпатська"}, {"23", "Запорізька"}, {"26", "Івано-Франківська"},
	{"32", "Київська"}, {"35", "Кіровоградська"}, {"44", "Луганська"}, {"46", "Львівська"},
	{"48", "Миколаївська"}, {"51", "Одеська"}, {"53", "Полтавська"}, {"56", "Рівненська"},
	{"59", "Сумська"}, {"61", "Тернопільська"}, {"63", "Харківська"}, {"65", "Херсонська"},
	{"68", "Хмельницька"}, {"71", "Черкаська"}, {"73", "Чернівецька"}, {"74", "Чернігівська"},
}

// stems are adjectives of community names; with the prefixes they give 500 distinct names.
var stems = strings.Fields(`Олександрівська Бородянська Вишнівська Гостомельська Ірпінська Бучанська Макарівська
	Білогородська Васильківська Обухівська Українська Кагарлицька Миронівська Богуславська Тетіївська Рокитнянська
	Сквирська Володарська Ставищенська Таращанська Яготинська Згурівська Баришівська Березанська Переяславська
	Бориспільська Вороньківська Гірська Дударківська Золочівська Пристолична Студениківська Тиврівська Шпиківська
	Вапнярська Томашпільська Тульчинська Брацлавська Немирівська Іллінецька Липовецька Оратівська Погребищенська
	Калинівська Хмільницька Козятинська Глуховецька Бердичівська Андрушівська Чуднівська Любарська Коростишівська
	Радомишльська Малинська Овруцька Олевська Лугинська Народицька Ємільчинська Баранівська Пулинська Черняхівська
	Хорошівська Брусилівська Попільнянська Ружинська Вчорайшенська Самгородоцька Звягельська Ярунська Городницька
	Мирненська Зарічненська Дубровицька Сарненська Березнівська Костопільська Корецька Гощанська Острозька
	Млинівська Радивилівська Демидівська Здолбунівська Мізоцька Клеванська Олександрійська Соснівська Шпанівська
	Бабинська Смизька Козинська Вербська Дядьковицька Зорянська Миколаївська Петрівська Іванівська Михайлівська
	Степанівська Покровська Успенівська Кам'янська`)

var namePrefixes = []string{"", "Велико", "Мало", "Ново", "Старо"}

var topicWords = []string{"housing", "utilities", "roads", "education", "health", "social", "land", "transport",
	"ecology", "safety", "culture", "taxes", "pensions", "migration", "energy", "agriculture"}

var centralBodies = []struct{ name, short, topics string }{
	{"Кабінет Міністрів України", "КМУ", "*"},
	{"Міністерство охорони здоров'я України", "МОЗ", "health"},
	{"Міністерство освіти і науки України", "МОН", "education"},
	{"Міністерство соціальної політики України", "Мінсоцполітики", "social pensions"},
	{"Міністерство внутрішніх справ України", "МВС", "safety migration"},
	{"Міністерство юстиції України", "Мін'юст", "land"},
	{"Міністерство фінансів України", "Мінфін", "taxes"},
	{"Міністерство цифрової трансформації України", "Мінцифри", "social"},
	{"Міністерство розвитку громад та територій України", "Мінрозвитку", "housing utilities roads transport"},
	{"Міністерство аграрної політики та продовольства України", "Мінагрополітики", "agriculture land"},
	{"Міністерство енергетики України", "Міненерго", "energy utilities"},
	{"Міністерство культури та стратегічних комунікацій України", "Мінкультури", "culture"},
	{"Міністерство захисту довкілля та природних ресурсів України", "Мінприроди", "ecology"},
	{"Державна податкова служба України", "ДПС", "taxes"},
	{"Пенсійний фонд України", "ПФУ", "pensions"},
	{"Державна міграційна служба України", "ДМС", "migration"},
}

const districtsPerRegion = 5

// generateDirectory builds n valid registry rows: central bodies, each region's administration and
// council, district administrations, non-state organisations, and then every territorial community
// and its council (half of what is left each), spread over the regions' districts.
func generateDirectory(n int) *directory {
	d := &directory{typicalWord: "олександр"}
	seq := 0
	nextCode := func() string {
		base := fmt.Sprintf("%07d", 2100000+seq)
		seq++
		return base + strconv.Itoa(registry.CheckDigit(base+"0"))
	}
	add := func(name, short, kind, parent, territory string, topics []string, accepts []string, status string) string {
		code := nextCode()
		p := schemas.AuthorityPatch{Name: &name, Kind: &kind, Territory: &territory, Topics: &topics,
			Accepts: &accepts, Adapter: new("json"), Mode: new(schemas.AuthorityModePush),
			Endpoint: new("https://dms.example.gov.ua/" + code), Status: &status}
		if short != "" {
			p.ShortName = &short
		}
		if parent != "" {
			p.Parent = &parent
		}
		d.rows = append(d.rows, registry.Row{Line: len(d.rows) + 2, Code: code, Patch: p})
		return code
	}
	both := []string{string(schemas.CaseAppeal), string(schemas.CaseInfoRequest)}
	topicsOf := func(i, k int) []string {
		out := make([]string, 0, k)
		for j := range k {
			out = append(out, topicWords[(i*7+j*3)%len(topicWords)])
		}
		return out
	}
	kyiv := "UA80000000000000000"
	cabinet := ""
	for _, c := range centralBodies {
		code := add(c.name, c.short, schemas.AuthorityKindCentral, cabinet, kyiv, strings.Fields(c.topics), both, schemas.AuthorityActive)
		if cabinet == "" {
			cabinet = code
		}
	}
	districts := make([]string, 0, len(regions)*districtsPerRegion) // district administration codes
	districtTerritory := make([]string, 0, cap(districts))
	for r, reg := range regions {
		territory := "UA" + reg.digits + strings.Repeat("0", 15)
		d.regions = append(d.regions, territory)
		oda := add(reg.adj+" обласна державна адміністрація", reg.adj+" ОДА", schemas.AuthorityKindRegional, cabinet,
			territory, []string{schemas.AnyTopic}, both, schemas.AuthorityActive)
		add(reg.adj+" обласна рада", "", schemas.AuthorityKindRegional, "", territory, topicsOf(r, 4), both, schemas.AuthorityActive)
		for k := range districtsPerRegion {
			adj := stems[(r*districtsPerRegion+k*17)%len(stems)]
			dt := fmt.Sprintf("UA%s%02d%s", reg.digits, k+1, strings.Repeat("0", 13))
			districts = append(districts, add(adj+" районна державна адміністрація", adj+" РДА", schemas.AuthorityKindRegional,
				oda, dt, topicsOf(r+k, 6), both, schemas.AuthorityActive))
			districtTerritory = append(districtTerritory, dt)
		}
	}
	for i := range 4 * len(regions) {
		reg := regions[i%len(regions)]
		add(fmt.Sprintf("Громадська організація «%s громадська ініціатива %d»", stems[(i*13)%len(stems)], i/len(regions)+1),
			"", schemas.AuthorityKindNonState, "", "UA"+reg.digits+strings.Repeat("0", 15), topicsOf(i, 2),
			[]string{string(schemas.CaseAppeal)}, schemas.AuthorityActive)
	}
	communities := (n - len(d.rows)) / 2
	for i := range communities {
		dist := i % len(districts)
		number := i/len(districts) + 1
		stem := stems[i%len(stems)]
		adj := stem
		if p := namePrefixes[(i/len(stems))%len(namePrefixes)]; p != "" {
			adj = p + strings.ToLower(stem)
		}
		typ, abbr := "сільська", "СР"
		switch (i*7 + i/len(stems)) % 20 { // the kind of settlement varies within a stem
		case 0, 1:
			typ, abbr = "міська", "МР"
		case 2, 3, 4, 5, 6:
			typ, abbr = "селищна", "СелР"
		}
		prefix := districtTerritory[dist][:6] + fmt.Sprintf("%03d", number)
		territory := prefix + "00000" + fmt.Sprintf("%05d", 10000+i)
		if number == 1 {
			d.communities = append(d.communities, prefix+strings.Repeat("0", 10))
		}
		status, accepts := schemas.AuthorityActive, both
		switch {
		case i%97 == 13:
			status = schemas.AuthoritySuspended
		case i%89 == 17:
			accepts = []string{}
		}
		council := add(adj+" "+typ+" рада", adj+" "+abbr, schemas.AuthorityKindLocal, districts[dist], territory,
			topicsOf(i, 3+i%4), accepts, status)
		add(adj+" "+typ+" територіальна громада", "", schemas.AuthorityKindLocal, council, territory,
			topicsOf(i+1, 2+i%3), both, schemas.AuthorityActive)
	}
	for len(d.rows) < n { // an odd remainder: one more non-state body
		add("Громадська спілка «Асоціація громад»", "", schemas.AuthorityKindNonState, "", kyiv, []string{"social"},
			both, schemas.AuthorityActive)
	}
	return d
}

// queries returns the mix of directory queries: partial words in different case, territory at
// region and community level, kind, topic, paging, and their combinations.
func (d *directory) queries() []*directoryQuery {
	words := func(f func(string) string) []string {
		var out []string
		for i := 0; i < len(stems); i += 7 {
			r := []rune(strings.ToLower(stems[i]))
			out = append(out, f(string(r[:min(len(r), 6)])))
		}
		return out
	}
	v := func(format string, values []string) []string {
		out := make([]string, 0, len(values))
		for _, x := range values {
			out = append(out, fmt.Sprintf(format, url.QueryEscape(x)))
		}
		return out
	}
	upper := words(strings.ToUpper)
	lower := words(func(s string) string { return s })
	var twoWords []string
	for _, w := range words(func(s string) string { r := []rune(s); return strings.ToUpper(string(r[0])) + string(r[1:]) }) {
		twoWords = append(twoWords, w+" сільськ")
	}
	var regionTopic, regionWord []string
	for i, r := range d.regions {
		regionTopic = append(regionTopic, fmt.Sprintf("territory=%s&topic=%s", r, topicWords[i%len(topicWords)]))
		regionWord = append(regionWord, fmt.Sprintf("territory=%s&kind=local&q=%s", r, url.QueryEscape("рада")))
	}
	return []*directoryQuery{
		{kind: "word lower", variants: v("q=%s", lower)},
		{kind: "word UPPER", variants: v("q=%s", upper)},
		{kind: "two words", variants: v("q=%s", twoWords)},
		{kind: "broad word", variants: v("q=%s", []string{"рада", "Громада"})},
		{kind: "broad, page 10", variants: v("q=%s&page=10", []string{"рада", "СІЛЬСЬКА"})},
		{kind: "region", variants: v("territory=%s", d.regions)},
		{kind: "region, page 5", variants: v("territory=%s&page=5", d.regions)},
		{kind: "community", variants: v("territory=%s", d.communities)},
		{kind: "kind", variants: []string{"kind=regional", "kind=central", "kind=non_state", "kind=local&page=3"}},
		{kind: "topic", variants: v("topic=%s&per_page=50", topicWords)},
		{kind: "region+topic", variants: regionTopic},
		{kind: "region+kind+word", variants: regionWord},
		{kind: "no filter", variants: []string{"", "page=50"}},
	}
}
