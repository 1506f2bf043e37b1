package security

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"synops/ops/backup"
	"synops/ops/backup/backuptest"
	"synops/ops/pgtest"
	"synops/synapse"
)

// TestTokenFilePermissions: a world-readable token file fails and passes
// once it is chmod 600; the bed's homeserver.yaml and signing key (0600)
// pass.
func TestTokenFilePermissions(t *testing.T) {
	tok := filepath.Join(t.TempDir(), "admin.token")
	if err := os.WriteFile(tok, []byte(bed.Synapse.AdminToken.Reveal()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(tok, 0o644); err != nil {
		t.Fatal(err)
	}
	d := bedDeps()
	d.TokenFiles = []string{tok}
	c := run(t, "files.permissions", d)
	wantStatus(t, c, Fail, "token file "+tok+": mode 0644", "others can read or change it")

	if err := os.Chmod(tok, 0o640); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, run(t, "files.permissions", d), Fail, "mode 0640", "its group can read")

	if err := os.Chmod(tok, 0o600); err != nil {
		t.Fatal(err)
	}
	c = run(t, "files.permissions", d)
	wantStatus(t, c, OK, "token file "+tok+": mode 0600",
		"homeserver.yaml "+bed.Synapse.ConfigPath+": mode 0600",
		"signing key "+filepath.Join(bed.Synapse.Dir, bed.Synapse.ServerName+".signing.key")+": mode 0600")
	if strings.Contains(mustJSON(t, c), bed.Synapse.AdminToken.Reveal()) {
		t.Error("the evidence shows the token")
	}

	// A signing key anyone can read (Synapse's generate writes 0644) fails;
	// its group reading it is fine (root:synapse 0640).
	dir := t.TempDir()
	key := filepath.Join(dir, "other.signing.key")
	if err := os.WriteFile(key, []byte("ed25519 a_x AAAA\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d.HomeserverYAML = filepath.Join(dir, "homeserver.yaml")
	editHS(t, bed.Synapse.ConfigPath, d.HomeserverYAML, func(m map[string]any) { m["signing_key_path"] = "other.signing.key" })
	for _, tt := range []struct {
		mode os.FileMode
		want Status
	}{{0o644, Fail}, {0o660, Fail}, {0o640, OK}} {
		if err := os.Chmod(key, tt.mode); err != nil {
			t.Fatal(err)
		}
		wantStatus(t, run(t, "files.permissions", d), tt.want, fmt.Sprintf("signing key %s: mode %04o", key, tt.mode))
	}

	// Without signing_key_path Synapse reads <server_name>.signing.key
	// beside homeserver.yaml.
	key = filepath.Join(dir, bed.Synapse.ServerName+".signing.key")
	if err := os.WriteFile(key, []byte("ed25519 a_x AAAA\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	editHS(t, bed.Synapse.ConfigPath, d.HomeserverYAML, func(m map[string]any) { delete(m, "signing_key_path") })
	wantStatus(t, run(t, "files.permissions", d), OK, "signing key "+key+": mode 0600")
}

// TestSecretsInLogs scans Synapse's real log (clean), then an application
// log that has a token in an Authorization header, a password field and
// the registration secret written into it; the evidence names file and
// line and never the secret.
func TestSecretsInLogs(t *testing.T) {
	app := filepath.Join(t.TempDir(), "api.log")
	clean := "2026-12-01 info: started\n2026-12-01 info: GET /_matrix/client/v3/sync?access_token=<redacted> 200\n"
	if err := os.WriteFile(app, []byte(clean), 0o600); err != nil {
		t.Fatal(err)
	}
	d := bedDeps()
	d.Logs = []LogFile{{"Synapse log", bed.Synapse.LogPath}, {"application log", app}}
	d.Secrets = []KnownSecret{{What: "the registration shared secret", Secret: bed.Synapse.SharedSecret}}
	c := run(t, "logs.secrets", d)
	wantStatus(t, c, OK, "Synapse log "+bed.Synapse.LogPath+" (read whole): no token", "application log "+app+" (read whole): no token")

	tok := bed.Synapse.AdminToken
	dirty := clean +
		"2026-12-01 debug: request headers {\"Authorization\": \"Bearer " + tok.Reveal() + "\"}\n" +
		"2026-12-01 debug: login body {\"type\": \"m.login.password\", \"password\": \"correct horse battery\"}\n" +
		"2026-12-01 debug: register with secret " + bed.Synapse.SharedSecret.Reveal() + "\n"
	if err := os.WriteFile(app, []byte(dirty), 0o600); err != nil {
		t.Fatal(err)
	}
	c = run(t, "logs.secrets", d)
	wantStatus(t, c, Fail,
		app+":3: an Authorization header ("+tok.Hint()+")",
		app+":4: a password field ([redacted])",
		app+":5: the registration shared secret ([redacted])",
		"application log "+app+" (read whole): 3 secrets")
	out := mustJSON(t, c)
	for _, s := range []string{tok.Reveal(), "correct horse battery", "tery)", bed.Synapse.SharedSecret.Reveal(), bed.Synapse.SharedSecret.Reveal()[44:]} {
		if strings.Contains(out, s) {
			t.Errorf("the check shows a secret it found: %q", s[:6])
		}
	}

	// Fixed: the lines are gone.
	if err := os.WriteFile(app, []byte(clean), 0o600); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, run(t, "logs.secrets", d), OK)
}

// TestLogScanTail: a big log is read from its last 16 MiB, line numbers
// still count from the top.
func TestLogScanTail(t *testing.T) {
	p := filepath.Join(t.TempDir(), "big.log")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Repeat("x", 99) + "\n"
	n := (scanTail / len(line)) + 1000
	for i := 0; i < n; i++ {
		f.WriteString(line)
	}
	f.WriteString("token syt_YWRtaW4_abcdefghijklmnopqrst_0AbCdE here\n")
	f.Close()
	found, total, scanned, partial, err := scanLog(context.Background(), p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !partial || scanned > scanTail || total != 1 || len(found) != 1 || found[0].line != n+1 {
		t.Errorf("found %+v total %d scanned %d partial %v; want the token on line %d from a partial read", found, total, scanned, partial, n+1)
	}
}

// TestTLSCertificate serves real certificates on loopback: expired
// (self-signed and CA-signed), untrusted, expiring soon, and good.
func TestTLSCertificate(t *testing.T) {
	now := time.Now()
	ca := cert(t, nil, true, now.Add(-365*24*time.Hour), now.Add(365*24*time.Hour))
	pool := newPool(ca)
	tests := []struct {
		name     string
		leaf     tls.Certificate
		roots    bool
		want     Status
		evidence string
	}{
		{"expired self-signed", cert(t, nil, false, now.Add(-60*24*time.Hour), now.Add(-2*24*time.Hour)), false, Fail, "it expired on"},
		{"expired, CA-signed", cert(t, &ca, false, now.Add(-60*24*time.Hour), now.Add(-time.Hour)), true, Fail, "it expired on"},
		{"valid but untrusted", cert(t, nil, false, now.Add(-time.Hour), now.Add(90*24*time.Hour)), false, Fail, "does not verify for 127.0.0.1"},
		{"expiring in 7 days", cert(t, &ca, false, now.Add(-80*24*time.Hour), now.Add(7*24*time.Hour+time.Hour)), true, Warn, "it expires in 7 days, within 14d"},
		{"good", cert(t, &ca, false, now.Add(-time.Hour), now.Add(60*24*time.Hour)), true, OK, "the chain verifies for 127.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := serveTLS(t, tt.leaf)
			d := Deps{PublicBaseURL: u + "/", TLSRoots: newPool()}
			if tt.roots {
				d.TLSRoots = pool
			}
			wantStatus(t, run(t, "tls.certificate", d), tt.want, tt.evidence, strings.TrimPrefix(u, "https://"))
		})
	}
	// A private CA given as a file works like the pool.
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	writePEM(t, caFile, ca)
	u := serveTLS(t, cert(t, &ca, false, now.Add(-time.Hour), now.Add(60*24*time.Hour)))
	wantStatus(t, run(t, "tls.certificate", Deps{PublicBaseURL: u, TLSRoots: newPool(), TLSCAFile: caFile}), OK)
	wantStatus(t, run(t, "tls.certificate", Deps{PublicBaseURL: "http://matrix.example.org"}), Fail, "is not https")
	wantStatus(t, run(t, "tls.certificate", Deps{}), Warn, "no public base URL")
}

// TestRateLimits: the bed's Synapse runs with every limiter at 10000/s (as
// tests need): the check fails on it. Its homeserver.yaml without the rc_*
// entries (Synapse's defaults) passes.
func TestRateLimits(t *testing.T) {
	d := bedDeps()
	wantStatus(t, run(t, "synapse.rate_limits", d), Fail, "rc_message: 10000/s, burst 10000", "rc_login.address: 10000/s", "rc_registration")

	fixed := filepath.Join(t.TempDir(), "homeserver.yaml")
	editHS(t, bed.Synapse.ConfigPath, fixed, func(m map[string]any) {
		for k := range m {
			if strings.HasPrefix(k, "rc_") {
				delete(m, k)
			}
		}
		m["rc_message"] = map[string]any{"per_second": 1, "burst_count": 20}
	})
	d.HomeserverYAML = fixed
	wantStatus(t, run(t, "synapse.rate_limits", d), OK, "all 12 limiters checked are on: 1 set in "+fixed+",")
}

// TestRegistration: the bed's Synapse refuses registration (403); restarted
// with open registration it offers [m.login.dummy] and the check fails;
// with a registration token required it passes again.
func TestRegistration(t *testing.T) {
	d := bedDeps()
	wantStatus(t, run(t, "synapse.registration", d), OK, "enable_registration is off", "an empty registration is refused (403)")

	orig, err := os.ReadFile(bed.Synapse.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	restart := func() {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if err := bed.Synapse.Restart(ctx); err != nil {
			t.Fatalf("restart Synapse: %v", err)
		}
	}
	t.Cleanup(func() {
		if err := os.WriteFile(bed.Synapse.ConfigPath, orig, 0o600); err != nil {
			t.Error(err)
		}
		restart()
	})
	editHS(t, bed.Synapse.ConfigPath, bed.Synapse.ConfigPath, func(m map[string]any) {
		m["enable_registration"] = true
		m["enable_registration_without_verification"] = true
	})
	restart()
	wantStatus(t, run(t, "synapse.registration", d), Fail,
		"enable_registration is on with no token, captcha or 3PID required", "the flow [m.login.dummy] lets anyone register")

	editHS(t, bed.Synapse.ConfigPath, bed.Synapse.ConfigPath, func(m map[string]any) {
		m["registration_requires_token"] = true
	})
	restart()
	wantStatus(t, run(t, "synapse.registration", d), OK, "registration is on and needs a registration token", "m.login.registration_token")
}

// TestPostgresListen: the bed's cluster listens on 127.0.0.1 and passes; a
// throwaway cluster started with listen_addresses='*' fails on its
// setting and on the sockets it bound.
func TestPostgresListen(t *testing.T) {
	d := bedDeps()
	port := strconv.Itoa(bed.PG.Port())
	wantStatus(t, run(t, "postgres.listen", d), OK, "listen_addresses = '127.0.0.1'", "bound on this host to loopback only: 127.0.0.1:"+port)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	wide, err := pgtest.StartLocal(ctx, pgtest.Options{ListenAddresses: "*"})
	if err != nil {
		t.Fatal(err)
	}
	defer wide.Stop()
	d.SynapseDB = synapse.NewSecret(wide.DSN("postgres"))
	wport := strconv.Itoa(wide.Port())
	wantStatus(t, run(t, "postgres.listen", d), Fail, "listen_addresses = '*'", "it listens on *", "bound on this host: ", "0.0.0.0:"+wport)
}

// TestListenerExposure: the bed binds its listeners to 127.0.0.1 and
// passes; a homeserver.yaml whose client and metrics listeners bind
// 0.0.0.0, on ports something really listens on that way, fails; so does
// a public URL through which the admin API answers.
func TestListenerExposure(t *testing.T) {
	d := bedDeps()
	wantStatus(t, run(t, "synapse.admin_api", d), OK, "binds 127.0.0.1", "bound on this host to loopback only")
	wantStatus(t, run(t, "synapse.metrics", d), OK, "listener 2 (metrics, port")

	wideClient := listenAll(t)
	wideMetrics := listenAll(t)
	hs := filepath.Join(t.TempDir(), "homeserver.yaml")
	editHS(t, bed.Synapse.ConfigPath, hs, func(m map[string]any) {
		m["listeners"] = []any{
			map[string]any{"port": wideClient, "type": "http", "resources": []any{map[string]any{"names": []string{"client", "federation"}}}},
			map[string]any{"port": wideMetrics, "type": "metrics", "bind_addresses": []string{"0.0.0.0"}},
		}
	})
	d.HomeserverYAML = hs
	wantStatus(t, run(t, "synapse.admin_api", d), Fail, "binds ::, 0.0.0.0 (Synapse's default", "bound on this host: ", "the admin API is reachable on a public interface")
	wantStatus(t, run(t, "synapse.metrics", d), Fail, "binds 0.0.0.0", "the metrics endpoint is reachable on a public interface")

	// The bed's own URL standing in for a proxy that passes /_synapse/admin.
	d = bedDeps()
	d.PublicBaseURL = bed.Synapse.BaseURL
	wantStatus(t, run(t, "synapse.admin_api", d), Fail, "answers 200: the admin API is reachable from the internet")
	d.PublicBaseURL = serveTLS(t, cert(t, nil, false, time.Now().Add(-time.Hour), time.Now().Add(time.Hour)))
	d.TLSRoots = newPool()
	wantStatus(t, run(t, "synapse.admin_api", d), Warn) // cannot verify the proxy's certificate
}

// listenAll listens on every interface, on a free port, for the test.
func listenAll(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l.Addr().(*net.TCPAddr).Port
}

func TestAlerts(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "synapse.rules.yml")
	os.WriteFile(rules, []byte(`groups:
- name: synapse
  rules:
  - record: synapse_federation_transaction_queue_pending
    expr: sum(synapse_federation_transaction_queue_pendingPdus)
  - alert: SynapseSyncSlow
    expr: histogram_quantile(0.95, rate(synapse_http_server_response_time_seconds_bucket{servlet="SyncRestServlet"}[5m])) > 5
`), 0o600)
	empty := filepath.Join(dir, "empty.yml")
	os.WriteFile(empty, []byte("groups: []\n"), 0o600)
	wantStatus(t, run(t, "monitoring.alerts", Deps{}), Warn, "no alert rule file or alert check")
	wantStatus(t, run(t, "monitoring.alerts", Deps{AlertRules: []string{rules}}), OK, rules+": 1 alerting rule")
	wantStatus(t, run(t, "monitoring.alerts", Deps{AlertRules: []string{empty}}), Fail, "has no alerting rule")
	wantStatus(t, run(t, "monitoring.alerts", Deps{AlertRules: []string{filepath.Join(dir, "none.yml")}}), Fail, "no such file")
	wantStatus(t, run(t, "monitoring.alerts", Deps{AlertCheck: []string{"false"}}), Fail, "alert check false failed: false: exit status 1")
	wantStatus(t, run(t, "monitoring.alerts", Deps{AlertCheck: []string{"true"}}), OK, "alert check true passed")
}

func TestBackups(t *testing.T) {
	empty := backup.NewCatalog(t.TempDir(), filepath.Join(t.TempDir(), "backup.key"))
	wantStatus(t, run(t, "backup.verified", Deps{}), Fail, "no backup directory")
	wantStatus(t, run(t, "backup.verified", Deps{Backups: empty, BackupWithin: 7 * 24 * time.Hour}), Fail, "no verified backup")
	cat, id := backuptest.Verified(t, bed.SynapseDB, bed.Synapse.ServerName)
	now := time.Now() // after the backup, so its age is whole days
	d := Deps{Backups: cat, BackupWithin: 7 * 24 * time.Hour, Now: func() time.Time { return now.Add(10 * 24 * time.Hour) }}
	wantStatus(t, run(t, "backup.verified", d), Warn, id, "(10 days ago)")
	d.Now = func() time.Time { return now.Add(5 * 24 * time.Hour) }
	wantStatus(t, run(t, "backup.verified", d), OK, "(5 days ago)")
}

// TestRunAndAcks runs everything as `synops audit` does and records an
// acknowledgement of a manual item.
func TestRunAndAcks(t *testing.T) {
	state := t.TempDir()
	d := bedDeps()
	d.Acks = OpenAcks(filepath.Join(state, "security-acks.json"))
	d.Logs = []LogFile{{"Synapse log", bed.Synapse.LogPath}}
	cs := Run(context.Background(), d)
	if len(cs) != len(checks)+len(ManualItems) {
		t.Fatalf("%d checks, want %d", len(cs), len(checks)+len(ManualItems))
	}
	for i, cf := range checks {
		if cs[i].ID != cf.id || len(cs[i].Evidence) == 0 {
			t.Errorf("check %d = %s with evidence %v", i, cs[i].ID, cs[i].Evidence)
		}
	}
	firewall := cs[len(checks)+1]
	if firewall.ID != "manual.firewall" || firewall.Status != Manual || !strings.Contains(strings.Join(firewall.Evidence, "\n"), "never acknowledged") {
		t.Errorf("manual item = %+v", firewall)
	}
	if Worst(cs) != Fail { // the bed's rate limits are off
		t.Errorf("Worst = %s, want fail", Worst(cs))
	}
	if err := d.Acks.Record("firewall", Ack{At: time.Now().Add(-100 * 24 * time.Hour), Operator: "alice", Note: "security group allows 443 only"}); err != nil {
		t.Fatal(err)
	}
	if err := d.Acks.Record("manual.nothing", Ack{}); err == nil || !strings.Contains(err.Error(), "manual.firewall") {
		t.Errorf("acknowledging an unknown item: %v", err)
	}
	cs = Run(context.Background(), d)
	firewall = cs[len(checks)+1]
	ev := strings.Join(firewall.Evidence, "\n")
	if firewall.Ack == nil || !strings.Contains(ev, "by alice (100 days ago): security group allows 443 only") || !strings.Contains(firewall.Hint, "due again") {
		t.Errorf("acknowledged item = %+v", firewall)
	}
	if mode := fileMode(t, d.Acks.Path()); mode != 0o600 {
		t.Errorf("acks file mode %04o", mode)
	}
	out := mustJSON(t, cs)
	for _, s := range []synapse.Secret{bed.Synapse.AdminToken, bed.Synapse.SharedSecret} {
		if strings.Contains(out, s.Reveal()) {
			t.Errorf("the audit's JSON holds a secret %s", s.Hint())
		}
	}
}

func fileMode(t *testing.T, p string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestParseProcAddr(t *testing.T) {
	tests := []struct{ in, want string }{
		{"0100007F:1538", "127.0.0.1:5432"},
		{"00000000:1F90", "0.0.0.0:8080"},
		{"00000000000000000000000000000000:1538", "[::]:5432"},
		{"00000000000000000000000001000000:1538", "[::1]:5432"},
		{"0000000000000000FFFF00000100007F:1538", "127.0.0.1:5432"},
	}
	for _, tt := range tests {
		s, err := parseProcAddr(tt.in)
		if err != nil || s.String() != tt.want {
			t.Errorf("parseProcAddr(%s) = %s, %v; want %s", tt.in, s, err, tt.want)
		}
	}
}

// TestRegistrationSettings: the registration check reads homeserver.yaml
// the way Synapse does, including YAML 1.1 booleans go.yaml.in/yaml/v3
// keeps as strings and the old disable_registration, which wins when
// written; without the file it says why.
func TestRegistrationSettings(t *testing.T) {
	for _, tc := range []struct {
		yaml     string
		status   Status
		evidence string
	}{
		{"enable_registration: yes\n", Fail, "enable_registration is on with no token"},
		{"enable_registration: 'off'\n", OK, "enable_registration is off"},
		{"enable_registration: true\nregistration_requires_token: on\n", OK, "registration is on and needs a registration token"},
		{"enable_registration: true\nregistrations_require_3pid: [email]\n", OK, "needs a verified 3PID ([email])"},
		{"enable_registration: true\ndisable_registration: yes\n", OK, "enable_registration is off"},
		{"enable_registration: false\ndisable_registration: no\n", Fail, "enable_registration is on with no token"},
		// Synapse does not start on these: neither on nor off.
		{"enable_registration: false\ndisable_registration: maybe\n", Warn, "disable_registration is maybe, which Synapse cannot read as true or false"},
		{"enable_registration: sure\n", Warn, "enable_registration is sure, which Synapse cannot read"},
		{"enable_registration: sure\ndisable_registration: true\n", Warn, "enable_registration is sure, which Synapse cannot read"},
	} {
		path := filepath.Join(t.TempDir(), "homeserver.yaml")
		if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		c := run(t, "synapse.registration", Deps{HomeserverYAML: path})
		if all := strings.Join(c.Evidence, "\n"); c.Status != tc.status || !strings.Contains(all, tc.evidence) {
			t.Errorf("%q: got %s %q, want %s saying %q", tc.yaml, c.Status, all, tc.status, tc.evidence)
		}
		if all := strings.Join(c.Evidence, "\n"); tc.status == Warn && regexp.MustCompile(`registration is (on|off)`).MatchString(all) {
			t.Errorf("%q: %q, want no claim that registration is on or off", tc.yaml, all)
		}
	}

	missing := filepath.Join(t.TempDir(), "missing.yaml")
	for path, want := range map[string]string{
		"":      "no homeserver.yaml configured (-c, or homeserver_yaml in the profile)",
		missing: "read homeserver.yaml: open " + missing + ": no such file or directory",
	} {
		c := run(t, "synapse.registration", Deps{HomeserverYAML: path})
		if c.Status != Warn || len(c.Evidence) != 1 || c.Evidence[0] != want {
			t.Errorf("homeserver.yaml %q: got %s %q, want warn saying %q", path, c.Status, c.Evidence, want)
		}
	}
}
