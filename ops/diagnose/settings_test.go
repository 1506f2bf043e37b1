package diagnose_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"synops/ops/diagnose"
	"synops/ops/health"
)

// TestSettingsFromHomeserverYAML: a homeserver.yaml with workers, tuned
// caches and restrictions; the checks cite what is written and judge it.
func TestSettingsFromHomeserverYAML(t *testing.T) {
	path := filepath.Join(t.TempDir(), "homeserver.yaml")
	err := os.WriteFile(path, []byte(`
server_name: example.org
registration_shared_secret: "do-not-show-me"
enable_registration: true
registration_requires_token: true
hs_disabled: true
limit_remote_rooms: {enabled: true, complexity: 0.5}
block_non_admin_invites: true
rc_joins:
  local: {per_second: 0, burst_count: 3}
rc_joins_per_room: {per_second: 0.5, burst_count: 10}
use_presence: false
event_cache_size: 200K
caches:
  global_factor: 4.0
  per_cache_factors: {get_users_who_share_room_with_user: 2.0}
instance_map:
  main: {host: localhost, port: 8034}
  synchrotron1: {host: localhost, port: 8035}
  federation_sender1: {host: localhost, port: 8036}
database:
  name: psycopg2
  args: {cp_min: 5, cp_max: 20}
`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	d := diagnose.Deps{HomeserverYAML: path}

	v := run(t, d, diagnose.HighMemory)
	want(t, find(t, v, "cache settings"), health.Warn, `^caches.global_factor 4, event_cache_size 200K, cache_autotuning off, caches.cache_entry_ttl 30m \(default\), per_cache_factors for get_users_who_share_room_with_user$`)
	want(t, find(t, v, "presence"), health.OK, `^use_presence false$`)
	want(t, find(t, v, "workers"), health.Warn, `^2 workers in instance_map \(federation_sender1, synchrotron1\), redis.enabled false$`)
	want(t, find(t, v, "database connection pool"), health.OK, `^database.args.cp_min 5, database.args.cp_max 20; no metrics endpoint`)
	want(t, find(t, v, "CPU and memory"), health.Unknown, `no service manager`)

	v = run(t, d, diagnose.CannotJoinRooms)
	want(t, find(t, v, "server-wide restrictions"), health.Crit, `^hs_disabled is true.*limit_remote_rooms on \(complexity 0.5\); block_non_admin_invites on$`)
	want(t, find(t, v, "join rate limits"), health.Warn, `^rc_joins.local 0/s burst 3, rc_joins.remote 0.01/s burst 10 \(default\), rc_joins_per_room 0.5/s burst 10$`)
	want(t, find(t, v, "account registration"), health.OK, `^enable_registration true, registration_requires_token true, enable_registration_without_verification false \(default\)`)
	want(t, find(t, v, "Synapse responds"), health.Unknown, `no homeserver URL`)
	if v.Status != health.Crit {
		t.Errorf("got %s, want critical for hs_disabled", v.Status)
	}

	v = run(t, d, diagnose.ConnectionErrors)
	want(t, find(t, v, "registration shared secret"), health.OK, `registration_shared_secret is set`)
	for _, f := range v.Findings {
		if strings.Contains(f.Evidence+f.Hint+v.Summary, "do-not-show-me") {
			t.Errorf("the shared secret shows in %+v", f)
		}
	}

	d.HomeserverYAML = filepath.Join(t.TempDir(), "missing.yaml")
	v = run(t, d, diagnose.HighMemory)
	want(t, find(t, v, "cache settings"), health.Unknown, `read homeserver.yaml: .*no such file`)
}

// TestSettingsWrittenAsStrings: booleans written the YAML 1.1 way (which
// go.yaml.in/yaml/v3 reads as strings), numbers and sizes in quotes, and a
// value that is no boolean, which counts as Synapse's default.
func TestSettingsWrittenAsStrings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "homeserver.yaml")
	err := os.WriteFile(path, []byte(`
presence: {enabled: maybe}
caches: {global_factor: "1.0", expire_caches: off}
event_cache_size: "1M"
hs_disabled: yes
block_non_admin_invites: no
limit_remote_rooms: {enabled: on, complexity: "2"}
rc_joins:
  local: {per_second: "0.2", burst_count: "10"}
instance_map: {main: {}, worker1: {}}
redis: {enabled: "On"}
`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	d := diagnose.Deps{HomeserverYAML: path}

	v := run(t, d, diagnose.HighMemory)
	caches := find(t, v, "cache settings")
	want(t, caches, health.Warn, `^caches.global_factor 1.0, event_cache_size 1M, cache_autotuning off, caches.expire_caches false \(entries never expire\)$`)
	if !strings.HasPrefix(caches.Hint, "event_cache_size holds many events in memory; entries that never expire") {
		t.Errorf("cache settings: got hint %q, want 1M read as a big event cache and expiry off", caches.Hint)
	}
	if f := find(t, v, "presence"); !strings.HasPrefix(f.Hint, "presence (online status) costs") {
		t.Errorf("presence.enabled maybe: got %q, want it read as Synapse's default, on", f.Hint)
	}
	want(t, find(t, v, "workers"), health.OK, `^1 workers in instance_map \(worker1\), redis.enabled true$`)

	v = run(t, d, diagnose.CannotJoinRooms)
	want(t, find(t, v, "server-wide restrictions"), health.Crit, `^hs_disabled is true.*; limit_usage_by_mau off; limit_remote_rooms on \(complexity 2\)$`)
	want(t, find(t, v, "join rate limits"), health.OK, `^rc_joins.local 0.2/s burst 10, rc_joins.remote 0.01/s burst 10 \(default\), rc_joins_per_room 1/s burst 10 \(default\)$`)

	// Not written, a number is Synapse's default.
	if err := os.WriteFile(path, []byte("limit_remote_rooms: {enabled: true}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	v = run(t, d, diagnose.CannotJoinRooms)
	want(t, find(t, v, "server-wide restrictions"), health.Warn, `; limit_remote_rooms on \(complexity 1\)$`)

	d.HomeserverYAML = ""
	v = run(t, d, diagnose.HighMemory)
	want(t, find(t, v, "cache settings"), health.Unknown, `^homeserver.yaml is not configured \(point -c at it or set homeserver_yaml in the profile\)$`)
}
