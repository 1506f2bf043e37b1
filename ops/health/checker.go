package health

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"synops/synapse"
)

// Disk is a directory whose filesystem's free space is watched.
type Disk struct {
	Label string // "media store", "backups"; the result ID is "disk.<label>" with spaces as "_"
	Path  string
}

// Config is what a Checker looks at. Zero fields switch their checks off or
// report them as not configured.
type Config struct {
	// Synapse is the homeserver client. Build it with synapse.WithRetries(0):
	// a health probe wants the first answer, not three retries of a refused
	// connection.
	Synapse *synapse.Client
	// MetricsURLs are Prometheus endpoints: the main process first, then
	// workers. Each is scraped separately; workers report as "Worker <host:port>".
	MetricsURLs []string
	SynapseDB   synapse.Secret // DSN (may be zero)
	AppDB       synapse.Secret // DSN (may be zero: then no postgres.app result)
	LiveKitURL  string         // optional: no livekit.health result without it
	Disks       []Disk
	// Backups is the backup catalog; nil: no backup.verified result.
	Backups BackupCatalog
	// LastReset is when the server's newest reset through synops ended
	// (nil or zero: none): a backup from before it covers nothing.
	LastReset func() time.Time
	// Thresholds grade the figures; the zero value means DefaultThresholds().
	Thresholds Thresholds
	// Timeout bounds each check (default 5s). Run returns within Timeout plus
	// a small margin, whatever the servers do.
	Timeout time.Duration
	// now is the clock of the backup age (tests set it).
	now func() time.Time
}

// Checker runs the health checks. It is safe for concurrent use. It keeps the
// previous metrics scrape of each URL, to turn counters into rates over the
// interval between two runs, and one PostgreSQL pool per database, opened on
// first use and reopened after a failure. Close releases the pools.
type Checker struct {
	cfg Config
	hc  *http.Client

	mu   sync.Mutex
	prev map[int]*scrape // by index in cfg.MetricsURLs

	synapseDB, appDB *dbPool
}

// overrunMargin is how long Run waits past Timeout for checks to report.
const overrunMargin = 250 * time.Millisecond

// NewChecker returns a Checker for cfg.
func NewChecker(cfg Config) *Checker {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Thresholds == (Thresholds{}) {
		cfg.Thresholds = DefaultThresholds()
	}
	if cfg.now == nil {
		cfg.now = time.Now
	}
	cfg.MetricsURLs = append([]string(nil), cfg.MetricsURLs...)
	cfg.Disks = append([]Disk(nil), cfg.Disks...)
	return &Checker{
		cfg:       cfg,
		hc:        &http.Client{},
		prev:      map[int]*scrape{},
		synapseDB: &dbPool{name: "Synapse database", dsn: cfg.SynapseDB},
		appDB:     &dbPool{name: "application database", dsn: cfg.AppDB},
	}
}

// Run runs the checks of one tier concurrently, each under its own time limit,
// and returns their results in a fixed order: Synapse, Metrics, workers and
// the databases' reachability for Cheap; PostgreSQL statistics, Disk,
// LiveKit, Backups for Expensive. A check that has not
// reported when the limit (plus a small margin) is up is reported critical
// as "no answer", so Run never hangs on a server that accepts and never answers.
func (c *Checker) Run(ctx context.Context, tier Tier) []Result {
	return c.run(ctx, c.checks(tier))
}

// RunAll runs both tiers at once, for one-shot use (`synops health`).
func (c *Checker) RunAll(ctx context.Context) []Result {
	return c.run(ctx, append(c.checks(Cheap), c.checks(Expensive)...))
}

// Prime scrapes every metrics URL and keeps the scrapes as the baseline for
// the rates the next Run reports. A one-shot caller primes, waits a sample
// interval, then runs; the dashboard needs no priming (its first run is the
// baseline of the second).
func (c *Checker) Prime(ctx context.Context) {
	var wg sync.WaitGroup
	for i, u := range c.cfg.MetricsURLs {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
			defer cancel()
			if s, err := c.scrape(ctx, u); err == nil {
				c.mu.Lock()
				c.prev[i] = s
				c.mu.Unlock()
			}
		})
	}
	wg.Wait()
}

// Close closes the PostgreSQL pools. A later Run opens them again.
func (c *Checker) Close() {
	c.synapseDB.close()
	c.appDB.close()
}

func (c *Checker) checks(tier Tier) []check {
	if tier == Expensive {
		out := []check{c.synapseDBStats()}
		for _, d := range c.cfg.Disks {
			out = append(out, c.diskCheck(d))
		}
		if c.cfg.LiveKitURL != "" {
			out = append(out, c.liveKitCheck())
		}
		if c.cfg.Backups != nil {
			out = append(out, c.backupCheck())
		}
		return out
	}
	out := append(c.synapseChecks(), c.metricsChecks()...)
	out = append(out, c.synapseDBReach())
	if !c.cfg.AppDB.IsZero() {
		out = append(out, c.appDBCheck())
	}
	return out
}

// check is one unit of work under one time limit. stubs name the results it
// reports (ID, Group, Name), so an overrun can still be reported under them.
type check struct {
	stubs []Result
	late  Status // status of the stubs when run does not finish in time
	run   func(ctx context.Context) []Result
}

// single wraps a check that reports one result.
func single(stub Result, late Status, f func(context.Context) Result) check {
	return check{stubs: []Result{stub}, late: late, run: func(ctx context.Context) []Result {
		return []Result{f(ctx)}
	}}
}

// static is a check whose result is known without any I/O.
func static(r Result) check {
	return check{stubs: []Result{r}, run: func(context.Context) []Result { return []Result{r} }}
}

func (c *Checker) run(ctx context.Context, checks []check) []Result {
	type report struct {
		i  int
		rs []Result
	}
	limit := c.cfg.Timeout
	reports := make(chan report, len(checks)) // buffered: a late check never blocks
	for i, k := range checks {
		go func() {
			cctx, cancel := context.WithTimeout(ctx, limit)
			defer cancel()
			defer func() {
				if p := recover(); p != nil {
					reports <- report{i, overrun(k, Crit, fmt.Sprintf("the check failed: %v", p))}
				}
			}()
			start := time.Now()
			rs := k.run(cctx)
			if len(rs) == 1 && rs[0].Took == 0 {
				rs[0].Took = time.Since(start)
			}
			reports <- report{i, rs}
		}()
	}
	got := make([][]Result, len(checks))
	done := make([]bool, len(checks))
	hard := time.NewTimer(limit + overrunMargin)
	defer hard.Stop()
	why := fmt.Sprintf("no answer within %s", limit)
wait:
	for n := 0; n < len(checks); n++ {
		select {
		case r := <-reports:
			got[r.i], done[r.i] = r.rs, true
		case <-hard.C:
			break wait
		case <-ctx.Done():
			why = "not finished: " + ctx.Err().Error()
			break wait
		}
	}
	var out []Result
	for i, k := range checks {
		if done[i] {
			out = append(out, got[i]...)
		} else {
			out = append(out, overrun(k, k.late, why)...)
		}
	}
	return out
}

func overrun(k check, s Status, why string) []Result {
	out := make([]Result, len(k.stubs))
	for i, r := range k.stubs {
		r.Status, r.Detail = s, why
		if s == Unknown || s == OK {
			r.Status = Crit
		}
		out[i] = r
	}
	return out
}
