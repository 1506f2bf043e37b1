package synapse

import (
	"net/url"
	"strings"
	"unicode/utf8"
)

// Matrix identifiers are at most 255 bytes (spec: "Common Identifier Format").
const maxIDLen = 255

// ValidateUserID checks @localpart:server. The localpart accepts the historical
// grammar (any printable ASCII but ':'), because old accounts use it.
func ValidateUserID(id string) error {
	return validateSigilID("user ID", '@', id, true, func(local string) string {
		for _, r := range local {
			if r < 0x21 || r > 0x7e || r == ':' {
				return "the part before the server name may only contain printable ASCII (no spaces or ':')"
			}
		}
		return ""
	})
}

// ValidateRoomID checks !opaque:server, and also the server-less !opaque form
// that room version 12 uses.
func ValidateRoomID(id string) error {
	return validateSigilID("room ID", '!', id, false, opaqueLocal)
}

// ValidateRoomAlias checks #alias:server.
func ValidateRoomAlias(alias string) error {
	return validateSigilID("room alias", '#', alias, true, opaqueLocal)
}

// ValidateRoomIDOrAlias accepts either form, for endpoints that take both.
func ValidateRoomIDOrAlias(s string) error {
	if strings.HasPrefix(s, "#") {
		return ValidateRoomAlias(s)
	}
	return ValidateRoomID(s)
}

func opaqueLocal(local string) string {
	for _, r := range local {
		if r < 0x21 || r == 0x7f || r == ':' || r == '/' {
			return "contains a space, control character, '/' or ':'"
		}
	}
	return ""
}

func validateSigilID(what string, sigil byte, id string, needServer bool, checkLocal func(string) string) error {
	bad := func(why string) error { return &ValidationError{What: what, Input: id, Why: why} }
	if id == "" {
		return bad("it is empty")
	}
	if len(id) > maxIDLen {
		return bad("longer than 255 bytes")
	}
	if !utf8.ValidString(id) {
		return bad("not valid UTF-8")
	}
	if id[0] != sigil {
		return bad("must start with '" + string(sigil) + "'" + exampleFor(sigil))
	}
	rest := id[1:]
	local, server, hasServer := strings.Cut(rest, ":")
	if local == "" {
		return bad("nothing between '" + string(sigil) + "' and the server name" + exampleFor(sigil))
	}
	if why := checkLocal(local); why != "" {
		return bad(why)
	}
	if !hasServer {
		if needServer {
			return bad("missing ':server.name'" + exampleFor(sigil))
		}
		return nil
	}
	if why := checkServerName(server); why != "" {
		return bad(why)
	}
	return nil
}

func exampleFor(sigil byte) string {
	switch sigil {
	case '@':
		return " (like @alice:example.org)"
	case '!':
		return " (like !abcdef:example.org)"
	case '#':
		return " (like #general:example.org)"
	}
	return ""
}

// checkServerName follows the spec's server name grammar: a DNS name, an IPv4
// address or a bracketed IPv6 literal, with an optional :port.
func checkServerName(s string) string {
	if s == "" {
		return "the server name after ':' is empty"
	}
	host, port := s, ""
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "IPv6 server name is missing ']'"
		}
		host, port = s[1:end], strings.TrimPrefix(s[end+1:], ":")
		if s[end+1:] != "" && !strings.HasPrefix(s[end+1:], ":") {
			return "unexpected text after IPv6 address"
		}
		for _, r := range host {
			if !(r == ':' || r == '.' || isHex(r)) {
				return "IPv6 server name has characters other than hex digits, ':' and '.'"
			}
		}
	} else {
		if i := strings.LastIndexByte(s, ':'); i >= 0 {
			host, port = s[:i], s[i+1:]
			if port == "" {
				return "empty port after ':'"
			}
		}
		if host == "" {
			return "the server name after ':' is empty"
		}
		for _, r := range host {
			if !(r == '-' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
				return "the server name may only contain letters, digits, '-' and '.'"
			}
		}
	}
	if port != "" {
		if len(port) > 5 {
			return "port is longer than 5 digits"
		}
		for _, r := range port {
			if r < '0' || r > '9' {
				return "port is not a number"
			}
		}
	}
	return ""
}

func isHex(r rune) bool {
	return r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F'
}

// pathSegment escapes one path element: '#', '!', '@', ':' and '/' all become safe.
func pathSegment(s string) string { return url.PathEscape(s) }
