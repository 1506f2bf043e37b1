package security

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"synops/ops/config"
	"synops/ops/services"
	"synops/ops/tokens"
	"synops/synapse"
)

var sprintf = fmt.Sprintf

func days(d time.Duration) string { return plural(int(d/(24*time.Hour)), "day") }

func plural(n int, one string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %ss", n, one)
}

func checkTokenAge(ctx context.Context, d Deps, c *Check) {
	if d.Tokens == nil {
		c.worse(Warn)
		if d.TokensErr != nil {
			c.see("the token's age was not read: %v", d.TokensErr)
		} else {
			c.see("no admin token: its age was not read")
		}
		c.Hint = "give synops the admin token (MATRIX_ADMIN_TOKEN, token.file or token.command)"
		return
	}
	a := d.Tokens.Age(ctx)
	c.see("token %s: %s", a.Hint, a)
	c.see("maximum age: %s (tokens.max_age)", config.FormatDuration(a.Max))
	switch a.Status {
	case tokens.AgeOld:
		c.worse(Warn)
		c.Hint = "rotate it: synops tokens rotate"
	case tokens.AgeUnknown:
		c.worse(Warn)
		c.Hint = "rotate it with synops tokens rotate, which records the date"
	}
	if r := a.Open; r != nil {
		c.worse(Warn)
		c.see("rotation %s to %s is %s (at %q): the old token %s is still valid", r.ID, r.NewAdmin, r.Phase, r.Step, r.OldHint)
		if r.Phase == tokens.Rotated {
			c.Hint = "log the old token out: synops tokens finish"
		} else {
			c.Hint = "undo the unfinished rotation: synops tokens rollback"
		}
	}
}

func checkBackups(ctx context.Context, d Deps, c *Check) {
	if d.Backups == nil {
		c.worse(Fail)
		c.see("no backup directory is configured")
		c.Hint = "configure backup.dir and take verified backups (synops backup)"
		return
	}
	within := d.BackupWithin
	if within <= 0 {
		within = config.DefaultBackupWithin
	}
	at, where, err := d.Backups.NewestVerified(ctx)
	switch {
	case err != nil:
		c.worse(Warn)
		c.see("could not read the backups: %v", err)
	case at.IsZero():
		c.worse(Fail)
		c.see("no verified backup (a backup whose restore test passed)")
		c.Hint = "take a backup and verify it with a restore test"
	default:
		age := d.now().Sub(at)
		c.see("newest verified backup: %s, taken %s (%s ago)", where, at.Format("2006-01-02 15:04"), days(age))
		c.see("wanted within %s (security.backup_within)", config.FormatDuration(within))
		if age > within {
			c.worse(Warn)
			c.Hint = "take and verify a new backup"
		}
	}
}

// limiter is one rate limiter of Synapse's and its default.
type limiter struct {
	key              string
	perSecond, burst float64
}

// limiters are the ones that stand between the server and abuse: logins,
// registration, messages, joins, invites, room creation, 3PID validation.
var limiters = []limiter{
	{"rc_message", 0.2, 10},
	{"rc_registration", 0.17, 3},
	{"rc_login.address", 0.003, 5},
	{"rc_login.account", 0.003, 5},
	{"rc_login.failed_attempts", 0.17, 3},
	{"rc_joins.local", 0.1, 10},
	{"rc_joins.remote", 0.01, 10},
	{"rc_invites.per_room", 0.3, 10},
	{"rc_invites.per_user", 0.003, 5},
	{"rc_invites.per_issuer", 0.3, 10},
	{"rc_3pid_validation", 0.003, 5},
	{"rc_room_creation", 0.016, 10},
}

// A limiter allowing this much is switched off in all but name (Synapse has
// no "enabled" flag: tests and Complement turn them off with 9999s, and a
// per_second of 0 does not disable one).
const offPerSecond, offBurst = 100, 1000

func checkRateLimits(ctx context.Context, d Deps, c *Check) {
	hs := hsFrom(ctx)
	if hs.err != nil {
		c.worse(Warn)
		c.see("%v", hs.err)
		return
	}
	set, off := 0, 0
	for _, l := range limiters {
		per, burst := l.perSecond, l.burst
		written := false
		key := l.key
		if key == "rc_message" {
			if _, ok := hs.Get("rc_message"); !ok { // the old spelling Synapse still reads
				if v, ok := hs.Number("rc_messages_per_second"); ok {
					per, written, key = v, true, "rc_messages_per_second"
				}
				if v, ok := hs.Number("rc_message_burst_count"); ok {
					burst, written = v, true
				}
			}
		}
		if v, ok := hs.Number(l.key + ".per_second"); ok {
			per, written = v, true
		}
		if v, ok := hs.Number(l.key + ".burst_count"); ok {
			burst, written = v, true
		}
		if written {
			set++
		}
		if per >= offPerSecond || burst >= offBurst {
			off++
			c.worse(Fail)
			c.see("%s: %g/s, burst %g: off in all but name (Synapse's default %g/s, burst %g)", key, per, burst, l.perSecond, l.burst)
		}
	}
	if off == 0 {
		c.see("all %d limiters checked are on: %d set in %s, the others at Synapse's defaults", len(limiters), set, hs.Path())
		return
	}
	c.Hint = "remove these rc_* entries from homeserver.yaml (or set realistic values) and restart Synapse"
}

func checkRegistration(ctx context.Context, d Deps, c *Check) {
	hs := hsFrom(ctx)
	open := false
	if hs.err != nil {
		c.worse(Warn)
		c.see("%v", hs.err)
	} else {
		// Synapse will not start on a value strtobool cannot read: such a
		// setting is reported as what it is, not taken for either.
		unreadable := func(key string) bool {
			v, set := hs.Get(key)
			if _, ok := hs.Bool(key); !set || ok {
				return false
			}
			c.worse(Warn)
			c.see("homeserver.yaml: %s is %v, which Synapse cannot read as true or false (it refuses to start)", key, v)
			return true
		}
		bad := unreadable("enable_registration")
		enabled, _ := hs.Bool("enable_registration")
		if _, set := hs.Get("disable_registration"); set { // the old inverse spelling, which wins
			bad = unreadable("disable_registration") || bad
			off, _ := hs.Bool("disable_registration")
			enabled = !off
		}
		token, _ := hs.Bool("registration_requires_token")
		captcha, _ := hs.Bool("enable_registration_captcha")
		threepids, _ := hs.Get("registrations_require_3pid")
		has3pid := false
		if l, ok := threepids.([]any); ok && len(l) > 0 {
			has3pid = true
		}
		switch {
		case bad:
		case !enabled:
			c.see("homeserver.yaml: enable_registration is off")
		case token || captcha || has3pid:
			var what []string
			if token {
				what = append(what, "a registration token")
			}
			if captcha {
				what = append(what, "a captcha")
			}
			if has3pid {
				what = append(what, sprintf("a verified 3PID (%v)", threepids))
			}
			c.see("homeserver.yaml: registration is on and needs %s", strings.Join(what, " and "))
		default:
			open = true
			c.worse(Fail)
			c.see("homeserver.yaml: enable_registration is on with no token, captcha or 3PID required (enable_registration_without_verification)")
		}
	}
	if d.Synapse == nil {
		return
	}
	enabled, flows, err := d.Synapse.RegistrationFlows(ctx)
	switch {
	case err != nil:
		c.worse(Warn)
		c.see("Synapse at %s: could not ask how to register: %v", d.Synapse.BaseURL(), err)
	case !enabled:
		c.see("Synapse at %s: an empty registration is refused (403): registration is off", d.Synapse.BaseURL())
	default:
		var shown []string
		dummy := false
		for _, f := range flows {
			shown = append(shown, "["+strings.Join(f, ", ")+"]")
			if len(f) == 1 && f[0] == "m.login.dummy" {
				dummy = true
			}
		}
		c.see("Synapse at %s offers registration flows %s", d.Synapse.BaseURL(), strings.Join(shown, " "))
		if dummy {
			open = true
			c.worse(Fail)
			c.see("the flow [m.login.dummy] lets anyone register an account")
		}
	}
	if open {
		c.Hint = "set enable_registration: false, or require a token (registration_requires_token: true) or an email, and restart Synapse"
	}
}

// exposed judges listeners serving resource (or of type typ) by their
// configured bind addresses and, when the port is visible on this host,
// by the sockets actually bound.
func exposed(c *Check, hs *hsConfig, what string, match func(listener) bool) {
	found := false
	for _, l := range hs.listeners() {
		if !match(l) {
			continue
		}
		found = true
		if l.port == 0 {
			c.see("listener %d (%s) has no TCP port (a unix socket): not reachable over the network", l.index, l.typ)
			continue
		}
		public := false
		for _, b := range l.binds {
			if wildcardOrPublic(b) {
				public = true
			}
		}
		binds := strings.Join(l.binds, ", ")
		if l.defaulted {
			binds += " (Synapse's default: no bind_addresses)"
		}
		kind := l.typ
		if len(l.resources) > 0 {
			kind += ": " + strings.Join(l.resources, "+")
		}
		c.see("listener %d (%s, port %d) binds %s", l.index, kind, l.port, binds)
		socks, err := listening("/proc", l.port)
		var pub []string
		for _, s := range socks {
			if s.public() {
				pub = append(pub, s.String())
			}
		}
		switch {
		case err != nil:
			c.see("%v", err)
		case len(socks) == 0:
			c.see("nothing listens on port %d on this host (Synapse elsewhere, or stopped)", l.port)
		case len(pub) > 0:
			c.see("bound on this host: %s", joinSockets(socks))
			public = true
		default:
			c.see("bound on this host to loopback only: %s", joinSockets(socks))
			if public {
				// Configured wide but only loopback is bound here: a
				// container whose port is published to loopback.
				c.worse(Warn)
				c.see("configured for every interface, published on loopback only here (a container?)")
				continue
			}
		}
		if public {
			c.worse(Fail)
			c.see("%s is reachable on a public interface through listener %d", what, l.index)
		}
	}
	if !found {
		c.see("no listener serves %s", what)
	}
}

func joinSockets(ss []socket) string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.String()
	}
	return strings.Join(out, ", ")
}

func checkAdminAPI(ctx context.Context, d Deps, c *Check) {
	hs := hsFrom(ctx)
	if hs.err != nil {
		c.worse(Warn)
		c.see("%v", hs.err)
	} else {
		// The admin API is mounted with the client resource.
		exposed(c, hs, "the admin API", func(l listener) bool { return l.typ == "http" && l.serves("client") })
	}
	if d.PublicBaseURL == "" {
		c.see("no public base URL to try the admin API through")
	} else if u, err := url.JoinPath(d.PublicBaseURL, "/_synapse/admin/v1/server_version"); err == nil {
		status, err := probe(ctx, d, u)
		switch {
		case err != nil:
			c.worse(Warn)
			c.see("GET %s: %v", u, err)
		case status == http.StatusOK:
			c.worse(Fail)
			c.see("GET %s answers 200: the admin API is reachable from the internet", u)
		default:
			c.see("GET %s answers %d: the public URL does not serve the admin API", u, status)
		}
	}
	if c.Status >= Warn {
		c.Hint = "bind the client listener to 127.0.0.1 behind the reverse proxy, and do not proxy /_synapse/admin"
	}
}

// probe GETs u without a token and returns the status.
func probe(ctx context.Context, d Deps, u string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConfig(d, "")},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			return 0, ue.Err
		}
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func checkMetrics(ctx context.Context, d Deps, c *Check) {
	hs := hsFrom(ctx)
	if hs.err != nil {
		c.worse(Warn)
		c.see("%v", hs.err)
		return
	}
	if on, _ := hs.Bool("enable_metrics"); !on {
		c.see("enable_metrics is off: Synapse serves no metrics")
		return
	}
	exposed(c, hs, "the metrics endpoint", func(l listener) bool { return l.typ == "metrics" || (l.typ == "http" && l.serves("metrics")) })
	if c.Status >= Warn {
		c.Hint = "bind the metrics listener to 127.0.0.1 (bind_addresses: ['127.0.0.1']) and let Prometheus scrape it locally"
	}
}

func checkAlerts(ctx context.Context, d Deps, c *Check) {
	if len(d.AlertRules) == 0 && len(d.AlertCheck) == 0 {
		c.worse(Warn)
		c.see("no alert rule file or alert check is configured")
		c.Hint = "set security.alert_rules (Prometheus rule files) or security.alert_check (a command exiting 0 when alerts are in place)"
		return
	}
	for _, p := range d.AlertRules {
		n, err := countAlertRules(p)
		switch {
		case err != nil:
			c.worse(Fail)
			c.see("%s: %v", p, err)
		case n == 0:
			c.worse(Fail)
			c.see("%s has no alerting rule (no rule with alert:)", p)
		default:
			c.see("%s: %s", p, plural(n, "alerting rule"))
		}
	}
	if len(d.AlertCheck) > 0 {
		var env []string
		for _, kv := range os.Environ() {
			name, _, _ := strings.Cut(kv, "=")
			if name != "MATRIX_ADMIN_TOKEN" && name != "PGPASSWORD" && !strings.HasPrefix(name, "SYNOPS_") {
				env = append(env, kv)
			}
		}
		if _, err := (services.Exec{Env: env}).Run(ctx, d.AlertCheck); err != nil {
			c.worse(Fail)
			c.see("alert check %s failed: %v", d.AlertCheck[0], err)
		} else {
			c.see("alert check %s passed", d.AlertCheck[0])
		}
	}
	if c.Status >= Warn {
		c.Hint = "put the alert rules in place (contrib/prometheus/synapse-v2.rules is Synapse's) and load them in Prometheus"
	}
}

// countAlertRules counts the alerting rules in a Prometheus rule file.
func countAlertRules(path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	var f struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(data, &f); err != nil {
		return 0, fmt.Errorf("not a Prometheus rule file: %w", err)
	}
	n := 0
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				n++
			}
		}
	}
	return n, nil
}

// secretHint is what a check may show of a secret.
func secretHint(s string) string { return synapse.NewSecret(s).Hint() }
