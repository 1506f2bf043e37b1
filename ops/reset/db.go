package reset

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"synops/ops/config"
	"synops/ops/pg"
)

// database is Synapse's database as the standalone path drops and creates
// it: its name and owner, and how synops reaches the maintenance database.
type database struct {
	Name  string
	Owner string
	admin *pgx.ConnConfig // the role that drops and creates, on the maintenance database
	db    *pgx.ConnConfig // Synapse's own connection
	shown string          // user@host:port of the admin connection, for previews
}

// parseDSN reads a DSN without ever quoting it in an error.
func parseDSN(d config.DSN, what string) (*pgx.ConnConfig, error) {
	if !d.Set() {
		return nil, fmt.Errorf("%s: no connection string (point -c at homeserver.yaml or set synapse_db_dsn)", what)
	}
	cfg, err := pgx.ParseConfig(d.Raw.Reveal())
	if err != nil {
		return nil, fmt.Errorf("%s %s: the connection string does not parse", what, d.Redacted())
	}
	cfg.ConnectTimeout = 10 * time.Second
	return cfg, nil
}

func (s *Service) database() (*database, error) {
	db, err := parseDSN(s.SynapseDB, "Synapse database")
	if err != nil {
		return nil, err
	}
	adminDSN := s.AdminDB
	if !adminDSN.Set() {
		adminDSN = s.SynapseDB
	}
	admin, err := parseDSN(adminDSN, "admin database connection")
	if err != nil {
		return nil, err
	}
	if db.Database == "" {
		return nil, errors.New("Synapse's connection string names no database")
	}
	owner := s.Config.DatabaseOwner
	if owner == "" {
		owner = db.User
	}
	return &database{Name: db.Database, Owner: owner, admin: admin, db: db,
		shown: fmt.Sprintf("%s@%s:%d", admin.User, admin.Host, admin.Port)}, nil
}

// scrub keeps a password a driver might quote out of an error.
func scrubErr(err error, cfg *pgx.ConnConfig) error {
	if err == nil || cfg.Password == "" || !strings.Contains(err.Error(), cfg.Password) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), cfg.Password, "[redacted]"))
}

func connect(ctx context.Context, cfg *pgx.ConnConfig, db string) (*pgx.Conn, error) {
	c := cfg.Copy()
	c.Database = db
	cn, err := pgx.ConnectConfig(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("connect to %s@%s:%d/%s: %w", c.User, c.Host, c.Port, db, scrubErr(err, c))
	}
	return cn, nil
}

// maintenance connects the admin role to the maintenance database
// (postgres, else template1), where databases are dropped and created.
func (d *database) maintenance(ctx context.Context) (*pgx.Conn, error) {
	var last error
	for _, name := range []string{"postgres", "template1"} {
		cn, err := connect(ctx, d.admin, name)
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

func (d *database) dropSQL() string {
	return "DROP DATABASE IF EXISTS " + pgx.Identifier{d.Name}.Sanitize() + " WITH (FORCE)"
}

// createSQL is seed 000's CREATE DATABASE, names quoted.
func (d *database) createSQL() string {
	return fmt.Sprintf("CREATE DATABASE %s OWNER %s ENCODING 'UTF8' LC_COLLATE='C' LC_CTYPE='C' TEMPLATE template0",
		pgx.Identifier{d.Name}.Sanitize(), pgx.Identifier{d.Owner}.Sanitize())
}

// dbInfo is what the checks read of a database.
type dbInfo struct {
	Exists                   bool
	Encoding, Collate, Ctype string
	Owner                    string
	Sessions                 int
}

func (d *database) info(ctx context.Context, cn *pgx.Conn) (dbInfo, error) {
	var i dbInfo
	err := cn.QueryRow(ctx, `SELECT pg_encoding_to_char(encoding), datcollate, datctype, pg_get_userbyid(datdba),
		(SELECT count(*) FROM pg_stat_activity a WHERE a.datname = d.datname)
		FROM pg_database d WHERE datname = $1`, d.Name).Scan(&i.Encoding, &i.Collate, &i.Ctype, &i.Owner, &i.Sessions)
	if errors.Is(err, pgx.ErrNoRows) {
		return i, nil
	}
	if err != nil {
		return i, fmt.Errorf("look up database %s: %w", d.Name, err)
	}
	i.Exists = true
	return i, nil
}

// mayRecreate says why the admin role could not drop and create the
// database, or nil.
func (d *database) mayRecreate(ctx context.Context, cn *pgx.Conn) error {
	var super, createdb bool
	if err := cn.QueryRow(ctx, "SELECT rolsuper, rolcreatedb FROM pg_roles WHERE rolname = current_user").Scan(&super, &createdb); err != nil {
		return fmt.Errorf("read the role's rights: %w", err)
	}
	if super {
		return nil
	}
	if !createdb {
		return fmt.Errorf("role %s may not create databases: GRANT CREATEDB, or set backup.admin_dsn to a role that may", d.admin.User)
	}
	if d.Owner != d.admin.User {
		return fmt.Errorf("role %s is not a superuser, so it cannot create a database owned by %s: connect as a superuser (backup.admin_dsn)", d.admin.User, d.Owner)
	}
	return nil
}

// counts reads how much Synapse data a database holds: its tables, and
// once Synapse made its schema, users and rooms.
type dbCounts struct {
	Tables        int
	Users, Rooms  int64
	SchemaVersion int
	HasSchema     bool
}

func (d *database) counts(ctx context.Context) (dbCounts, error) {
	var c dbCounts
	cn, err := connect(ctx, d.db, d.Name)
	if err != nil {
		return c, err
	}
	defer cn.Close(context.WithoutCancel(ctx))
	if err := cn.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')`).Scan(&c.Tables); err != nil {
		return c, fmt.Errorf("count the tables of %s: %w", d.Name, err)
	}
	if err := cn.QueryRow(ctx, "SELECT to_regclass('public.users') IS NOT NULL AND to_regclass('public.rooms') IS NOT NULL").Scan(&c.HasSchema); err != nil || !c.HasSchema {
		return c, err
	}
	if err := cn.QueryRow(ctx, "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM rooms)").Scan(&c.Users, &c.Rooms); err != nil {
		return c, fmt.Errorf("count users and rooms in %s: %w", d.Name, err)
	}
	_ = cn.QueryRow(ctx, "SELECT version FROM schema_version").Scan(&c.SchemaVersion)
	return c, nil
}

// isMissingDB reports a connection refused because the database does not exist.
func isMissingDB(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "3D000"
}
