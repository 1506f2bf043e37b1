// Package pg opens PostgreSQL pools for synops: Synapse's database and the
// application database. Connection strings are secrets (they may carry a
// password): they never appear in errors or logs, only user@host:port/db.
package pg

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"synops/synapse"
)

// Describe returns user@host:port/db for dsn, or a fixed text if it does not parse.
func Describe(dsn synapse.Secret) string {
	cfg, err := pgx.ParseConfig(dsn.Reveal())
	if err != nil {
		return "(unparseable connection string)"
	}
	return fmt.Sprintf("%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
}

// Open connects a pool to dsn and pings it. name says which database this is
// ("synapse database", "app database") for error messages.
func Open(ctx context.Context, name string, dsn synapse.Secret, log *slog.Logger) (*pgxpool.Pool, error) {
	pool, err := Lazy(ctx, name, dsn, log)
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("%s %s: %w", name, Describe(dsn), scrub(err, dsn))
	}
	return pool, nil
}

// Lazy is Open without the first connection: the pool connects when first
// used. The console builds its services this way, so its first frame never
// waits for a database.
func Lazy(ctx context.Context, name string, dsn synapse.Secret, log *slog.Logger) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dsn.Reveal())
	if err != nil {
		// pgx's parse errors can quote the string; ours never does.
		return nil, fmt.Errorf("%s: the connection string does not parse (expected postgres://user:password@host:port/db)", name)
	}
	cfg.MaxConns = 4
	cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	if log != nil {
		cfg.ConnConfig.Tracer = &sqlTracer{log: log}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", name, Describe(dsn), scrub(err, dsn))
	}
	return pool, nil
}

// scrub removes the password from an error text, should a driver ever quote it.
func scrub(err error, dsn synapse.Secret) error {
	cfg, perr := pgx.ParseConfig(dsn.Reveal())
	if perr != nil || cfg.Password == "" || !strings.Contains(err.Error(), cfg.Password) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), cfg.Password, "[redacted]"))
}

// ServerVersion returns e.g. "15.18".
func ServerVersion(ctx context.Context, pool *pgxpool.Pool) (string, error) {
	var v string
	err := pool.QueryRow(ctx, "SHOW server_version").Scan(&v)
	if i := strings.IndexByte(v, ' '); i > 0 {
		v = v[:i]
	}
	return v, err
}

// IsAuthError reports whether err is PostgreSQL refusing the credentials.
func IsAuthError(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "28P01" || pe.Code == "28000")
}

// sqlTracer logs statement text and duration, never the arguments (which can
// hold room IDs of users, tokens, anything): pgx's tracelog would print them.
type sqlTracer struct{ log *slog.Logger }

type traceKey struct{}

type traceStart struct {
	sql   string
	start time.Time
}

func (t *sqlTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	return context.WithValue(ctx, traceKey{}, traceStart{sql: d.SQL, start: time.Now()})
}

func (t *sqlTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryEndData) {
	s, _ := ctx.Value(traceKey{}).(traceStart)
	attrs := []any{"sql", oneLine(s.sql), "duration", time.Since(s.start)}
	if d.Err != nil {
		t.log.Debug("sql failed", append(attrs, "err", d.Err.Error())...)
		return
	}
	t.log.Debug("sql", attrs...)
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
