package testbed

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"synops/ops/pgtest"
)

// genSQL fills a copy of Synapse's schema with n events in 2000 rooms sent
// by 5000 users: events, their JSON (signatures and hashes that do not
// compress, message bodies that do, as in real rooms), and 2n state rows.
const genSQL = `
INSERT INTO rooms (room_id, is_public, creator, room_version, has_auth_chain_index)
  SELECT '!room' || i || ':bench.test', i % 3 = 0, '@user' || (i % 5000) || ':bench.test', '10', true FROM generate_series(0, 1999) i;
INSERT INTO users (name, password_hash, creation_ts, admin, is_guest, deactivated, locked, suspended)
  SELECT '@user' || i || ':bench.test', 'bcrypt-' || md5(i::text) || md5((i+1)::text), 1700000000000 + i, 0, 0, 0, false, false FROM generate_series(0, 4999) i;
INSERT INTO events (topological_ordering, event_id, type, room_id, processed, outlier, depth, origin_server_ts, received_ts, sender, contains_url, instance_name, stream_ordering)
  SELECT i / 2000, '$' || md5(i::text) || substr(md5((i*7)::text), 1, 11), 'm.room.message', '!room' || (i % 2000) || ':bench.test', true, false, i / 2000,
         1700000000000 + i * 37, 1700000000000 + i * 37 + 20, '@user' || (i % 5000) || ':bench.test', false, 'master', i + 1000
  FROM generate_series(1, $1::int) i;
INSERT INTO event_json (event_id, room_id, internal_metadata, json, format_version)
  SELECT '$' || md5(i::text) || substr(md5((i*7)::text), 1, 11), '!room' || (i % 2000) || ':bench.test', '{}',
    '{"auth_events":["$' || md5((i-1)::text) || '","$' || md5((i % 2000)::text) || '"],"content":{"body":"' ||
    substr('The quick brown fox jumps over the lazy dog while the meeting about the quarterly roadmap runs long again and everyone asks whether the backups were tested last week or only written down in the checklist that nobody reads before the release goes out on Friday afternoon when the coffee machine is broken', 1 + (i*13 % 120), 40 + (i*7 % 160)) ||
    '","msgtype":"m.text"},"depth":' || (i/2000) || ',"hashes":{"sha256":"' || encode(sha256(i::text::bytea), 'base64') ||
    '"},"origin":"bench.test","origin_server_ts":' || (1700000000000 + i * 37) || ',"prev_events":["$' || md5((i-2000)::text) ||
    '"],"room_id":"!room' || (i % 2000) || ':bench.test","sender":"@user' || (i % 5000) || ':bench.test","signatures":{"bench.test":{"ed25519:a_AbCd":"' ||
    encode(sha512(i::text::bytea), 'base64') || '"}},"type":"m.room.message","unsigned":{"age_ts":' || (1700000000000 + i * 37) || '}}', 3
  FROM generate_series(1, $1::int) i;
INSERT INTO state_groups_state (state_group, room_id, type, state_key, event_id)
  SELECT i / 20, '!room' || (i % 2000) || ':bench.test', 'm.room.member', '@user' || (i % 5000) || ':bench.test', '$' || md5((i/3)::text)
  FROM generate_series(1, $1::int * 2) i;
`

// GenerateSynapseDB makes a database on the bed's cluster with the schema
// of the bed's Synapse database (and its schema version rows) holding n
// generated events, and returns its DSN and size: a few hundred MB of
// Synapse-shaped data for backup faults and benchmarks. It is dropped when
// the test ends. The test cluster trusts local connections, so the DSNs in
// the commands hold no password.
func (b *Bed) GenerateSynapseDB(t testing.TB, n int) (string, int64) {
	pg, schemaFrom := b.PG, b.SynapseDB
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	name := pgtest.UniqueName("gen")
	dsn, err := pg.CreateDatabase(ctx, name, pgtest.DBOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pg.DropDatabase(context.Background(), name) })
	copySchema := "set -o pipefail; { pg_dump --schema-only --no-owner '" + schemaFrom + "'; " +
		"pg_dump --data-only -t schema_version -t schema_compat_version -t applied_schema_deltas '" + schemaFrom + "'; } | psql -q -v ON_ERROR_STOP=1 '" + dsn + "'"
	if out, err := exec.CommandContext(ctx, "bash", "-c", copySchema).CombinedOutput(); err != nil {
		t.Fatalf("copy Synapse's schema: %v\n%s", err, out)
	}
	cn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer cn.Close(ctx)
	for _, stmt := range strings.SplitAfter(strings.TrimSpace(genSQL), ";\n") {
		args := []any{}
		if strings.Contains(stmt, "$1") {
			args = append(args, n)
		}
		if _, err := cn.Exec(ctx, stmt, args...); err != nil {
			t.Fatalf("generate: %v\n%s", err, stmt)
		}
	}
	if _, err := cn.Exec(ctx, "VACUUM ANALYZE"); err != nil {
		t.Fatal(err)
	}
	var size int64
	if err := cn.QueryRow(ctx, "SELECT pg_database_size(current_database())").Scan(&size); err != nil {
		t.Fatal(err)
	}
	return dsn, size
}
