package backup

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"golang.org/x/sync/errgroup"

	"synops/ops/config"
	"synops/ops/pg"
	"synops/ops/safefile"
)

// conn describes how to reach one database, for pgx and for the PostgreSQL
// client programs. The password stays out of argv: programs get it as
// PGPASSWORD in their environment.
type conn struct {
	dsn      config.DSN
	cfg      *pgx.ConnConfig
	sslmode  string
	Database string
	User     string
}

func parseConn(d config.DSN, what string) (*conn, error) {
	if !d.Set() {
		return nil, fmt.Errorf("%s: no connection string", what)
	}
	cfg, err := pgx.ParseConfig(d.Raw.Reveal())
	if err != nil {
		// pgx's parse errors can quote the string; ours never does.
		return nil, fmt.Errorf("%s %s: the connection string does not parse", what, d.Redacted())
	}
	return &conn{dsn: d, cfg: cfg, sslmode: sslMode(d.Raw.Reveal()), Database: cfg.Database, User: cfg.User}, nil
}

var sslKeyword = regexp.MustCompile(`(?:^|\s)sslmode\s*=\s*'?([a-z-]+)`)

func sslMode(raw string) string {
	if strings.HasPrefix(raw, "postgres://") || strings.HasPrefix(raw, "postgresql://") {
		if u, err := url.Parse(raw); err == nil {
			return u.Query().Get("sslmode")
		}
		return ""
	}
	if m := sslKeyword.FindStringSubmatch(raw); m != nil {
		return m[1]
	}
	return ""
}

// to is the same server, another database.
func (c *conn) to(db string) *conn {
	cp := *c
	cp.cfg = c.cfg.Copy()
	cp.cfg.Database = db
	cp.Database = db
	return &cp
}

func (c *conn) connect(ctx context.Context) (*pgx.Conn, error) {
	cn, err := pgx.ConnectConfig(ctx, c.cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", c.describe(), scrub(err, c.cfg.Password))
	}
	return cn, nil
}

func (c *conn) describe() string {
	return fmt.Sprintf("%s@%s:%d/%s", c.cfg.User, c.cfg.Host, c.cfg.Port, c.Database)
}

// scrub removes a password from an error text, should a driver quote it.
func scrub(err error, password string) error {
	if password == "" || !strings.Contains(err.Error(), password) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), password, "[redacted]"))
}

// secretEnv is what a PostgreSQL program needs in its environment: the
// password, never in argv.
func (c *conn) secretEnv() (env, names []string) {
	if c.cfg.Password == "" {
		return nil, nil
	}
	return []string{"PGPASSWORD=" + c.cfg.Password}, []string{"PGPASSWORD"}
}

// hostEnv is the environment of a program on this machine: server, port,
// user and TLS mode of the DSN, and its password.
func (c *conn) hostEnv() []string {
	env := []string{"PGHOST=" + c.cfg.Host, "PGPORT=" + strconv.Itoa(int(c.cfg.Port)), "PGUSER=" + c.cfg.User}
	if c.sslmode != "" {
		env = append(env, "PGSSLMODE="+c.sslmode)
	}
	secret, _ := c.secretEnv()
	return append(env, secret...)
}

// maintenance connects to the server's maintenance database, to create,
// rename and drop databases.
func (c *conn) maintenance(ctx context.Context) (*pgx.Conn, error) {
	var last error
	for _, db := range []string{"postgres", "template1"} {
		cn, err := c.to(db).connect(ctx)
		if err == nil {
			return cn, nil
		}
		if pg.IsAuthError(err) {
			return nil, err
		}
		last = err
	}
	return nil, last
}

// createDatabase creates name as Synapse needs it: UTF8, C collation and
// ctype, from template0, owned by owner.
func createDatabase(ctx context.Context, admin *pgx.Conn, name, owner string) error {
	sql := fmt.Sprintf("CREATE DATABASE %s WITH ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0",
		pgx.Identifier{name}.Sanitize())
	if owner != "" {
		sql += " OWNER " + pgx.Identifier{owner}.Sanitize()
	}
	if _, err := admin.Exec(ctx, sql); err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "42501" {
			return fmt.Errorf("create database %s: %w (the role may not create databases: GRANT CREATEDB, or set backup.admin_dsn to a role that may)", name, err)
		}
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

func dropDatabase(ctx context.Context, admin *pgx.Conn, name string) error {
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

func databaseExists(ctx context.Context, admin *pgx.Conn, name string) (bool, error) {
	var n int
	err := admin.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n)
	return n > 0, err
}

// synapseKeyTables are counted at dump time and after every restore. Those
// a schema lacks are skipped.
var synapseKeyTables = []string{
	"users", "profiles", "devices", "access_tokens", "rooms", "room_aliases",
	"events", "event_json", "state_groups", "state_groups_state", "current_state_events",
	"room_memberships", "local_media_repository", "e2e_device_keys_json", "e2e_room_keys",
}

// oneTimeKeys is the table Synapse's backup guidance leaves out of dumps:
// restored one-time keys would be handed out a second time.
const oneTimeKeys = "e2e_one_time_keys_json"

// tableList is the tables to count: Synapse's key tables, or every table of
// the application database.
func tableList(ctx context.Context, q pgx.Tx, synapse bool) ([]string, error) {
	if synapse {
		var out []string
		for _, t := range synapseKeyTables {
			var ok bool
			if err := q.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", "public."+t).Scan(&ok); err != nil {
				return nil, err
			}
			if ok {
				out = append(out, t)
			}
		}
		return out, nil
	}
	rows, err := q.Query(ctx, `SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
		ORDER BY 1`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// countRows counts the rows of tables ("name" for public, "schema.name").
func countRows(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, tables []string) (map[string]int64, error) {
	out := make(map[string]int64, len(tables))
	for _, t := range tables {
		id := pgx.Identifier{"public", t}
		if schema, name, ok := strings.Cut(t, "."); ok {
			id = pgx.Identifier{schema, name}
		}
		var n int64
		if err := q.QueryRow(ctx, "SELECT count(*) FROM "+id.Sanitize()).Scan(&n); err != nil {
			return nil, fmt.Errorf("count rows of %s: %w", t, err)
		}
		out[t] = n
	}
	return out, nil
}

// countParallel counts tables over n connections at once: after a restore
// nothing else runs on the scratch database, and the big tables (events,
// event_json, state_groups_state) are each a full scan.
func countParallel(ctx context.Context, c *conn, tables []string, n int) (map[string]int64, error) {
	n = max(1, min(n, len(tables)))
	out := make(map[string]int64, len(tables))
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	for i := range n {
		g.Go(func() error {
			var mine []string
			for j := i; j < len(tables); j += n {
				mine = append(mine, tables[j])
			}
			cn, err := c.connect(gctx)
			if err != nil {
				return err
			}
			defer cn.Close(context.WithoutCancel(gctx))
			got, err := countRows(gctx, cn, mine)
			mu.Lock()
			maps.Copy(out, got)
			mu.Unlock()
			return err
		})
	}
	return out, g.Wait()
}

// schemaVersion reads Synapse's schema version and the oldest Synapse
// version the schema works with.
func schemaVersion(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) (version, compat int, err error) {
	if err := q.QueryRow(ctx, "SELECT version FROM schema_version").Scan(&version); err != nil {
		return 0, 0, fmt.Errorf("read Synapse's schema version (is this Synapse's database?): %w", err)
	}
	var ok bool
	if err := q.QueryRow(ctx, "SELECT to_regclass('schema_compat_version') IS NOT NULL").Scan(&ok); err == nil && ok {
		_ = q.QueryRow(ctx, "SELECT compat_version FROM schema_compat_version").Scan(&compat)
	}
	return version, compat, nil
}

// lockFile takes an exclusive lock on path, held while the file is open.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}

func syncDir(dir string) error { return safefile.SyncDir(dir) }
