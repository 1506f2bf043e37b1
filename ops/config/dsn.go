package config

import (
	"errors"
	"net/url"
	"strings"

	"synops/synapse"
)

// DSN is a PostgreSQL connection string (postgres:// URL or key=value form). The
// raw value may hold a password, so it is a Secret; show Redacted instead.
type DSN struct {
	Raw synapse.Secret
}

// NewDSN wraps raw, trimming surrounding whitespace.
func NewDSN(raw string) DSN { return DSN{Raw: synapse.NewSecret(strings.TrimSpace(raw))} }

// Set reports whether a DSN is configured.
func (d DSN) Set() bool { return !d.Raw.IsZero() }

// HasPassword reports whether the DSN itself carries a password.
func (d DSN) HasPassword() bool {
	p, err := parseDSN(d.Raw.Reveal())
	return err == nil && p.password != ""
}

// Redacted is what may be shown: user@host:port/db, never the password and never
// the raw text (not even of a DSN that fails to parse).
func (d DSN) Redacted() string {
	if !d.Set() {
		return "(not set)"
	}
	p, err := parseDSN(d.Raw.Reveal())
	if err != nil {
		return "(invalid DSN)"
	}
	var b strings.Builder
	if p.user != "" {
		b.WriteString(p.user)
		b.WriteByte('@')
	}
	host := p.host
	if host == "" {
		host = "(default host)"
	}
	b.WriteString(host)
	if p.port != "" {
		b.WriteByte(':')
		b.WriteString(p.port)
	}
	b.WriteByte('/')
	b.WriteString(p.db)
	return b.String()
}

// String and GoString keep a DSN printed by accident redacted.
func (d DSN) String() string   { return d.Redacted() }
func (d DSN) GoString() string { return d.Redacted() }

type dsnParts struct {
	user, password, host, port, db string
}

// parseDSN splits a DSN into the parts Redacted shows. Its errors never quote the
// input: a DSN parse error could print the password.
func parseDSN(raw string) (dsnParts, error) {
	raw = strings.TrimSpace(raw)
	if strings.HasPrefix(raw, "postgres://") || strings.HasPrefix(raw, "postgresql://") {
		return parseURLDSN(raw)
	}
	if strings.Contains(raw, "://") {
		return dsnParts{}, errors.New("not a PostgreSQL DSN: want postgres://user@host:port/db")
	}
	return parseKeywordDSN(raw)
}

func parseURLDSN(raw string) (dsnParts, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url's error quotes the whole URL, password included: drop it.
		return dsnParts{}, errors.New("not a valid postgres:// URL (is a special character in the password not %-escaped?)")
	}
	var p dsnParts
	if u.User != nil {
		p.user = u.User.Username()
		p.password, _ = u.User.Password()
	}
	p.host = u.Hostname()
	p.port = u.Port()
	p.db = strings.TrimPrefix(u.Path, "/")
	if strings.ContainsAny(p.db, "@/:") {
		// "postgres://u:pa/ss@h/db" parses as host "u" and database "ss@h/db":
		// showing that database name would show part of the password.
		return dsnParts{}, errors.New("not a valid postgres:// URL (is a special character in the password not %-escaped?)")
	}
	q := u.Query()
	if v := q.Get("host"); v != "" && p.host == "" {
		p.host = v
	}
	if v := q.Get("port"); v != "" && p.port == "" {
		p.port = v
	}
	if v := q.Get("user"); v != "" && p.user == "" {
		p.user = v
	}
	if v := q.Get("password"); v != "" {
		p.password = v
	}
	if v := q.Get("dbname"); v != "" && p.db == "" {
		p.db = v
	}
	return p, nil
}

// parseKeywordDSN reads libpq's "host=/run/postgresql user=synapse password='a b'"
// form.
func parseKeywordDSN(raw string) (dsnParts, error) {
	bad := errors.New("not a valid DSN: want postgres://user@host:port/db or host=... user=... dbname=...")
	var p dsnParts
	s := raw
	for {
		s = strings.TrimLeft(s, " \t\n\r")
		if s == "" {
			break
		}
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return dsnParts{}, bad
		}
		key := strings.TrimSpace(s[:eq])
		if strings.ContainsAny(key, " \t\n\r") {
			return dsnParts{}, bad
		}
		s = strings.TrimLeft(s[eq+1:], " \t\n\r")
		var val strings.Builder
		if strings.HasPrefix(s, "'") {
			s = s[1:]
			closed := false
			for len(s) > 0 {
				c := s[0]
				s = s[1:]
				if c == '\\' && len(s) > 0 {
					val.WriteByte(s[0])
					s = s[1:]
					continue
				}
				if c == '\'' {
					closed = true
					break
				}
				val.WriteByte(c)
			}
			if !closed {
				return dsnParts{}, bad
			}
		} else {
			for len(s) > 0 && !strings.ContainsRune(" \t\n\r", rune(s[0])) {
				c := s[0]
				s = s[1:]
				if c == '\\' && len(s) > 0 {
					c = s[0]
					s = s[1:]
				}
				val.WriteByte(c)
			}
		}
		switch key {
		case "user":
			p.user = val.String()
		case "password":
			p.password = val.String()
		case "host":
			p.host = val.String()
		case "port":
			p.port = val.String()
		case "dbname":
			p.db = val.String()
		}
	}
	return p, nil
}
