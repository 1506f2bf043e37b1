// Package security turns seed 004's security checklist into checks with
// evidence: every item a machine can check is checked on the box (the
// token's age, verified backups, rate limits and registration in
// homeserver.yaml, where PostgreSQL, the admin API and the metrics listen,
// the public TLS certificate, secrets in logs, file permissions, alerting),
// and the items it cannot check are listed as manual with the operator's
// last acknowledgement. Nothing here changes the box.
//
// The check IDs are stable (the console, `synops audit --json` and cron
// read them):
//
//	token.age             the admin token rotated within tokens.max_age (90d)
//	backup.verified       the newest verified backup within security.backup_within (7d)
//	synapse.rate_limits   no rc_* limiter switched off in homeserver.yaml
//	synapse.registration  registration not open without verification or a token
//	postgres.listen       PostgreSQL's listen_addresses and bound sockets on loopback
//	tls.certificate       the public base URL's certificate valid, not expiring soon
//	logs.secrets          no token, Authorization header or password in the logs
//	files.permissions     token files, homeserver.yaml, the signing key private
//	synapse.admin_api     the admin API not on a public listener or the public URL
//	synapse.metrics       the metrics listener not on a public interface
//	monitoring.alerts     alert rules present, or the alert check passes
//	manual.*              ManualItems: acknowledged by the operator
package security

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"path/filepath"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"synops/ops"
	"synops/ops/config"
	"synops/ops/tokens"
	"synops/synapse"
)

// Status is a check's verdict.
type Status int

const (
	OK     Status = iota // the item holds, with evidence
	Warn                 // it may not hold, or could not be checked fully
	Fail                 // it does not hold
	Manual               // a person must check it
)

func (s Status) String() string {
	switch s {
	case Warn:
		return "warn"
	case Fail:
		return "fail"
	case Manual:
		return "manual"
	}
	return "ok"
}

// MarshalText writes the status as a word.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Check is one checklist item and what was found.
type Check struct {
	ID     string `json:"id"`
	Title  string `json:"title"`
	Status Status `json:"status"`
	// Evidence is what was seen, one fact a line; it never holds a secret
	// (a token found in a log is shown as its hint, syt_…a1b2).
	Evidence []string `json:"evidence"`
	Hint     string   `json:"hint,omitempty"` // what to do when not ok
	// Ack is a manual item's last acknowledgement; nil when never given.
	Ack  *Ack          `json:"ack,omitempty"`
	Took time.Duration `json:"-"`
}

func (c *Check) see(format string, args ...any) {
	c.Evidence = append(c.Evidence, sprintf(format, args...))
}

// worse raises the status to s (Manual never lowers a verdict).
func (c *Check) worse(s Status) {
	if s > c.Status && s != Manual {
		c.Status = s
	}
}

// MarshalJSON adds the time taken in milliseconds.
func (c Check) MarshalJSON() ([]byte, error) {
	type plain Check
	if c.Evidence == nil {
		c.Evidence = []string{}
	}
	return json.Marshal(struct {
		plain
		TookMS int64 `json:"took_ms"`
	}{plain(c), c.Took.Milliseconds()})
}

// Worst is the most alarming verdict among the machine checks (manual
// items do not count).
func Worst(cs []Check) Status {
	w := OK
	for _, c := range cs {
		if c.Status != Manual && c.Status > w {
			w = c.Status
		}
	}
	return w
}

// KnownSecret is a secret synops holds, with what it is.
type KnownSecret struct {
	What   string // "the registration shared secret"
	Secret synapse.Secret
	Token  bool // an access token: shown as its hint (syt_…a1b2); other secrets never in part
}

// LogFile is a log to scan for secrets.
type LogFile struct {
	Label string // "Synapse log", "application log", "synops debug log"
	Path  string
}

// Deps is what the checks read. A zero field turns its check into a
// warning that says what to configure.
type Deps struct {
	Server         string
	HomeserverYAML string
	// Synapse is a client for the local listener; its token is not needed
	// by any check but the token's age.
	Synapse   *synapse.Client
	SynapseDB synapse.Secret // DSN
	Tokens    *tokens.Service
	// TokensErr says why Tokens is nil (the token could not be read).
	TokensErr error
	Backups   ops.BackupGate
	// BackupWithin: the newest verified backup must be this recent.
	BackupWithin time.Duration
	// TokenFiles hold an admin token: synops' own and those it writes.
	TokenFiles    []string
	PublicBaseURL string
	TLSWarnWithin time.Duration
	// TLSRoots are the CAs to trust; nil means the system's (plus TLSCAFile).
	TLSRoots  *x509.CertPool
	TLSCAFile string
	Logs      []LogFile
	// Secrets are looked for, literally, in the logs (the registration
	// shared secret, the database password; the admin token comes from Tokens).
	Secrets    []KnownSecret
	AlertRules []string
	AlertCheck []string
	Acks       *Acks
	// Timeout bounds each check (default 10s).
	Timeout time.Duration
	Now     func() time.Time
}

func (d Deps) now() time.Time {
	if d.Now == nil {
		return time.Now()
	}
	return d.Now()
}

// FromConfig fills Deps from the resolved configuration; stateDir is
// synops' state directory (its own logs and the acknowledgements). The
// caller adds the Synapse client, the token service and the backup catalog.
func FromConfig(r *config.Resolved, stateDir string) Deps {
	d := Deps{
		Server: r.ServerName, HomeserverYAML: r.HomeserverYAML, SynapseDB: r.SynapseDB.Raw,
		BackupWithin: r.Security.BackupWithin, PublicBaseURL: r.Security.PublicBaseURL,
		TLSWarnWithin: r.Security.TLSWarnWithin, TLSCAFile: r.Security.TLSCAFile,
		AlertRules: r.Security.AlertRules, AlertCheck: r.Security.AlertCheck,
	}
	if r.Token.File != "" {
		d.TokenFiles = append(d.TokenFiles, r.Token.File)
	}
	for _, t := range r.Tokens.WriteTo {
		if t.File != "" && t.File != r.Token.File {
			d.TokenFiles = append(d.TokenFiles, t.File)
		}
	}
	if r.LogFile != "" {
		d.Logs = append(d.Logs, LogFile{Label: "Synapse log", Path: r.LogFile})
	}
	for _, p := range r.Security.AppLogs {
		d.Logs = append(d.Logs, LogFile{Label: "application log", Path: p})
	}
	if stateDir != "" {
		d.Logs = append(d.Logs,
			LogFile{Label: "synops debug log", Path: filepath.Join(stateDir, "synops.log")},
			LogFile{Label: "synops audit log", Path: filepath.Join(stateDir, "audit.log")})
		d.Acks = StateAcks(stateDir)
	}
	if !r.RegistrationSharedSecret.IsZero() {
		d.Secrets = append(d.Secrets, KnownSecret{What: "the registration shared secret", Secret: r.RegistrationSharedSecret})
	}
	for _, db := range []struct {
		what string
		dsn  config.DSN
	}{{"Synapse's database password", r.SynapseDB}, {"the application database's password", r.AppDB}} {
		if !db.dsn.Set() {
			continue
		}
		if cfg, err := pgx.ParseConfig(db.dsn.Raw.Reveal()); err == nil && len(cfg.Password) >= 8 {
			d.Secrets = append(d.Secrets, KnownSecret{What: db.what, Secret: synapse.NewSecret(cfg.Password)})
		}
	}
	return d
}

type checkFunc struct {
	id, title string
	run       func(ctx context.Context, d Deps, c *Check)
}

// checks is the list, in the order they are shown.
var checks = []checkFunc{
	{"token.age", "Matrix admin token rotated within the last 90 days", checkTokenAge},
	{"backup.verified", "Database backups verified (restore test)", checkBackups},
	{"synapse.rate_limits", "Rate limiting enabled on all endpoints", checkRateLimits},
	{"synapse.registration", "Registration not open without verification or a token", checkRegistration},
	{"postgres.listen", "PostgreSQL not listening on public interfaces", checkPostgresListen},
	{"tls.certificate", "TLS/SSL certificates valid", checkTLS},
	{"logs.secrets", "No plaintext secrets in logs", checkLogs},
	{"files.permissions", "Token files, homeserver.yaml and the signing key not readable by others", checkPermissions},
	{"synapse.admin_api", "Admin API not exposed on a public listener", checkAdminAPI},
	{"synapse.metrics", "Metrics listener not on a public interface", checkMetrics},
	{"monitoring.alerts", "Monitoring alerts configured", checkAlerts},
}

// Run runs every check (at once, each within its own time limit) and then
// lists the manual items. The order is always the same.
func Run(ctx context.Context, d Deps) []Check {
	if d.Timeout <= 0 {
		d.Timeout = 10 * time.Second
	}
	hs := loadHS(d.HomeserverYAML)
	out := make([]Check, len(checks))
	var wg sync.WaitGroup
	for i, cf := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, d.Timeout)
			defer cancel()
			start := time.Now()
			c := Check{ID: cf.id, Title: cf.title}
			cf.run(withHS(cctx, hs), d, &c)
			if cctx.Err() != nil && c.Status < Warn {
				c.worse(Warn)
				c.see("stopped after %s: %v", d.Timeout, cctx.Err())
			}
			c.Took = time.Since(start)
			out[i] = c
		}()
	}
	wg.Wait()
	if d.Tokens != nil && d.Tokens.Config.MaxAge > 0 && d.Tokens.Config.MaxAge != config.DefaultTokenMaxAge {
		for i := range out {
			if out[i].ID == "token.age" { // the checklist's 90 days, as this profile sets it
				out[i].Title = sprintf("Matrix admin token rotated within the last %s", config.FormatDuration(d.Tokens.Config.MaxAge))
			}
		}
	}
	return append(out, manualChecks(d)...)
}
