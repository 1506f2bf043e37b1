package synapse

import (
	"fmt"
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
	// Before anything else: a pasted ID can carry characters that do not
	// show (U+200B) or reorder what does (U+202E), so it would read as one
	// room and name another. Say which and where.
	for i, r := range []rune(id) {
		if class := RuneClass(r); class != "" {
			return bad(fmt.Sprintf("character %d is %U, %s: retype the ID instead of pasting it", i+1, r, class))
		}
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

// RuneClass says why r must not appear in an ID or reach a terminal as is,
// or "" when it may. These classes are the one list of such code points: ID
// validation here and ops/text's cleaner both use them.
func RuneClass(r rune) string {
	switch {
	case isControl(r):
		return "a control character"
	case isBidi(r):
		return "a bidirectional formatting character"
	case isInvisible(r):
		return "an invisible character"
	}
	return ""
}

// UnsafeRune reports whether r is a control, bidirectional formatting or
// invisible character (RuneClass names which).
func UnsafeRune(r rune) bool { return isControl(r) || isBidi(r) || isInvisible(r) }

// InvisibleRune reports whether r shows nothing or reorders what is shown:
// the bidirectional and invisible classes, without the controls. Two names
// that differ only by such characters look the same.
func InvisibleRune(r rune) bool { return isBidi(r) || isInvisible(r) }

// isControl: C0, DEL and C1 (escape sequences start with ESC or CSI).
func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }

func isBidi(r rune) bool {
	return r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 || // embeddings, overrides, isolates
		r == 0x200e || r == 0x200f || r == 0x061c // LRM, RLM, ALM
}

func isInvisible(r rune) bool {
	switch {
	case r >= 0x200b && r <= 0x200d, r == 0xfeff: // zero-width space, non-joiner, joiner; BOM
		return true
	case r >= 0x2060 && r <= 0x2064, r >= 0x206a && r <= 0x206f: // word joiner, invisible operators, deprecated formats
		return true
	case r == 0x2028, r == 0x2029: // line and paragraph separators
		return true
	case r >= 0xfff9 && r <= 0xfffb: // interlinear annotations
		return true
	case r >= 0xe0000 && r <= 0xe007f: // tag characters
		return true
	case r == 0x00ad, r == 0x034f, r == 0x180e: // soft hyphen, combining grapheme joiner, Mongolian vowel separator
		return true
	case r == 0x115f, r == 0x1160, r == 0x3164, r == 0xffa0: // Hangul fillers
		return true
	}
	return false
}
