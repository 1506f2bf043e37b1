// Package health runs the checks that say whether the ops box is well: Synapse
// and its token, its Prometheus metrics (and each worker's), PostgreSQL, free
// disk space, LiveKit and the newest verified backup. Every check has its own
// time limit and reports a Result; none of them changes anything.
//
// ConnectionChecks is the one-shot set `synops config check` runs. A Checker
// runs the full set in two tiers for the live dashboard and `synops health`.
//
// The Checker's result IDs are stable (Num, when present, is in Unit):
//
//	Cheap tier
//	synapse.health, synapse.versions,     response time            s
//	synapse.server_version, synapse.token
//	synapse.admin                         (no number)
//	metrics.scrape                        scrape time              s
//	metrics.sync_p95                      initial/full-state /sync s
//	metrics.db_txn_avg                    avg DB transaction       s
//	metrics.db_sched_wait                 avg wait for a DB conn   s
//	metrics.fed_pending_pdus, …_edus      queued for federation    (count)
//	metrics.rss                           resident memory          bytes
//	metrics.events_persisted_rate         events persisted         /s
//	worker.<host:port>.<same keys>        each further metrics URL; the
//	                                      federation and events keys only
//	                                      when that worker exports them
//	Expensive tier
//	postgres.synapse, postgres.app        reachable + version      (no number;
//	                                      postgres.app only when configured)
//	postgres.connections                  in use / max_connections %
//	postgres.db_size                      pg_database_size         bytes
//	postgres.longest_txn                  oldest open transaction  s
//	postgres.waiting_locks                locks not granted        (count)
//	disk.<label>                          free space ("media store" → disk.media_store) %
//	livekit.health                        response time, when configured s
//	backup.verified                       age of the newest verified     s
//	                                      backup, when a catalog is given
//
// Rates (sync p95, DB averages, events persisted) compare a scrape with the
// previous one of the same URL: the first run reports them Unknown.
package health

import (
	"encoding/json"
	"time"
)

// Status orders results from harmless to alarming.
type Status int

const (
	Unknown Status = iota // not configured or not run
	OK
	Warn
	Crit
)

func (s Status) String() string {
	switch s {
	case OK:
		return "ok"
	case Warn:
		return "warning"
	case Crit:
		return "critical"
	}
	return "unknown"
}

// MarshalText makes Status read as a word in JSON.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Result is the outcome of one check.
type Result struct {
	ID     string `json:"id"`    // stable key, e.g. "synapse.reachable"
	Group  string `json:"group"` // "Synapse", "PostgreSQL", …
	Name   string `json:"name"`
	Status Status `json:"status"`
	Value  string `json:"value,omitempty"`  // the figure: "1.163.2", "12 ms"
	Detail string `json:"detail,omitempty"` // what was found, when not ok
	Hint   string `json:"hint,omitempty"`   // what to do about it
	// Num is the figure as a number, for history and sparklines (HasNum says
	// whether there is one); Unit names it ("s", "bytes", "/s", "%").
	Num    float64       `json:"-"` // in JSON as "num", present exactly when HasNum
	HasNum bool          `json:"-"`
	Unit   string        `json:"unit,omitempty"`
	Took   time.Duration `json:"-"`
}

// MarshalJSON adds the duration in milliseconds, and "num" when the result
// has a number (a zero among them: 0 pending PDUs is a figure, not a gap).
func (r Result) MarshalJSON() ([]byte, error) {
	type plain Result
	var num *float64
	if r.HasNum {
		num = &r.Num
	}
	return json.Marshal(struct {
		plain
		Num    *float64 `json:"num,omitempty"`
		TookMS float64  `json:"took_ms"`
	}{plain(r), num, float64(r.Took.Microseconds()) / 1000})
}

// Worst is the most alarming status among rs.
func Worst(rs []Result) Status {
	w := OK
	for _, r := range rs {
		if r.Status > w {
			w = r.Status
		}
	}
	return w
}
