package config

import (
	"fmt"
	"strings"
	"testing"
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
