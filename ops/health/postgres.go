package health

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"synops/ops/pg"
	"synops/synapse"
)

// dbPool is one database's pool, opened on first use and dropped after a
// connection-level failure so the next run connects afresh.
type dbPool struct {
	name string
	dsn  synapse.Secret

	mu   sync.Mutex
	pool *pgxpool.Pool
}

func (d *dbPool) get(ctx context.Context) (*pgxpool.Pool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.pool != nil {
		return d.pool, nil
	}
	p, err := pg.Open(ctx, d.name, d.dsn, nil)
	if err != nil {
		return nil, err
	}
	d.pool = p
	return p, nil
}

// failed drops the pool p after err if err means the connection is gone, so
// that the next use connects afresh. It reports whether it dropped it.
func (d *dbPool) failed(p *pgxpool.Pool, err error) bool {
	if !connLost(err) {
		return false
	}
	d.mu.Lock()
	if d.pool == p {
		d.pool = nil
	} else {
		p = nil // someone else already replaced it
	}
	d.mu.Unlock()
	if p != nil {
		go p.Close() // Close waits for connections in use; not on the caller's time
	}
	return true
}

// connLost reports whether err is the loss of a connection rather than an
// answer to the query: a transport error or time-out, or PostgreSQL ending
// the session (FATAL, class 57 "operator intervention" such as a restart or
// pg_terminate_backend, class 08 "connection exception").
func connLost(err error) bool {
	if err == nil {
		return false
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return true
	}
	return pe.Severity == "FATAL" || pe.Severity == "PANIC" ||
		strings.HasPrefix(pe.Code, "57") || strings.HasPrefix(pe.Code, "08")
}

// reachable gets the pool and reads the server version into r. When the pool's
// connections turn out to be dead (PostgreSQL restarted since the last run) it
// reconnects once, so a restart that is over does not read as an outage.
func (d *dbPool) reachable(ctx context.Context, r *Result) (*pgxpool.Pool, bool) {
	for attempt := 0; ; attempt++ {
		pool, err := d.get(ctx)
		if err != nil {
			r.openFailed(err)
			return nil, false
		}
		err = r.version(ctx, pool, d.dsn)
		if err == nil {
			return pool, true
		}
		if !d.failed(pool, err) || attempt > 0 || ctx.Err() != nil {
			return nil, false
		}
		r.Status, r.Detail, r.Hint = Unknown, "", ""
	}
}

func (d *dbPool) close() {
	d.mu.Lock()
	p := d.pool
	d.pool = nil
	d.mu.Unlock()
	if p != nil {
		p.Close()
	}
}

// openFailed fills r for a pool that could not be opened.
func (r *Result) openFailed(err error) {
	r.Status, r.Detail = Crit, err.Error()
	if pg.IsAuthError(err) {
		r.Hint = "PostgreSQL refused the credentials: check the user and password"
	} else {
		r.Hint = "is PostgreSQL running and listening where the connection string says?"
	}
}

// version fills r with the server version of an open pool.
func (r *Result) version(ctx context.Context, pool *pgxpool.Pool, dsn synapse.Secret) error {
	v, err := pg.ServerVersion(ctx, pool)
	if err != nil {
		r.Status, r.Detail = Crit, err.Error()
		return err
	}
	r.Status, r.Value = OK, "PostgreSQL "+v+" at "+pg.Describe(dsn)
	return nil
}

const pgGroup = "PostgreSQL"

func (c *Checker) appDBCheck() check {
	stub := Result{ID: "postgres.app", Group: pgGroup, Name: "application database"}
	return single(stub, Crit, func(ctx context.Context) Result {
		r := stub
		c.appDB.reachable(ctx, &r)
		return r
	})
}

// synapseDBReach reports whether Synapse's database answers and its
// version. It is a cheap check (one short query on an open pool), so a
// stopped or restarted PostgreSQL shows on the next refresh, not the next
// statistics run.
func (c *Checker) synapseDBReach() check {
	stub := Result{ID: "postgres.synapse", Group: pgGroup, Name: "Synapse database"}
	return single(stub, Crit, func(ctx context.Context) Result {
		r := stub
		if c.cfg.SynapseDB.IsZero() {
			r.Status, r.Detail = Warn, "not configured"
			r.Hint = "point -c at homeserver.yaml (its database section) or set synapse_db_dsn in the profile"
			return r
		}
		start := time.Now()
		c.synapseDB.reachable(ctx, &r)
		r.Took = time.Since(start)
		return r
	})
}

// synapseDBStats reads, through the same pool, the cluster's connections,
// the database size, the longest open transaction and the waiting locks,
// concurrently under the check's one time limit.
func (c *Checker) synapseDBStats() check {
	conns := Result{ID: "postgres.connections", Group: pgGroup, Name: "connections in use"}
	size := Result{ID: "postgres.db_size", Group: pgGroup, Name: "Synapse database size"}
	txn := Result{ID: "postgres.longest_txn", Group: pgGroup, Name: "longest open transaction"}
	locks := Result{ID: "postgres.waiting_locks", Group: pgGroup, Name: "waiting locks"}
	stubs := []Result{conns, size, txn, locks}
	th := c.cfg.Thresholds
	return check{stubs: stubs, late: Crit, run: func(ctx context.Context) []Result {
		out := append([]Result(nil), stubs...)
		skip := func(why string) []Result {
			for i := range out {
				out[i].Detail = "not checked: " + why
			}
			return out
		}
		if c.cfg.SynapseDB.IsZero() {
			return skip("no Synapse database configured")
		}
		var reach Result
		pool, ok := c.synapseDB.reachable(ctx, &reach)
		if !ok {
			return skip("the Synapse database is unreachable")
		}
		// In the order of out. The longest transaction is looked up alone
		// first: beside the others it would find our own queries.
		queries := []func(context.Context, *pgxpool.Pool, *Result) error{
			func(ctx context.Context, p *pgxpool.Pool, r *Result) error { return pgConnections(ctx, p, r, th) },
			pgDBSize,
			func(ctx context.Context, p *pgxpool.Pool, r *Result) error { return pgLongestTxn(ctx, p, r, th) },
			func(ctx context.Context, p *pgxpool.Pool, r *Result) error { return pgWaitingLocks(ctx, p, r, th) },
		}
		const alone = 2
		errs := make([]error, len(queries))
		query := func(i int) {
			start := time.Now()
			errs[i] = queries[i](ctx, pool, &out[i])
			out[i].Took = time.Since(start)
			if errs[i] != nil {
				out[i].Status, out[i].Detail = Crit, fmt.Sprintf("query failed: %v", errs[i])
			}
		}
		query(alone)
		var wg sync.WaitGroup
		for i := range queries {
			if i != alone {
				wg.Go(func() { query(i) })
			}
		}
		wg.Wait()
		for _, err := range errs {
			if c.synapseDB.failed(pool, err) {
				break
			}
		}
		return out
	}}
}

func pgConnections(ctx context.Context, pool *pgxpool.Pool, r *Result, th Thresholds) error {
	// Client backends only: autovacuum, WAL writers and the like do not
	// count against max_connections. Visible to any user.
	var inUse, here, maxConns int
	err := pool.QueryRow(ctx, `
SELECT count(*) FILTER (WHERE backend_type = 'client backend'),
       count(*) FILTER (WHERE backend_type = 'client backend' AND datname = current_database()),
       current_setting('max_connections')::int
FROM pg_stat_activity`).Scan(&inUse, &here, &maxConns)
	if err != nil {
		return err
	}
	pct := 100 * float64(inUse) / float64(max(maxConns, 1))
	r.setNum(pct, "%")
	r.Value = fmt.Sprintf("%d of %d (%.0f%%), %d to this database", inUse, maxConns, pct, here)
	s, at := atLeast(pct, th.PGConnectionsWarnPct, th.PGConnectionsCritPct)
	r.grade(s, at, r.Value, "at or over", func(v float64) string { return fmt.Sprintf("%.0f%%", v) })
	if s != OK {
		r.Hint = "every Synapse process (cp_max each) and the application share max_connections: raise it in postgresql.conf, lower pool sizes, or look for idle sessions in pg_stat_activity"
	}
	return nil
}

func pgDBSize(ctx context.Context, pool *pgxpool.Pool, r *Result) error {
	var n int64
	if err := pool.QueryRow(ctx, `SELECT pg_database_size(current_database())`).Scan(&n); err != nil {
		return err
	}
	r.Status = OK
	r.setNum(float64(n), "bytes")
	r.Value = bytesIEC(float64(n))
	return nil
}

func pgLongestTxn(ctx context.Context, pool *pgxpool.Pool, r *Result, th Thresholds) error {
	// Cluster-wide: an old transaction anywhere holds back vacuum everywhere.
	// Other users' sessions show xact_start only to superusers and
	// pg_read_all_stats members; Synapse's own sessions are always visible.
	var (
		pid       int
		db, state string
		secs      float64
	)
	err := pool.QueryRow(ctx, `
SELECT pid, coalesce(datname, ''), coalesce(state, ''), extract(epoch FROM now() - xact_start)::float8
FROM pg_stat_activity
WHERE pid <> pg_backend_pid() AND backend_type = 'client backend' AND xact_start IS NOT NULL
ORDER BY xact_start LIMIT 1`).Scan(&pid, &db, &state, &secs)
	if errors.Is(err, pgx.ErrNoRows) {
		r.Status, r.Value = OK, "none open"
		r.setNum(0, "s")
		return nil
	}
	if err != nil {
		return err
	}
	secs = max(secs, 0)
	r.setNum(secs, "s")
	r.Value = fmt.Sprintf("%s (pid %d on %s, %s)", age(secs), pid, db, state)
	s, at := above(secs, th.PGLongestTxnWarn.Seconds(), th.PGLongestTxnCrit.Seconds())
	r.grade(s, at, r.Value, "over", age)
	if s != OK {
		r.Hint = fmt.Sprintf("a long transaction holds back vacuum and may block Synapse: look at it with SELECT * FROM pg_stat_activity WHERE pid = %d; if it is stuck, SELECT pg_terminate_backend(%d)", pid, pid)
	}
	return nil
}

func pgWaitingLocks(ctx context.Context, pool *pgxpool.Pool, r *Result, th Thresholds) error {
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE NOT granted`).Scan(&n); err != nil {
		return err
	}
	r.setNum(float64(n), "")
	r.Value = fmt.Sprintf("%d waiting", n)
	s, at := above(float64(n), th.PGWaitingLocksWarn, th.PGWaitingLocksCrit)
	r.grade(s, at, r.Value, "over", count)
	if s != OK {
		r.Hint = "sessions are blocked on locks: SELECT pid, pg_blocking_pids(pid), state, wait_event FROM pg_stat_activity WHERE cardinality(pg_blocking_pids(pid)) > 0"
	}
	return nil
}
