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

// NewDSN wraps raw, trimming surrounding whitespace. A postgres:// URL whose
// password holds characters that should have been %-escaped ('#', '/', '?',
// '@') is stored escaped, so that pgx reads the password the operator wrote
// rather than taking part of it for a port, a path or a fragment.
func NewDSN(raw string) DSN {
	raw = strings.TrimSpace(raw)
	if norm, ok := normalizeURLDSN(raw); ok {
		raw = norm
	}
	return DSN{Raw: synapse.NewSecret(raw)}
}

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

var errURLDSN = errors.New("not a valid postgres:// URL: want postgres://user:password@host:port/db")

// parseURLDSN reads a postgres:// URL. One that is well formed is read as
// it is. One whose password holds an unescaped '#', '/', '?' or '@' is
// read with everything up to the last '@' as user and password; the strict
// reading would take the start of the password for a port
// ("postgres://u:1#x@h/db" is host u, port 1) or a database name.
func parseURLDSN(raw string) (dsnParts, error) {
	if p, ok := parseStrictURLDSN(raw); ok {
		return p, nil
	}
	u, ok := lenientURLDSN(raw)
	if !ok {
		// Never url's own error: it quotes the whole URL, password included.
		return dsnParts{}, errURLDSN
	}
	p, ok := partsOf(u)
	if !ok {
		return dsnParts{}, errURLDSN
	}
	return p, nil
}

// parseStrictURLDSN reads raw as a URL and accepts it only when nothing in it
// could be a piece of a password: no fragment, one '@' at most and only
// after user info, a numeric port.
func parseStrictURLDSN(raw string) (dsnParts, bool) {
	u, err := url.Parse(raw)
	if err != nil || u.Fragment != "" || strings.Contains(raw, "#") {
		return dsnParts{}, false
	}
	if n := strings.Count(raw, "@"); n > 1 || n == 1 && u.User == nil {
		// An '@' in the password (which pgx reads differently from url),
		// or one that is not the user info's end.
		return dsnParts{}, false
	}
	return partsOf(u)
}

// lenientURLDSN splits at the last '@': before it user and password (split at
// the first ':', each %-unescaped when it is valid escaping, else taken as
// written), after it host, port, database and query, which must parse.
func lenientURLDSN(raw string) (*url.URL, bool) {
	scheme, rest, ok := strings.Cut(raw, "://")
	at := strings.LastIndexByte(rest, '@')
	if !ok || at < 0 {
		return nil, false
	}
	u, err := url.Parse(scheme + "://" + rest[at+1:])
	if err != nil || u.Fragment != "" || u.User != nil {
		return nil, false
	}
	unescape := func(s string) string {
		if v, err := url.PathUnescape(s); err == nil {
			return v
		}
		return s
	}
	user, pass, hasPass := strings.Cut(rest[:at], ":")
	u.User = url.User(unescape(user))
	if hasPass {
		u.User = url.UserPassword(unescape(user), unescape(pass))
	}
	return u, true
}

// normalizeURLDSN rewrites a postgres:// URL that only the lenient reading
// understands into its %-escaped form; ok is false for anything else.
func normalizeURLDSN(raw string) (string, bool) {
	if !strings.HasPrefix(raw, "postgres://") && !strings.HasPrefix(raw, "postgresql://") {
		return "", false
	}
	if _, ok := parseStrictURLDSN(raw); ok {
		return "", false
	}
	u, ok := lenientURLDSN(raw)
	if !ok {
		return "", false
	}
	if _, ok := partsOf(u); !ok {
		return "", false
	}
	return u.String(), true
}

func partsOf(u *url.URL) (dsnParts, bool) {
	var p dsnParts
	if u.User != nil {
		p.user = u.User.Username()
		p.password, _ = u.User.Password()
	}
	p.host = u.Hostname()
	p.port = u.Port()
	p.db = strings.TrimPrefix(u.Path, "/")
	// An '@', '/' or ':' written as is in the path is a piece of a password
	// ("postgres://u:pa/ss@h/db" parses as host u, path /ss@h/db); written
	// %-escaped it is part of the database name.
	if strings.ContainsAny(strings.TrimPrefix(u.EscapedPath(), "/"), "@/:") || strings.Trim(p.port, "0123456789") != "" {
		return dsnParts{}, false
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
	return p, true
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
