package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"
)

const (
	reportName = "benchmarks.md"
	chartName  = "benchmarks.svg"
)

// Target is one goal of the benchmark issue and whether the run met it.
type Target struct {
	Name, Want, Got string
	Met             bool
}

// The targets against the minimal durable bot on the same database, at
// the scale concurrency and above.
const (
	wantOfDurable    = 0.8 // at least this share of its throughput
	wantP99OfDurable = 1.5 // p99 at most this many times its p99
	// wantOfSmallest is the share of the smallest preload's throughput
	// the largest must keep (1M phones against 1k).
	wantOfSmallest = 0.9
)

// vsDurable is smsbot s against the minimal durable bot d at one
// concurrency, as a target.
func vsDurable(name string, conc int, s, d stats) Target {
	rate, p99 := Ratios(s, d)
	return Target{
		Name: fmt.Sprintf("%s at concurrency %d against the minimal durable bot", name, conc),
		Want: fmt.Sprintf(">= %.1f x its req/s, p99 <= %.1f x its p99", wantOfDurable, wantP99OfDurable),
		Got: fmt.Sprintf("%.2f x (%.0f vs %.0f req/s), p99 %.2f x (%s vs %s)", rate, s.Rate(), d.Rate(),
			p99, ms(s.P99), ms(d.P99)),
		Met: d.Ops > 0 && s.Errors == 0 && rate >= wantOfDurable && p99 <= wantP99OfDurable,
	}
}

// Targets checks the run against the goals.
func (r *Report) Targets() []Target {
	var out []Target
	for _, p := range r.Sweep {
		if p.Concurrency == r.Config.ScaleConcurrency {
			out = append(out, Target{
				Name: fmt.Sprintf("steady throughput at concurrency %d", p.Concurrency),
				Want: ">= 0.5 x baseline",
				Got:  fmt.Sprintf("%.2f x (%.0f vs %.0f req/s)", p.Ratio(), p.Smsbot.Rate(), p.Baseline.Rate()),
				Met:  p.Ratio() >= 0.5,
			})
		}
	}
	for _, p := range r.Sweep {
		if p.Concurrency < r.Config.ScaleConcurrency {
			continue
		}
		out = append(out, vsDurable(sqliteName, p.Concurrency, p.Smsbot, p.Durable))
		if p.DurablePG.Ops+p.DurablePG.Errors > 0 {
			for i, pg := range r.PG {
				out = append(out, vsDurable(pg.Name(), p.Concurrency, p.Postgres[i], p.DurablePG))
			}
		}
	}
	if r.HalfRate > 0 {
		out = append(out, Target{
			Name: fmt.Sprintf("p99 at half the maximum (%.0f req/s)", r.HalfRate),
			Want: "<= 20 ms",
			Got:  ms(r.AtHalf.P99),
			Met:  r.AtHalf.P99 <= 20*time.Millisecond && r.AtHalf.Errors == 0,
		})
	}
	if len(r.Scales) >= 2 {
		lo, hi := r.Scales[0], r.Scales[len(r.Scales)-1]
		ratio := hi.Steady.Rate() / lo.Steady.Rate()
		out = append(out, Target{
			Name: fmt.Sprintf("throughput with %s phones against %s", count(hi.Phones), count(lo.Phones)),
			Want: fmt.Sprintf(">= %.1f x", wantOfSmallest),
			Got:  fmt.Sprintf("%.2f x", ratio),
			Met:  ratio >= wantOfSmallest,
		})
		out = append(out, Target{
			Name: fmt.Sprintf("peak RSS with %s phones", count(hi.Phones)),
			Want: "<= 150 MiB",
			Got:  mib(hi.PeakRSS),
			Met:  hi.PeakRSS <= 150<<20,
		})
	}
	durable := true
	var acked, disk int64
	for _, s := range r.Scales {
		acked += s.Acked
		disk += s.OnDisk
		durable = durable && s.OnDisk >= s.Acked
	}
	out = append(out, Target{
		Name: "every acknowledged text on disk (synchronous=" + r.Config.Synchronous + ")",
		Want: "MessageSids in the database >= texts answered 200",
		Got:  fmt.Sprintf("%d on disk, %d answered", disk, acked),
		Met:  durable,
	})
	for _, pg := range r.PG {
		out = append(out, Target{
			Name: "every acknowledged text in the database, " + pg.Name(),
			Want: "MessageSids in the database >= texts answered 200",
			Got:  fmt.Sprintf("%d in the database, %d answered", pg.OnDisk, pg.Acked),
			Met:  pg.OnDisk >= pg.Acked && pg.Acked > 0,
		})
	}
	return out
}

// Summary is a short plain-text account of the run.
func (r *Report) Summary() string {
	var b strings.Builder
	for _, t := range r.Targets() {
		mark := "NOT MET"
		if t.Met {
			mark = "met"
		}
		fmt.Fprintf(&b, "%-60s %-28s %s\n", t.Name, t.Got, mark)
	}
	if r.PGSkipped != "" {
		fmt.Fprintf(&b, "*** PostgreSQL not measured: %s\n", r.PGSkipped)
	}
	for _, p := range r.Sweep {
		if p.Concurrency < r.Config.ScaleConcurrency {
			continue
		}
		line := func(name string, s, d stats) {
			rate, p99 := Ratios(s, d)
			fmt.Fprintf(&b, "; %s %.0f (%.2f x durable, p99 %.2f x; %.2f x bare)", name, s.Rate(), rate, p99, p.RatioOf(s))
		}
		fmt.Fprintf(&b, "at concurrency %d: bare %.0f req/s; durable %.0f", p.Concurrency, p.Baseline.Rate(), p.Durable.Rate())
		if p.DurablePG.Ops > 0 {
			fmt.Fprintf(&b, ", on PostgreSQL %.0f", p.DurablePG.Rate())
		}
		line(sqliteName, p.Smsbot, p.Durable)
		for i, pg := range r.PG {
			line(pg.Name(), p.Postgres[i], p.DurablePG)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// hasDurablePG tells whether the minimal durable bot ran on PostgreSQL.
func (r *Report) hasDurablePG() bool {
	for _, d := range r.Durable {
		if d.Postgres {
			return true
		}
	}
	for _, p := range r.Sweep {
		if p.DurablePG.Ops+p.DurablePG.Errors > 0 {
			return true
		}
	}
	return false
}

// sqliteName is how the report calls smsbot on SQLite beside PostgreSQL.
const sqliteName = "smsbot (SQLite)"

// Notes markers: the report's hand-written part lies between them, and
// Write carries it over from the file it replaces.
const (
	notesBegin = "<!-- notes: written by hand; make bench keeps what is between these lines -->"
	notesEnd   = "<!-- end of notes -->"
)

// keptNotes returns the hand-written part of an earlier report.
func keptNotes(md string) string {
	_, after, ok := strings.Cut(md, notesBegin)
	if !ok {
		return ""
	}
	notes, _, ok := strings.Cut(after, notesEnd)
	if !ok {
		return ""
	}
	return strings.TrimSpace(notes)
}

// Write writes the report and the chart into dir. The hand-written notes
// of the report it replaces are kept, unless r has notes of its own.
func (r *Report) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if r.Notes == "" {
		if old, err := os.ReadFile(filepath.Join(dir, reportName)); err == nil {
			r.Notes = keptNotes(string(old))
		}
	}
	if err := os.WriteFile(filepath.Join(dir, reportName), []byte(r.Markdown()), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, chartName), []byte(r.SVG()), 0o644)
}

// Markdown is the report.
func (r *Report) Markdown() string {
	var b strings.Builder
	c := r.Config
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# Benchmarks\n\n")
	p("Generated by `make bench` (`go run ./cmd/smsbot-bench`); do not edit by hand, except between the notes' markers.\n")
	if c.Smoke {
		p("\n**Smoke run**: a few seconds to check that the harness works. These figures measure nothing.\n")
	}
	p("\n- Date: %s; the whole run took %s.\n", r.Date.Format("2006-01-02 15:04 MST"), r.Took.Round(time.Second))
	p("- Machine: %d cores, %s; %s; %s. Load average (1 min) %s at the start, %s at the end.\n", r.Machine.Cores, r.Machine.CPU, r.Machine.OS, r.Machine.GoVersion, r.Load[0], r.Load[1])
	p("- smsbot: the real binary (`go build ./cmd/smsbot`), production mode, on loopback, against the Twilio and Auth0 stand-ins served by the bench process; SQLite WAL, `synchronous=%s`.\n", c.Synchronous)
	if s := r.PGServer; s != nil {
		p("- PostgreSQL: server %s at %s on the same machine (%s). Each PostgreSQL target is %s `smsbot serve` processes with `SMSBOT_DB=postgres://...` on a fresh schema of its own, preloaded with the same phones (COPY) and dropped at the end; one `SMSBOT_SECRET`, the default pool (`SMSBOT_PG_POOL`: the greater of 4 and the cores, per instance). The load goes to a target's instances in turn, as a round-robin balancer sends it: each webhook, and each browser request of a flow, so a login opened on one instance finishes on another.\n",
			s.Version, hostOf(s.url), s.Settings, orList(c.PGInstances))
	} else {
		p("- **PostgreSQL: not measured.** %s. This report has SQLite only.\n", r.PGSkipped)
	}
	p("- Load: signed Twilio webhooks (`X-Twilio-Signature`), each with a new MessageSid, over keep-alive connections, from the bench process on the same cores. Each run has %s of warm-up, then %s measured; at each concurrency the servers run one after the other.\n", c.Warmup, c.Duration)
	p("- Bare handler (the first baseline): a chi handler in its own process (`smsbot-bench baseline`) that parses the same form and writes the same TwiML, with no signature check and no state. The machine is shared and noisy: only ratios from one run compare.\n")
	p("- Minimal durable bot (the second baseline): the least any correct bot must do per text, in its own process (`smsbot-bench durable`): parse the form; check `X-Twilio-Signature` with twilio-go's `RequestValidator` over the public URL and the form; hand (MessageSid, From, Body) to one writer goroutine that inserts everything waiting in one transaction into a table keyed by MessageSid (`ON CONFLICT DO NOTHING`); answer a fixed TwiML only after the commit. On SQLite a STRICT table, WAL, `synchronous=FULL`, one connection; its PostgreSQL twin sends the waiting inserts as one batch (one implicit transaction) on one connection, on a schema of its own. smsbot on SQLite is held against the first, on PostgreSQL against the second.\n")
	p("- Steady traffic: texts `H` or an unknown command, half each, from subscribed phones drawn uniformly from the preloaded set. The SQLite database is preloaded with store's bulk loader (`store.DB.BulkPhones`), not over HTTP.\n")

	p("\n## Targets\n\n| target | wanted | measured | met |\n|---|---|---|---|\n")
	for _, t := range r.Targets() {
		met := "**no**"
		if t.Met {
			met = "yes"
		}
		p("| %s | %s | %s | %s |\n", t.Name, t.Want, t.Got, met)
	}

	if len(r.Sweep) > 0 {
		p("\n## Steady traffic against concurrency (%s phones)\n\n", count(r.Scales[0].Phones))
		p("![throughput and p99 latency against concurrency](%s)\n\n", chartName)
		p("smsbot against the two baselines at the same concurrency: its throughput over theirs (higher is better), its p99 over theirs (lower is better); the minimal durable bot on the same database (SQLite or PostgreSQL).\n\n")
		p("| concurrency | server | req/s / durable | req/s / bare | p99 / durable | p99 / bare |\n|---:|---|---:|---:|---:|---:|\n")
		pgDurable := r.hasDurablePG()
		for _, pt := range r.Sweep {
			ratioRow := func(name string, s, d stats, hasD bool) {
				rate, p99 := Ratios(s, d)
				bare, bareP99 := Ratios(s, pt.Baseline)
				if hasD {
					p("| %d | %s | **%.2f** | %.2f | **%.2f** | %.2f |\n", pt.Concurrency, name, rate, bare, p99, bareP99)
				} else {
					p("| %d | %s | | %.2f | | %.2f |\n", pt.Concurrency, name, bare, bareP99)
				}
			}
			ratioRow(sqliteName, pt.Smsbot, pt.Durable, true)
			for i, pg := range r.PG {
				ratioRow(pg.Name(), pt.Postgres[i], pt.DurablePG, pgDurable)
			}
		}
		p("\n| concurrency | server | req/s | p50 | p99 | errors | / bare | / durable |\n|---:|---|---:|---:|---:|---:|---:|---:|\n")
		for _, pt := range r.Sweep {
			// row is a server's; d is the minimal durable bot it is
			// held against, if any.
			row := func(name string, s stats, d *stats) {
				var vs string
				if d != nil {
					rate, _ := Ratios(s, *d)
					vs = fmt.Sprintf("%.2f", rate)
				}
				p("| %d | %s | %.0f | %s | %s | %d | %.2f | %s |\n", pt.Concurrency, name, s.Rate(), ms(s.P50), ms(s.P99), s.Errors, pt.RatioOf(s), vs)
			}
			var onPG *stats
			if pgDurable {
				onPG = &pt.DurablePG
			}
			row("bare handler", pt.Baseline, nil)
			row(durableName, pt.Durable, &pt.Durable)
			row(sqliteName, pt.Smsbot, &pt.Durable)
			if pgDurable {
				row(durablePGName, pt.DurablePG, onPG)
			}
			for i, pg := range r.PG {
				row(pg.Name(), pt.Postgres[i], onPG)
			}
		}
		for _, pt := range r.Sweep {
			all := append([]stats{pt.Smsbot, pt.Baseline, pt.Durable, pt.DurablePG}, pt.Postgres...)
			for _, s := range all {
				if s.FirstErr != "" {
					p("\nFirst error at concurrency %d: `%s`\n", pt.Concurrency, strings.ReplaceAll(s.FirstErr, "`", "'"))
				}
			}
		}
	}
	if r.HalfRate > 0 {
		a := r.AtHalf
		p("\n## Latency at half of smsbot's maximum throughput (SQLite)\n\n")
		p("Open loop: requests start at a fixed rate whatever the answers' speed, and latency counts from when each was due.\n\n")
		p("| rate | answered req/s | p50 | p90 | p99 | max | errors |\n|---:|---:|---:|---:|---:|---:|---:|\n")
		p("| %.0f/s | %.0f | %s | %s | %s | %s | %d |\n", r.HalfRate, a.Rate(), ms(a.P50), ms(a.P90), ms(a.P99), ms(a.Max), a.Errors)
	}
	if len(r.Scales) > 0 {
		p("\n## Scale (SQLite, steady traffic, concurrency %d)\n\n", c.ScaleConcurrency)
		p("| phones | preload | database bytes per phone | req/s | vs %s | p50 | p99 | peak RSS (VmHWM) | answered / on disk |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n", count(r.Scales[0].Phones))
		first := r.Scales[0].Steady.Rate()
		for _, s := range r.Scales {
			p("| %s | %s | %.0f | %.0f | %.2f | %s | %s | %s | %d / %d |\n", count(s.Phones), s.LoadTime.Round(10*time.Millisecond),
				float64(s.DBBytes)/float64(s.Phones), s.Steady.Rate(), s.Steady.Rate()/first,
				ms(s.Steady.P50), ms(s.Steady.P99), mib(s.PeakRSS), s.Acked, s.OnDisk)
		}
		p("\nDatabase bytes per phone: the file after preloading and a checkpoint, over the phones (the phone row and its account index). Peak RSS is the server's VmHWM from /proc at the end of its run.\n")
		for _, s := range r.Scales {
			if s.ServerError != "" {
				p("\nThe server of the %s run stopped with: %s\n", count(s.Phones), s.ServerError)
			}
		}
	}
	if r.Flows.Flows.Ops+r.Flows.Flows.Errors > 0 {
		p("\n## Subscription flows and the mix (%s phones)\n\n", count(r.Scales[0].Phones))
		p("A flow is a fresh phone texting S, opening the link, logging in at the Auth0 stand-in (an RS256 ID token), and texting back the code: two webhooks and four browser requests. The mix runs steady texts on 7 of 8 workers and flows on the rest, at once.\n\n")
		p("| server | workload | workers | flows/s | flow p50 | flow p99 | texts/s | text p50 | text p99 | errors |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		var firstErr string
		rows := func(name string, f, m Mixed) {
			p("| %s | flows | %d | %.1f | %s | %s | | | | %d |\n", name, f.Concurrency, f.Flows.Rate(), ms(f.Flows.P50), ms(f.Flows.P99), f.Flows.Errors)
			p("| %s | mix | %d | %.1f | %s | %s | %.0f | %s | %s | %d |\n", name, m.Concurrency, m.Flows.Rate(), ms(m.Flows.P50), ms(m.Flows.P99),
				m.Texts.Rate(), ms(m.Texts.P50), ms(m.Texts.P99), m.Flows.Errors+m.Texts.Errors)
			for _, e := range []string{f.Flows.FirstErr, m.Flows.FirstErr, m.Texts.FirstErr} {
				if e != "" && firstErr == "" {
					firstErr = name + ": " + e
				}
			}
		}
		rows(sqliteName, r.Flows, r.Mix)
		for _, pg := range r.PG {
			rows(pg.Name(), pg.Flows, pg.Mix)
		}
		if firstErr != "" {
			p("\nFirst error: `%s`\n", strings.ReplaceAll(firstErr, "`", "'"))
		}
	}
	if len(r.PG) > 0 {
		p("\n## The PostgreSQL targets\n\n| server | preload (%s phones) | answered / in the database | stopped with |\n|---|---:|---:|---|\n", count(r.Scales[0].Phones))
		for _, pg := range r.PG {
			stopped := "SIGTERM, clean"
			if pg.ServerError != "" {
				stopped = pg.ServerError
			}
			p("| %s | %s | %d / %d | %s |\n", pg.Name(), pg.Preload.Round(10*time.Millisecond), pg.Acked, pg.OnDisk, stopped)
		}
	}

	if len(r.Durable) > 0 {
		p("\n## The minimal durable bots\n\n| server | answered / in the database | stopped with |\n|---|---:|---|\n")
		for _, d := range r.Durable {
			stopped := "SIGTERM, clean"
			if d.ServerError != "" {
				stopped = d.ServerError
			}
			p("| %s | %d / %d | %s |\n", d.Name(), d.Acked, d.OnDisk, stopped)
		}
	}

	p("\n## Where each backend's time goes\n\n")
	p("CPU during the steady run at concurrency %d, from /proc: smsbot's processes (or the minimal durable bot's), the PostgreSQL server processes of their connections (found by `application_name` in `pg_stat_activity`), the bench process (load generator and stand-ins), and the rest of the machine's busy time (other work on a shared machine, PostgreSQL's background writers).\n\n", c.ScaleConcurrency)
	p("| server | req/s | server CPU per text | PostgreSQL CPU per text | bench CPU per text | cores busy: server | PostgreSQL | bench | other |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	cpuRow := func(name string, u CPUShare) {
		if u.Ops == 0 {
			return
		}
		rate := float64(u.Ops) / c.Duration.Seconds()
		p("| %s | %.0f | %s | %s | %s | %.2f | %.2f | %.2f | %.2f |\n", name, rate, us(u.PerOp(u.Smsbot)), us(u.PerOp(u.Database)), us(u.PerOp(u.Bench)),
			u.Cores(u.Smsbot), u.Cores(u.Database), u.Cores(u.Bench), u.Cores(u.Other()))
	}
	for _, pt := range r.Sweep {
		if pt.Concurrency != c.ScaleConcurrency {
			continue
		}
		cpuRow(durableName, pt.DurableCPU)
		cpuRow(sqliteName, pt.SmsbotCPU)
		cpuRow(durablePGName, pt.DurablePGCPU)
		for i, pg := range r.PG {
			cpuRow(pg.Name(), pt.PostgresCPU[i])
		}
	}
	p("\n%s\n\n", notesBegin)
	if r.Notes != "" {
		p("%s\n", r.Notes)
	} else {
		p("(No notes yet: write them between these markers; `make bench` keeps them.)\n")
	}
	p("\n%s\n", notesEnd)
	p("\nSee also [benchmarks-profile.md](benchmarks-profile.md): where smsbot's time went on SQLite before and after group commit.\n")
	p("\n## Reproduce\n\n```sh\nmake bench          # this report and %s, under 10 minutes\nmake bench-smoke    # a few seconds, into a temporary directory\ngo run ./cmd/smsbot-bench -h\n```\n", chartName)
	return b.String()
}

// orList is "1 or 3".
func orList(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = fmt.Sprint(n)
	}
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

func us(d time.Duration) string {
	return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

func mib(n int64) string { return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20)) }

func count(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1_000 && n%1_000 == 0:
		return fmt.Sprintf("%dk", n/1_000)
	default:
		return fmt.Sprint(n)
	}
}

// SVG is the chart: throughput and p99 latency against concurrency, for
// smsbot on SQLite, on each PostgreSQL target and the baseline,
// concurrency on a log scale.
func (r *Report) SVG() string {
	const w, h, pw, ph, left, top = 960, 400, 380, 280, 80, 50
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", w, h, w, h)
	p(`<rect width="%d" height="%d" fill="white"/>`+"\n", w, h)
	db := "SQLite"
	if len(r.PG) > 0 {
		db = "SQLite and PostgreSQL"
	}
	title := fmt.Sprintf("smsbot on %s; minimal durable bot dashed, bare handler grey; %d cores, %s", db, r.Machine.Cores, r.Machine.CPU)
	p(`<text x="%d" y="22" font-size="14" font-weight="bold">%s</text>`+"\n", left, xmlEscape(title))
	type series struct {
		name   string
		color  string
		dashed bool
		get    func(Point) stats
	}
	// Each minimal durable bot dashed, in the color of the smsbot it is
	// held against (the first PostgreSQL target's).
	all := []series{
		{sqliteName, "#1f77b4", false, func(p Point) stats { return p.Smsbot }},
		{durableName, "#1f77b4", true, func(p Point) stats { return p.Durable }},
	}
	pgColors := []string{"#d62728", "#ff7f0e", "#2ca02c", "#9467bd"}
	for i, pg := range r.PG {
		all = append(all, series{pg.Name(), pgColors[i%len(pgColors)], false, func(p Point) stats { return p.Postgres[i] }})
	}
	if r.hasDurablePG() {
		all = append(all, series{durablePGName, pgColors[0], true, func(p Point) stats { return p.DurablePG }})
	}
	all = append(all, series{"bare handler", "#999999", false, func(p Point) stats { return p.Baseline }})
	panels := []struct {
		title string
		value func(stats) float64
	}{
		{"throughput (req/s)", stats.Rate},
		{"p99 latency (ms)", func(s stats) float64 { return float64(s.P99) / 1e6 }},
	}
	if len(r.Sweep) == 0 {
		p("</svg>\n")
		return b.String()
	}
	lx0 := math.Log2(float64(r.Sweep[0].Concurrency))
	lx1 := math.Log2(float64(r.Sweep[len(r.Sweep)-1].Concurrency))
	if lx1 == lx0 {
		lx1 = lx0 + 1
	}
	for i, pn := range panels {
		x0 := left + i*(pw+100)
		y0 := top
		var ymax float64
		for _, s := range all {
			for _, pt := range r.Sweep {
				ymax = max(ymax, pn.value(s.get(pt)))
			}
		}
		ymax = niceCeil(ymax)
		px := func(c int) float64 { return float64(x0) + (math.Log2(float64(c))-lx0)/(lx1-lx0)*pw }
		py := func(v float64) float64 { return float64(y0+ph) - v/ymax*ph }
		p(`<text x="%d" y="%d" font-weight="bold">%s</text>`+"\n", x0, y0-10, pn.title)
		p(`<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#333"/>`+"\n", x0, y0, pw, ph)
		for k := 0; k <= 4; k++ {
			v := ymax * float64(k) / 4
			y := py(v)
			p(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>`+"\n", x0, y, x0+pw, y)
			p(`<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", x0-6, y+4, short(v))
		}
		for _, pt := range r.Sweep {
			x := px(pt.Concurrency)
			p(`<text x="%.1f" y="%d" text-anchor="middle">%d</text>`+"\n", x, y0+ph+16, pt.Concurrency)
		}
		p(`<text x="%d" y="%d" text-anchor="middle">concurrency (log scale)</text>`+"\n", x0+pw/2, y0+ph+34)
		for j, s := range all {
			var pts []string
			for _, pt := range r.Sweep {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(pt.Concurrency), py(pn.value(s.get(pt)))))
			}
			dash := ""
			if s.dashed {
				dash = ` stroke-dasharray="6 4"`
			}
			p(`<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>`+"\n", s.color, dash, strings.Join(pts, " "))
			for _, q := range pts {
				xy := strings.Split(q, ",")
				p(`<circle cx="%s" cy="%s" r="3" fill="%s"/>`+"\n", xy[0], xy[1], s.color)
			}
			ly := y0 + 16 + j*16
			p(`<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"%s/>`+"\n", x0+10, ly-4, x0+30, ly-4, s.color, dash)
			p(`<text x="%d" y="%d">%s</text>`+"\n", x0+36, ly, s.name)
		}
	}
	p("</svg>\n")
	return b.String()
}

// niceCeil rounds up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	e := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*e {
			return m * e
		}
	}
	return 10 * e
}

func short(v float64) string {
	switch {
	case v >= 1000:
		return fmt.Sprintf("%gk", math.Round(v/100)/10)
	case v >= 10 || v == 0:
		return fmt.Sprintf("%.0f", v)
	default:
		return fmt.Sprintf("%.1f", v)
	}
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}
