package config

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// The profile's tokens and security sections: where a rotated admin token is
// written, what runs after it, and what the security audit reads. They live
// in their own file so the other sections of the profile can grow beside them.

// Tokens says where a rotated admin token goes and what runs afterwards.
type Tokens struct {
	// WriteTo lists where the application reads the token. synops' own token
	// file (token.file), when it has one, is written too without being listed.
	WriteTo []TokenTarget
	// Redeploy is the argv that makes the application pick up a new token
	// (docker compose up -d api); none when empty.
	Redeploy []string
	// Check is the application's own check, run after the redeploy with the
	// new token in the environment variable CheckEnv (never in argv).
	Check    []string
	CheckEnv string
	// MaxAge is how old the token in use may be before synops warns (seed 004: 90 days).
	MaxAge time.Duration
	// AdminPrefix names new admins: <prefix>_<year>_<month>.
	AdminPrefix string
}

// TokenTarget is one place a token is written. Exactly one of File and
// Command is set; EnvVar only with File.
type TokenTarget struct {
	File    string   // a file holding only the token, or an env file when EnvVar is set
	EnvVar  string   // the variable whose line is replaced in the env file File
	Command []string // a command that receives the token on stdin
}

// String names the target without any secret: a command shows its program only.
func (t TokenTarget) String() string {
	switch {
	case len(t.Command) > 1:
		return "command " + t.Command[0] + " …"
	case len(t.Command) == 1:
		return "command " + t.Command[0]
	case t.EnvVar != "":
		return "env file " + t.File + " (" + t.EnvVar + ")"
	}
	return "file " + t.File
}

// Security holds what the security audit reads beyond homeserver.yaml.
type Security struct {
	// PublicBaseURL is the URL whose TLS certificate is checked; by default
	// homeserver.yaml's public_baseurl.
	PublicBaseURL string
	// TLSCAFile is a PEM bundle of extra trusted CAs (a private CA).
	TLSCAFile string
	// TLSWarnWithin: a certificate expiring sooner is a warning.
	TLSWarnWithin time.Duration
	// BackupWithin: the newest verified backup must be this recent.
	BackupWithin time.Duration
	// AppLogs are the application's log files, scanned for secrets.
	AppLogs []string
	// AlertRules are Prometheus rule files; AlertCheck an argv that exits 0
	// when the alerts are in place. Either one counts as monitoring configured.
	AlertRules []string
	AlertCheck []string
}

// Defaults of the two sections.
const (
	DefaultTokenMaxAge   = 90 * 24 * time.Hour
	DefaultAdminPrefix   = "admin"
	DefaultTLSWarnWithin = 14 * 24 * time.Hour
	DefaultBackupWithin  = 7 * 24 * time.Hour
)

type fileTokens struct {
	WriteTo     []fileTokenTarget `yaml:"write_to"`
	Redeploy    []string          `yaml:"redeploy"`
	Check       []string          `yaml:"check"`
	CheckEnv    *string           `yaml:"check_env"`
	MaxAge      *yamlDuration     `yaml:"max_age"`
	AdminPrefix *string           `yaml:"admin_prefix"`
}

type fileTokenTarget struct {
	File    *string  `yaml:"file"`
	EnvVar  *string  `yaml:"env_var"`
	Command []string `yaml:"command"`
}

type fileSecurity struct {
	PublicBaseURL *string       `yaml:"public_baseurl"`
	TLSCAFile     *string       `yaml:"tls_ca_file"`
	TLSWarnWithin *yamlDuration `yaml:"tls_warn_within"`
	BackupWithin  *yamlDuration `yaml:"backup_within"`
	AppLogs       []string      `yaml:"app_logs"`
	AlertRules    []string      `yaml:"alert_rules"`
	AlertCheck    []string      `yaml:"alert_check"`
}

var (
	envVarName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	// A localpart as Synapse accepts it for a new user, without the leading
	// underscore it refuses.
	localpartPrefix = regexp.MustCompile(`^[a-z0-9=.\-/][a-z0-9._=\-/]*$`)
)

func (l *loader) resolveTokens(p *fileProfile) {
	r := l.r
	t := Tokens{CheckEnv: DefaultTokenEnv, MaxAge: DefaultTokenMaxAge, AdminPrefix: DefaultAdminPrefix}
	r.origins["tokens"] = OriginDefault
	if f := p.Tokens; f != nil {
		r.origins["tokens"] = l.profOrigin
		seen := map[string]bool{}
		for i, ft := range f.WriteTo {
			tt, err := l.tokenTarget(ft)
			if err != nil {
				l.problem("tokens.write_to entry %d in %s: %w", i+1, l.profOrigin, err)
				continue
			}
			if tt.File != "" {
				if seen[tt.File] {
					l.problem("tokens.write_to in %s names %s twice", l.profOrigin, tt.File)
					continue
				}
				seen[tt.File] = true
			}
			t.WriteTo = append(t.WriteTo, tt)
		}
		if f.Redeploy != nil {
			if err := checkArgv(f.Redeploy); err != nil {
				l.problem("tokens.redeploy in %s: %w", l.profOrigin, err)
			}
			t.Redeploy = append([]string(nil), f.Redeploy...)
		}
		if f.Check != nil {
			if err := checkArgv(f.Check); err != nil {
				l.problem("tokens.check in %s: %w", l.profOrigin, err)
			}
			t.Check = append([]string(nil), f.Check...)
		}
		if f.CheckEnv != nil {
			t.CheckEnv = strings.TrimSpace(*f.CheckEnv)
			if !envVarName.MatchString(t.CheckEnv) {
				l.problem("tokens.check_env %q in %s is not an environment variable name", *f.CheckEnv, l.profOrigin)
			}
		}
		if f.MaxAge != nil {
			t.MaxAge = f.MaxAge.d
			if t.MaxAge <= 0 {
				l.problem("tokens.max_age in %s must be more than 0, e.g. 90d", l.profOrigin)
			}
		}
		if f.AdminPrefix != nil {
			t.AdminPrefix = strings.TrimSpace(*f.AdminPrefix)
			if !localpartPrefix.MatchString(t.AdminPrefix) || len(t.AdminPrefix) > 200 {
				l.problem("tokens.admin_prefix %q in %s: want lower-case letters, digits and ._=-/ (not starting with _), such as admin", *f.AdminPrefix, l.profOrigin)
			}
		}
	}
	r.Tokens = t
}

func (l *loader) tokenTarget(f fileTokenTarget) (TokenTarget, error) {
	var t TokenTarget
	switch {
	case f.File != nil && f.Command != nil:
		return t, fmt.Errorf("give file or command, not both")
	case f.Command != nil:
		if f.EnvVar != nil {
			return t, fmt.Errorf("env_var goes with file (an env file), not with command")
		}
		if err := checkArgv(f.Command); err != nil {
			return t, fmt.Errorf("command: %w", err)
		}
		t.Command = append([]string(nil), f.Command...)
		return t, nil
	case f.File == nil || strings.TrimSpace(*f.File) == "":
		return t, fmt.Errorf("give file (a token file, or an env file with env_var) or command (an argv list that reads the token on stdin)")
	}
	t.File = filepath.Clean(l.filePath(strings.TrimSpace(*f.File)))
	if !filepath.IsAbs(t.File) {
		return t, fmt.Errorf("file %s: give an absolute path", t.File)
	}
	if f.EnvVar != nil {
		t.EnvVar = strings.TrimSpace(*f.EnvVar)
		if !envVarName.MatchString(t.EnvVar) {
			return t, fmt.Errorf("env_var %q is not an environment variable name (such as %s)", *f.EnvVar, DefaultTokenEnv)
		}
	}
	return t, nil
}

func checkArgv(argv []string) error {
	if len(argv) == 0 || strings.TrimSpace(argv[0]) == "" {
		return fmt.Errorf("give an argv list such as [\"docker\", \"compose\", \"up\", \"-d\", \"api\"] (it runs without a shell)")
	}
	return nil
}

func (l *loader) resolveSecurity(p *fileProfile) {
	r := l.r
	s := Security{TLSWarnWithin: DefaultTLSWarnWithin, BackupWithin: DefaultBackupWithin, PublicBaseURL: r.PublicBaseURL}
	r.origins["security"] = OriginDefault
	r.origins["security.public_baseurl"] = r.origins["public_baseurl"]
	if f := p.Security; f != nil {
		r.origins["security"] = l.profOrigin
		if f.PublicBaseURL != nil {
			s.PublicBaseURL = strings.TrimSpace(*f.PublicBaseURL)
			r.origins["security.public_baseurl"] = l.profOrigin
			if err := checkHTTPURL(s.PublicBaseURL); err != nil {
				l.problem("security.public_baseurl in %s: %w", l.profOrigin, err)
			}
		}
		if f.TLSCAFile != nil {
			s.TLSCAFile = l.filePath(*f.TLSCAFile)
		}
		if f.TLSWarnWithin != nil {
			s.TLSWarnWithin = f.TLSWarnWithin.d
		}
		if f.BackupWithin != nil {
			s.BackupWithin = f.BackupWithin.d
			if s.BackupWithin <= 0 {
				l.problem("security.backup_within in %s must be more than 0, e.g. 7d", l.profOrigin)
			}
		}
		for _, p := range f.AppLogs {
			s.AppLogs = append(s.AppLogs, l.filePath(p))
		}
		for _, p := range f.AlertRules {
			s.AlertRules = append(s.AlertRules, l.filePath(p))
		}
		if f.AlertCheck != nil {
			if err := checkArgv(f.AlertCheck); err != nil {
				l.problem("security.alert_check in %s: %w", l.profOrigin, err)
			}
			s.AlertCheck = append([]string(nil), f.AlertCheck...)
		}
	}
	r.Security = s
}

// tokensRows are the config check lines of the two sections.
func (r *Resolved) tokensRows(add func(key, originKey, display string)) {
	t := r.Tokens
	targets := make([]string, 0, len(t.WriteTo)+1)
	if r.Token.File != "" {
		targets = append(targets, "file "+r.Token.File+" (synops' own)")
	}
	for _, w := range t.WriteTo {
		targets = append(targets, w.String())
	}
	add("tokens.write_to", "tokens", orNotSet(strings.Join(targets, ", ")))
	add("tokens.redeploy", "tokens", orNotSet(strings.Join(t.Redeploy, " ")))
	check := notSet
	if len(t.Check) > 0 {
		check = strings.Join(t.Check, " ") + " (token in $" + t.CheckEnv + ")"
	}
	add("tokens.check", "tokens", check)
	add("tokens.max_age", "tokens", FormatDuration(t.MaxAge))
	s := r.Security
	add("security.public_baseurl", "security.public_baseurl", orNotSet(shownURL(s.PublicBaseURL)))
	add("security.app_logs", "security", orNotSet(strings.Join(s.AppLogs, ", ")))
	alerts := strings.Join(s.AlertRules, ", ")
	if len(s.AlertCheck) > 0 {
		alerts = strings.TrimPrefix(alerts+", command "+s.AlertCheck[0], ", ")
	}
	add("security.alerts", "security", orNotSet(alerts))
}
