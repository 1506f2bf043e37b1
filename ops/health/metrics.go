package health

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"synops/ops/metrics"
	"synops/synapse"
)

// Metric names as Synapse 1.163 exports them (checked against a running
// server; seed 004's synapse_sync_processing_seconds,
// synapse_database_connections and synapse_federation_transaction_queue_length
// do not exist).
const (
	mResponseTime   = "synapse_http_server_response_time_seconds" // histogram {servlet, tag, method, code}
	mTxnSum         = "synapse_storage_transaction_time_sum_total"
	mTxnCount       = "synapse_storage_transaction_time_count_total"
	mSchedule       = "synapse_storage_schedule_time" // histogram: waiting for a pooled DB connection
	mPendingPDUs    = "synapse_federation_transaction_queue_pending_pdus"
	mPendingEDUs    = "synapse_federation_transaction_queue_pending_edus"
	mRSS            = "process_resident_memory_bytes"
	mPersisted      = "synapse_storage_events_persisted_events_total"
	mProcessStarted = "process_start_time_seconds"
)

// metric keys: the last part of a result ID ("metrics.<key>", "worker.<host:port>.<key>").
const (
	kScrape    = "scrape"
	kSyncP95   = "sync_p95"
	kDBTxnAvg  = "db_txn_avg"
	kSchedWait = "db_sched_wait"
	kFedPDUs   = "fed_pending_pdus"
	kFedEDUs   = "fed_pending_edus"
	kRSS       = "rss"
	kPersisted = "events_persisted_rate"
)

var metricNames = map[string]string{
	kScrape:    "metrics endpoint",
	kSyncP95:   "/sync p95 latency (initial and full-state)",
	kDBTxnAvg:  "DB transaction time (avg)",
	kSchedWait: "waiting for a DB connection (avg)",
	kFedPDUs:   "federation queue: pending PDUs",
	kFedEDUs:   "federation queue: pending EDUs",
	kRSS:       "resident memory",
	kPersisted: "events persisted",
}

var metricKeys = []string{kScrape, kSyncP95, kDBTxnAvg, kSchedWait, kFedPDUs, kFedEDUs, kRSS, kPersisted}

// scrape is one reading of a process's metrics endpoint.
type scrape = metrics.Scrape

// labels of one series, for filters.
type labels = metrics.Labels

// families are the metrics the checks read; a scrape parses only these.
var families = []string{mResponseTime + `|servlet="` + metrics.SyncServlet + `"`, mTxnSum, mTxnCount, mSchedule, mPendingPDUs, mPendingEDUs, mRSS, mPersisted, mProcessStarted}

func (c *Checker) scrape(ctx context.Context, u string) (*scrape, error) {
	return metrics.Fetch(ctx, c.hc, u, families...)
}

// proc names one scraped process for its results.
type proc struct {
	idPrefix string // "metrics." or "worker.<host:port>."
	group    string // "Metrics" or "Worker <host:port>"
	worker   bool
}

func (p proc) result(key string) Result {
	return Result{ID: p.idPrefix + key, Group: p.group, Name: metricNames[key]}
}

// skips says whether key is reported only when the process exports it: a
// worker sends federation or persists events only if it is configured to.
func (p proc) skips(key string) bool {
	return p.worker && (key == kFedPDUs || key == kFedEDUs || key == kPersisted)
}

// procs names each metrics URL: the first is the main process, the rest are
// workers, called by host:port (with #2, #3 when two share one).
func procs(urls []string) []proc {
	out := make([]proc, len(urls))
	seen := map[string]int{}
	for i, u := range urls {
		if i == 0 {
			out[i] = proc{idPrefix: "metrics.", group: "Metrics"}
			continue
		}
		name := u
		if pu, err := url.Parse(u); err == nil && pu.Host != "" {
			name = pu.Host
		}
		seen[name]++
		if n := seen[name]; n > 1 {
			name = fmt.Sprintf("%s#%d", name, n)
		}
		out[i] = proc{idPrefix: "worker." + name + ".", group: "Worker " + name, worker: true}
	}
	return out
}

func (c *Checker) metricsChecks() []check {
	if len(c.cfg.MetricsURLs) == 0 {
		p := proc{idPrefix: "metrics.", group: "Metrics"}
		var out []check
		for _, k := range metricKeys {
			r := p.result(k)
			r.Detail = "not configured: no metrics URL"
			if k == kScrape {
				r.Hint = "set enable_metrics: true and add a metrics listener in homeserver.yaml, or list metrics_urls in the profile"
			}
			out = append(out, static(r))
		}
		return out
	}
	var out []check
	for i, p := range procs(c.cfg.MetricsURLs) {
		u := c.cfg.MetricsURLs[i]
		var stubs []Result
		for _, k := range metricKeys {
			if p.skips(k) {
				continue
			}
			stubs = append(stubs, p.result(k))
		}
		late := Warn
		if p.worker {
			late = Crit
		}
		out = append(out, check{stubs: stubs, late: late, run: func(ctx context.Context) []Result {
			start := time.Now()
			cur, err := c.scrape(ctx, u)
			took := time.Since(start)
			if err != nil {
				return scrapeFailed(p, u, err, took)
			}
			c.mu.Lock()
			prev := c.prev[i]
			c.prev[i] = cur
			c.mu.Unlock()
			rs := evaluate(p, prev, cur, c.cfg.Thresholds)
			rs[0].Took = took
			rs[0].Value = fmt.Sprintf("%d families · %s", cur.Served, dur(took))
			rs[0].setNum(took.Seconds(), "s")
			return rs
		}})
	}
	return out
}

// scrapeFailed reports a failed scrape once, on the scrape result; the
// figures it would have fed are unknown. For the main process, synapse.health
// already says whether Synapse is down, so this is a warning; a worker's
// metrics endpoint is the only sign of life synops has of it.
func scrapeFailed(p proc, u string, err error, took time.Duration) []Result {
	out := make([]Result, 0, len(metricKeys))
	for _, k := range metricKeys {
		if p.skips(k) {
			continue
		}
		r := p.result(k)
		if k == kScrape {
			r.Took = took
			r.Status = Warn
			reason := err.Error()
			if synapse.IsUnreachable(err) {
				reason = synapse.UnreachableReason(err)
			}
			r.Detail = fmt.Sprintf("cannot scrape %s: %s", metrics.ShownURL(u), reason)
			r.Hint = "is enable_metrics: true and is a metrics listener (or the metrics resource) on this port?"
			if p.worker {
				r.Status = Crit
				r.Hint = "is this worker running? " + r.Hint
			}
		} else {
			r.Detail = "not checked: the metrics scrape failed"
		}
		out = append(out, r)
	}
	return out
}

// evaluate turns a scrape (and the one before it, nil for none) into results,
// one per metric key, scrape first.
func evaluate(p proc, prev, cur *scrape, th Thresholds) []Result {
	out := []Result{p.result(kScrape)}
	out[0].Status = OK
	restarted := prev != nil && startTime(prev) != startTime(cur)
	rate := func(r *Result, f func(*Result)) {
		switch {
		case prev == nil:
			r.Value = "no previous scrape to compare with"
			r.Detail = r.Value
		case restarted:
			r.Value = "the process restarted since the previous scrape"
			r.Detail = r.Value
		default:
			f(r)
		}
	}

	r := p.result(kSyncP95)
	rate(&r, func(r *Result) { syncP95(r, prev, cur, th) })
	out = append(out, r)

	r = p.result(kDBTxnAvg)
	rate(&r, func(r *Result) { dbTxnAvg(r, prev, cur, th) })
	out = append(out, r)

	r = p.result(kSchedWait)
	rate(&r, func(r *Result) { schedWait(r, prev, cur, th) })
	out = append(out, r)

	for _, g := range []struct {
		key, metric, what string
		warn, crit        float64
	}{
		{kFedPDUs, mPendingPDUs, "PDUs", th.FedPendingPDUsWarn, th.FedPendingPDUsCrit},
		{kFedEDUs, mPendingEDUs, "EDUs", th.FedPendingEDUsWarn, th.FedPendingEDUsCrit},
	} {
		r := p.result(g.key)
		v, ok := cur.Sum(g.metric, nil)
		if !ok {
			if p.worker {
				continue // only the process that sends federation traffic has the queue
			}
			r.Value = "not exported by this process (federation sending runs on a worker?)"
			r.Detail = r.Value
			out = append(out, r)
			continue
		}
		r.Value = count(v) + " " + g.what + " queued"
		r.setNum(v, "")
		s, at := above(v, g.warn, g.crit)
		r.grade(s, at, r.Value, "over", count)
		if s != OK {
			r.Hint = "outgoing federation is falling behind: check the federation sender's log for unreachable destinations (admin API /_synapse/admin/v1/federation/destinations)"
		}
		out = append(out, r)
	}

	r = p.result(kRSS)
	if v, ok := cur.Sum(mRSS, nil); ok {
		r.Value = bytesIEC(v)
		r.setNum(v, "bytes")
		s, at := above(v, th.RSSWarn, th.RSSCrit)
		r.grade(s, at, r.Value, "over", bytesIEC)
		if s != OK {
			r.Hint = "Synapse's caches grow with rooms and users: lower caches.global_factor, or move load to workers"
		}
	} else {
		r.Value = "not exported (the process collector is Linux-only)"
		r.Detail = r.Value
	}
	out = append(out, r)

	r = p.result(kPersisted)
	if _, ok := cur.Sum(mPersisted, nil); !ok && p.worker {
		return out // only event persisters count these
	}
	rate(&r, func(r *Result) { persistedRate(r, prev, cur) })
	out = append(out, r)
	return out
}

func startTime(s *scrape) float64 {
	v, _ := s.Sum(mProcessStarted, nil)
	return v
}

func syncP95(r *Result, prev, cur *scrape, th Thresholds) {
	d, ok := cur.Histogram(mResponseTime, metrics.IsMeasuredSync).Minus(prev.Histogram(mResponseTime, metrics.IsMeasuredSync))
	if !ok {
		r.Value, r.Detail = "counters went backwards (Synapse restarted?)", "counters went backwards (Synapse restarted?)"
		return
	}
	v, inf, ok := d.Quantile(0.95)
	if !ok {
		r.Value = "no /sync requests in the last interval"
		r.Detail = r.Value
		return
	}
	r.setNum(v, "s")
	what := "p95 " + seconds(v)
	if inf {
		what = "p95 over " + seconds(v) + " (beyond the largest bucket)"
	}
	r.Value = what + " over " + plural(d.Count, "request", "requests")
	s, at := above(v, th.SyncP95Warn.Seconds(), th.SyncP95Crit.Seconds())
	r.grade(s, at, r.Value, "over", seconds)
	if s != OK {
		r.Hint = "clients wait for their messages: look at the database (postgres.*, DB transaction time) and Synapse's CPU; sync workers spread the load"
	}
}

func dbTxnAvg(r *Result, prev, cur *scrape, th Thresholds) {
	s1, ok1 := cur.Sum(mTxnSum, nil)
	n1, ok2 := cur.Sum(mTxnCount, nil)
	if !ok1 || !ok2 {
		r.Value = "not exported by this process"
		r.Detail = r.Value
		return
	}
	s0, _ := prev.Sum(mTxnSum, nil)
	n0, _ := prev.Sum(mTxnCount, nil)
	ds, dn := s1-s0, n1-n0
	switch {
	case ds < 0 || dn < 0:
		r.Value = "counters went backwards (Synapse restarted?)"
		r.Detail = r.Value
		return
	case dn == 0:
		r.Value = "no DB transactions in the last interval"
		r.Detail = r.Value
		return
	}
	avg := ds / dn
	r.setNum(avg, "s")
	r.Value = seconds(avg) + " over " + plural(dn, "transaction", "transactions")
	s, at := above(avg, th.DBTxnAvgWarn.Seconds(), th.DBTxnAvgCrit.Seconds())
	r.grade(s, at, r.Value, "over", seconds)
	if s != OK {
		r.Hint = "PostgreSQL is slow: check postgres.longest_txn and postgres.waiting_locks, its CPU and disk, and autovacuum"
	}
}

func schedWait(r *Result, prev, cur *scrape, th Thresholds) {
	if cur.Families[mSchedule] == nil {
		r.Value = "not exported by this process"
		r.Detail = r.Value
		return
	}
	d, ok := cur.Histogram(mSchedule, nil).Minus(prev.Histogram(mSchedule, nil))
	switch {
	case !ok:
		r.Value = "counters went backwards (Synapse restarted?)"
		r.Detail = r.Value
		return
	case d.Count == 0:
		r.Value = "no DB transactions in the last interval"
		r.Detail = r.Value
		return
	}
	avg := d.Sum / d.Count
	r.setNum(avg, "s")
	r.Value = seconds(avg) + " over " + plural(d.Count, "transaction", "transactions")
	s, at := above(avg, th.DBSchedWaitWarn.Seconds(), th.DBSchedWaitCrit.Seconds())
	r.grade(s, at, r.Value, "over", seconds)
	if s != OK {
		r.Hint = "Synapse's DB pool is exhausted (Synapse exports no pool-size gauge; this is the wait for a free connection): raise database.args.cp_max if PostgreSQL has room (postgres.connections), or find what holds connections"
	}
}

func persistedRate(r *Result, prev, cur *scrape) {
	n1, ok := cur.Sum(mPersisted, nil)
	if !ok {
		r.Value = "not exported by this process (events are persisted elsewhere)"
		r.Detail = r.Value
		return
	}
	n0, _ := prev.Sum(mPersisted, nil)
	dn, dt := n1-n0, cur.At.Sub(prev.At).Seconds()
	switch {
	case dn < 0:
		r.Value = "counter went backwards (Synapse restarted?)"
		r.Detail = r.Value
		return
	case dt <= 0:
		r.Value = "the two scrapes have the same time"
		r.Detail = r.Value
		return
	}
	v := dn / dt
	r.Status = OK
	r.setNum(v, "/s")
	r.Value = fmt.Sprintf("%.2f /s (%s in %s)", v, plural(dn, "event", "events"), seconds(dt))
}
