package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"synops/ops"
	"synops/ops/config"
	"synops/ops/services"
)

// dbDump is one database to dump.
type dbDump struct {
	part    string // PartSynapseDB, PartAppDB
	conn    *conn
	via     config.DumpVia
	format  config.BackupFormat
	synapse bool // count Synapse's key tables and read its schema version
}

// dumpMeta is what a dump learned about the database besides its data.
type dumpMeta struct {
	takenAt         time.Time
	schema, compat  int
	postgresVersion string
}

func (d dbDump) file() (name, format string) {
	if d.format == config.FormatSQLGzip {
		return d.part + ".sql.gz", FormatSQLGzip
	}
	return d.part + ".pgdump.zst", FormatCustomZstd
}

// dump streams a consistent dump of one database into dir and returns its
// part. The snapshot is exported from a REPEATABLE READ transaction that
// also counts the rows of key tables, and pg_dump reads that very snapshot
// (--snapshot), so the counts are exact for the dump and a restore must
// reproduce them. pg_dump writes uncompressed (-Z0); synops compresses on
// every core while the stream passes, hashes it and fsyncs it.
func (s *Service) dump(ctx context.Context, d dbDump, dir string, progress func(ops.Progress)) (Part, dumpMeta, error) {
	name, format := d.file()
	part := Part{Name: d.part, File: name, Format: format, Database: d.conn.Database}
	var meta dumpMeta
	fail := func(err error) (Part, dumpMeta, error) {
		return Part{}, meta, fmt.Errorf("dump %s: %w", d.conn.Database, err)
	}
	cn, err := d.conn.connect(ctx)
	if err != nil {
		return fail(err)
	}
	defer cn.Close(context.WithoutCancel(ctx))
	tx, err := cn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fail(err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var snapshot string
	if err := tx.QueryRow(ctx, "SELECT pg_export_snapshot(), now(), current_setting('server_version')").Scan(&snapshot, &meta.takenAt, &meta.postgresVersion); err != nil {
		return fail(err)
	}
	if d.synapse {
		if meta.schema, meta.compat, err = schemaVersion(ctx, tx); err != nil {
			return fail(err)
		}
	}
	tables, err := tableList(ctx, tx, d.synapse)
	if err != nil {
		return fail(fmt.Errorf("list tables: %w", err))
	}
	var exclude []string
	if d.synapse && !s.keepOneTimeKeys {
		exclude = []string{oneTimeKeys}
		part.DataExcluded = exclude
	}
	var estimate int64
	_ = tx.QueryRow(ctx, `SELECT coalesce(sum(pg_table_size(c.oid)), 0) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND NOT c.relname = ANY($1)`, exclude).Scan(&estimate)

	argv, env, err := s.pgDumpCommand(ctx, d, snapshot, exclude)
	if err != nil {
		return fail(err)
	}
	m := newMeter(d.part, "dumping", estimate, progress)
	err = writePart(dir, &part, func(w io.Writer) error {
		// The counts run in the exporting transaction while pg_dump
		// streams: both see the same snapshot, and the dump does not wait.
		cctx, stopCounting := context.WithCancel(ctx)
		defer stopCounting()
		counted := make(chan error, 1)
		go func() {
			var err error
			part.Rows, err = countRows(cctx, tx, tables)
			counted <- err
		}()
		s.logf("$ %s", joinArgv(argv))
		if err := s.controller().Exec.Stream(ctx, argv, services.Streams{Env: env, Stdout: io.MultiWriter(m, w), Log: s.log()}); err != nil {
			stopCounting() // the dump is lost: do not scan the big tables for it
			<-counted
			return err
		}
		return <-counted
	})
	if err != nil {
		return fail(err)
	}
	part.Bytes = m.n
	if err := tx.Commit(ctx); err != nil {
		return fail(err)
	}
	progress(ops.Progress{Item: d.part, Stage: "dumped", Bytes: m.n, TotalBytes: m.n,
		Detail: fmt.Sprintf("%s dumped, %s on disk in %s", textBytes(m.n), textBytes(part.Size), time.Since(m.start).Round(100*time.Millisecond))})
	return part, meta, nil
}

// dumpRetrying is dump, tried again (up to three times in all) when a
// table went away between pg_dump listing and locking it: Synapse's
// background updates create and drop work tables
// (_temp_populate_user_directory_*), and pg_dump then fails with
// "relation ... does not exist" on LOCK TABLE. A new snapshot sees the
// schema as it is now.
func (s *Service) dumpRetrying(ctx context.Context, d dbDump, dir string, progress func(ops.Progress)) (Part, dumpMeta, error) {
	for attempt := 1; ; attempt++ {
		part, meta, err := s.dump(ctx, d, dir, progress)
		var ee *services.ExitError
		if err == nil || attempt == 3 || !errors.As(err, &ee) ||
			!strings.Contains(ee.Stderr, "LOCK TABLE") || !strings.Contains(ee.Stderr, "does not exist") {
			return part, meta, err
		}
		s.logf("a table went away while pg_dump started (Synapse drops the work tables of its background updates): dumping %s again", d.conn.Database)
		progress(ops.Progress{Item: d.part, Stage: "dumping", Detail: "a table went away as the dump began: starting again"})
	}
}

// pgDumpCommand is pg_dump's argv and the environment it needs, where the
// profile says it runs.
func (s *Service) pgDumpCommand(ctx context.Context, d dbDump, snapshot string, exclude []string) ([]string, []string, error) {
	args := []string{"pg_dump", "--no-password", "--snapshot=" + snapshot}
	if d.format == config.FormatSQLGzip {
		// Plain SQL cannot drop owners at restore time, so it never has them:
		// the role that restores owns what it restores.
		args = append(args, "--format=plain", "--no-owner", "--no-privileges")
	} else {
		args = append(args, "--format=custom", "--compress=0")
	}
	for _, t := range exclude {
		args = append(args, "--exclude-table-data="+t)
	}
	return s.pgCommand(ctx, d.conn, d.via, false, args)
}

// pgCommand places a PostgreSQL program: on this machine it reaches the
// server as the DSN says (in its environment); in a container it runs as
// the DSN's user against the container's own server.
func (s *Service) pgCommand(ctx context.Context, c *conn, via config.DumpVia, stdin bool, args []string) ([]string, []string, error) {
	if via == config.DumpHost || via == "" {
		return append(args, "--dbname="+c.Database), c.hostEnv(), nil
	}
	env, names := c.secretEnv()
	args = append(args, "--username="+c.User, "--dbname="+c.Database)
	argv, err := s.controller().PGCommand(ctx, via, stdin, names, args...)
	return argv, env, err
}
