package config

import (
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestDSNRedacted(t *testing.T) {
	const pw = "s3cr@t/pw"
	tests := []struct {
		name string
		raw  string
		want string
	}{
		{"url", "postgres://synapse:s3cr%40t%2Fpw@db.internal:5432/synapse", "synapse@db.internal:5432/synapse"},
		{"postgresql scheme", "postgresql://synapse@db/synapse?sslmode=disable", "synapse@db/synapse"},
		{"socket in query", "postgres://synapse:s3cr%40t%2Fpw@/synapse?host=%2Fvar%2Frun%2Fpostgresql&port=5433", "synapse@/var/run/postgresql:5433/synapse"},
		{"ipv6", "postgres://u@[::1]:5432/db", "u@::1:5432/db"},
		{"no host", "postgres://u@/db", "u@(default host)/db"},
		{"password in query", "postgres://u@h/db?password=s3cr%40t%2Fpw", "u@h/db"},
		{"keyword form", "host=/run/postgresql user=openmeet password='s3cr@t/pw' dbname=openmeet", "openmeet@/run/postgresql/openmeet"},
		{"keyword escaped", `user=a password=s3cr@t/pw\ x host=h port=1 dbname=d`, "a@h:1/d"},
		{"invalid url", "postgres://u:s3cr@t/pw@host:notaport/db", "(invalid DSN)"},
		{"unterminated quote", "user=u password='s3cr@t/pw", "(invalid DSN)"},
		{"other scheme", "mysql://u:s3cr@t/pw@h/db", "(invalid DSN)"},
		{"empty", "", "(not set)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDSN(tt.raw)
			if got := d.Redacted(); got != tt.want {
				t.Errorf("Redacted() = %q, want %q", got, tt.want)
			}
			for _, shown := range []string{d.Redacted(), d.String(), fmt.Sprintf("%v %+v %#v %s", d, d, d, d)} {
				if strings.Contains(shown, pw) || strings.Contains(shown, "s3cr") {
					t.Errorf("shown %q contains the password", shown)
				}
			}
			if _, err := parseDSN(tt.raw); err != nil && strings.Contains(err.Error(), "s3cr") {
				t.Errorf("parse error %q contains the password", err)
			}
		})
	}
}

// A password with characters that should have been %-escaped is read as
// the operator wrote it, never taken apart into a port, a path or a
// fragment that Redacted would then show; pgx, which connects with the DSN,
// reads the same password.
func TestDSNPasswordWithURLCharacters(t *testing.T) {
	tests := []struct {
		raw, password, want string
	}{
		{"postgres://synapse:p#ss/w@db.internal:5432/synapse", "p#ss/w", "synapse@db.internal:5432/synapse"},
		{"postgres://synapse:p/ss#w@db.internal/synapse?sslmode=disable", "p/ss#w", "synapse@db.internal/synapse"},
		{"postgresql://u:1#2@h/db", "1#2", "u@h/db"}, // strictly: host u, port 1
		{"postgres://u:12/34@h:5433/db", "12/34", "u@h:5433/db"},
		{"postgres://u:1?x@h/db", "1?x", "u@h/db"}, // strictly: host u, port 1, query x@h/db
		{"postgres://u:p@ss@h/db", "p@ss", "u@h/db"},
		{"postgres://u:50%off#@h/db", "50%off#", "u@h/db"}, // not valid %-escaping: taken as written
		{"postgres://u:p%23ss%2Fw@h/db", "p#ss/w", "u@h/db"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			d := NewDSN(tt.raw)
			p, err := parseDSN(d.Raw.Reveal())
			if err != nil || p.password != tt.password {
				t.Fatalf("password %q, %v; want %q", p.password, err, tt.password)
			}
			if got := d.Redacted(); got != tt.want {
				t.Errorf("Redacted() = %q, want %q", got, tt.want)
			}
			cfg, err := pgx.ParseConfig(d.Raw.Reveal())
			if err != nil {
				t.Fatalf("pgx cannot parse the stored DSN: %v", err)
			}
			if cfg.Password != tt.password || cfg.User != p.user || cfg.Database != p.db || cfg.Host != p.host {
				t.Errorf("pgx reads user %q password %q host %q db %q; want %q %q %q %q",
					cfg.User, cfg.Password, cfg.Host, cfg.Database, p.user, tt.password, p.host, p.db)
			}
			for _, shown := range []string{d.Redacted(), fmt.Sprintf("%v %+v %#v", d, d, d)} {
				if leaksPart(shown, tt.password) {
					t.Errorf("shown %q holds part of the password %q", shown, tt.password)
				}
			}
		})
	}
}

// leaksPart reports whether shown holds the password or a piece of it that
// a wrong split would leave: the text before or after a '#', '/', '?' or '@'.
func leaksPart(shown, password string) bool {
	if strings.Contains(shown, password) {
		return true
	}
	for _, piece := range strings.FieldsFunc(password, func(r rune) bool { return strings.ContainsRune("#/?@", r) }) {
		if len(piece) >= 2 && strings.Contains(shown, piece) {
			return true
		}
	}
	return false
}

func TestDSNSetAndPassword(t *testing.T) {
	tests := []struct {
		raw          string
		set, hasPass bool
	}{
		{"", false, false},
		{"postgres://u@h/db", true, false},
		{"postgres://u:p@h/db", true, true},
		{"host=h user=u password=p dbname=d", true, true},
	}
	for _, tt := range tests {
		d := NewDSN(tt.raw)
		if got := d.Set(); got != tt.set {
			t.Errorf("NewDSN(%q).Set() = %v, want %v", tt.raw, got, tt.set)
		}
		if got := d.HasPassword(); got != tt.hasPass {
			t.Errorf("NewDSN(%q).HasPassword() = %v, want %v", tt.raw, got, tt.hasPass)
		}
	}
}
