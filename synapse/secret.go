package synapse

import (
	"fmt"
	"log/slog"
)

// Secret holds an access token, password or shared secret. Every way Go has of
// printing a value prints "[redacted]"; Reveal is the one way to read it, and the
// few call sites that need the raw value (the Authorization header, an HMAC, a
// child's environment) call it explicitly.
type Secret struct{ v string }

// NewSecret wraps s. Leading and trailing whitespace (a newline at the end of a
// token file) is the caller's to strip: the secret is kept exactly.
func NewSecret(s string) Secret { return Secret{v: s} }

// Reveal returns the raw value. Keep call sites few and obvious.
func (s Secret) Reveal() string { return s.v }

// IsZero reports whether no secret is held.
func (s Secret) IsZero() bool { return s.v == "" }

func (s Secret) String() string   { return "[redacted]" }
func (s Secret) GoString() string { return "[redacted]" }

// LogValue keeps the secret out of slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// Format covers %v, %+v, %#v, %q, %x and friends.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte("[redacted]")) }

// MarshalText keeps the secret out of JSON and YAML encodings.
func (s Secret) MarshalText() ([]byte, error) { return []byte("[redacted]"), nil }

// Hint is what an operator may see on screen: the token's prefix and its last four
// characters ("syt_…a1b2"), enough to tell two tokens apart and no more.
func (s Secret) Hint() string {
	v := s.v
	if v == "" {
		return "(none)"
	}
	if len(v) < 12 {
		return "…" // too short to show any of it safely
	}
	prefix := ""
	if len(v) > 4 && v[3] == '_' {
		prefix = v[:4] // syt_, syr_, mct_
	}
	return prefix + "…" + v[len(v)-4:]
}
