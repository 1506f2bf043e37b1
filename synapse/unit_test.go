package synapse

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestSecretNeverPrints(t *testing.T) {
	s := NewSecret("syt_c2VjcmV0_abcdefghijklmnop_a1b2")
	var logs strings.Builder
	slog.New(slog.NewTextHandler(&logs, nil)).Info("x", "token", s)
	j, _ := json.Marshal(map[string]any{"t": s})
	for _, out := range []string{s.String(), fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %q %s %x", s, s, s, s, s, s),
		fmt.Sprintf("%+v", struct{ T Secret }{s}), logs.String(), string(j)} {
		if strings.Contains(out, "abcdefgh") {
			t.Errorf("secret leaked: %q", out)
		}
	}
	if got, want := s.Hint(), "syt_…a1b2"; got != want {
		t.Errorf("got hint %q, want %q", got, want)
	}
	if got := NewSecret("short").Hint(); strings.Contains(got, "ort") {
		t.Errorf("hint of a short secret shows part of it: %q", got)
	}
}

func TestValidateIDs(t *testing.T) {
	tests := []struct {
		fn    func(string) error
		in    string
		valid bool
	}{
		{ValidateUserID, "@alice:example.org", true},
		{ValidateUserID, "@alice:example.org:8448", true},
		{ValidateUserID, "@alice:127.0.0.1", true},
		{ValidateUserID, "@alice:[::1]:8448", true},
		{ValidateUserID, "@Old.Style=user/x:example.org", true},
		{ValidateUserID, "alice", false},
		{ValidateUserID, "@alice", false},
		{ValidateUserID, "@:example.org", false},
		{ValidateUserID, "@al ice:example.org", false},
		{ValidateUserID, "@alice:", false},
		{ValidateUserID, "@alice:exa_mple.org", false},
		{ValidateUserID, "@alice:example.org:port", false},
		{ValidateUserID, "@alice\x1b[31m:example.org", false},
		{ValidateUserID, "@" + strings.Repeat("a", 260) + ":x.org", false},
		{ValidateRoomID, "!abcDEF123:example.org", true},
		{ValidateRoomID, "!hV3Zj0pTeY8rD9aQ2Jc5ZtXm0aXq4Fk6Nn1r7s8u9vw", true}, // room v12: no server part
		{ValidateRoomID, "#alias:example.org", false},
		{ValidateRoomID, "!:example.org", false},
		{ValidateRoomID, "!a/b:example.org", false},
		{ValidateRoomID, "", false},
		{ValidateRoomAlias, "#general:example.org", true},
		{ValidateRoomAlias, "#general", false},
		{ValidateRoomAlias, "general:example.org", false},
		{ValidateRoomIDOrAlias, "#general:example.org", true},
		{ValidateRoomIDOrAlias, "!abc:example.org", true},
		{ValidateRoomIDOrAlias, "@abc:example.org", false},
	}
	for _, tt := range tests {
		err := tt.fn(tt.in)
		if (err == nil) != tt.valid {
			t.Errorf("%q: got err %v, want valid=%v", tt.in, err, tt.valid)
		}
		if err != nil && !strings.Contains(err.Error(), "invalid") {
			t.Errorf("%q: error %q does not say what is invalid", tt.in, err)
		}
	}
}

// A pasted ID can carry characters that do not show or that reorder what
// does: each is refused before any request, and the message names the code
// point and where it is.
func TestValidateIDsRefuseInvisible(t *testing.T) {
	tests := []struct {
		fn   func(string) error
		in   string
		want string
	}{
		{ValidateRoomID, "!abc\u202edef:example.org", "character 5 is U+202E, a bidirectional formatting character"},
		{ValidateRoomID, "!abc\u200b:example.org", "character 5 is U+200B, an invisible character"},
		{ValidateRoomID, "!\u0085abc:example.org", "character 2 is U+0085, a control character"},
		{ValidateRoomID, "!abc:example.org\u200e", "character 17 is U+200E, a bidirectional formatting character"},
		{ValidateRoomID, "!abc:exa\U000e0041mple.org", "character 9 is U+E0041, an invisible character"},
		{ValidateRoomAlias, "#gen\u00aderal:example.org", "character 5 is U+00AD, an invisible character"},
		{ValidateRoomAlias, "#\u3164:example.org", "character 2 is U+3164, an invisible character"},
		{ValidateUserID, "@ad\u200dmin:example.org", "character 4 is U+200D, an invisible character"},
		{ValidateUserID, "@admin\u2066:example.org", "character 7 is U+2066, a bidirectional formatting character"},
		{ValidateUserID, "\ufeff@admin:example.org", "character 1 is U+FEFF, an invisible character"},
		{ValidateRoomIDOrAlias, "#a\u2028b:example.org", "character 3 is U+2028, an invisible character"},
	}
	for _, tt := range tests {
		err := tt.fn(tt.in)
		var ve *ValidationError
		if !errors.As(err, &ve) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: got %v, want a ValidationError saying %q", tt.in, err, tt.want)
			continue
		}
		// The input is quoted with the character escaped, so the message
		// itself shows where it is.
		if msg := err.Error(); strings.ContainsFunc(msg, UnsafeRune) {
			t.Errorf("%q: the message %q carries the character itself", tt.in, msg)
		}
	}
	// Letters from other scripts are not refused here: Matrix allows them
	// in aliases and room IDs.
	if err := ValidateRoomAlias("#généralе:example.org"); err != nil {
		t.Errorf("a non-ASCII alias: %v", err)
	}
}

// FuzzValidateIDs: an ID a validator accepts is one that can be sent as
// is: valid UTF-8, at most 255 bytes, the right sigil, no control, bidi or
// invisible character, and one path segment that unescapes to itself.
func FuzzValidateIDs(f *testing.F) {
	for _, s := range []string{"@alice:example.org", "!abcDEF123:example.org", "#general:example.org",
		"!hV3Zj0pTeY8rD9aQ2Jc5ZtXm0aXq4Fk6Nn1r7s8u9vw", "@alice:[::1]:8448", "!a\u202eb:x.org", "#a\u200b:x.org",
		"@a:b:c", "!a/b:x.org", "#a?b#c:x.org", "@\xff:x.org", "#%2F:x.org", "!a:exa mple.org", "#é:x.org"} {
		f.Add(s)
	}
	validators := []struct {
		name  string
		fn    func(string) error
		sigil string
	}{{"user", ValidateUserID, "@"}, {"room", ValidateRoomID, "!"}, {"alias", ValidateRoomAlias, "#"}}
	f.Fuzz(func(t *testing.T, id string) {
		for _, v := range validators {
			err := v.fn(id)
			if err != nil {
				var ve *ValidationError
				if !errors.As(err, &ve) || !strings.Contains(err.Error(), "invalid") {
					t.Fatalf("%s %q: error %v is not a ValidationError saying what is invalid", v.name, id, err)
				}
				continue
			}
			switch {
			case !utf8.ValidString(id), len(id) > maxIDLen, !strings.HasPrefix(id, v.sigil):
				t.Fatalf("%s %q accepted: not UTF-8, too long or the wrong sigil", v.name, id)
			case strings.ContainsFunc(id, UnsafeRune):
				t.Fatalf("%s %q accepted with a control, bidi or invisible character", v.name, id)
			}
			seg := pathSegment(id)
			if strings.ContainsAny(seg, "/?#") {
				t.Fatalf("%s %q escapes to %q, which is not one path segment", v.name, id, seg)
			}
			if back, err := url.PathUnescape(seg); err != nil || back != id {
				t.Fatalf("%s %q escapes to %q, which unescapes to %q (%v)", v.name, id, seg, back, err)
			}
		}
	})
}

func TestRegistrationMAC(t *testing.T) {
	// Expected values computed with Python's hmac module over the same message
	// register_new_matrix_user builds.
	tests := []struct {
		r    Registration
		want string
	}{
		{Registration{Username: "bob", Password: NewSecret("pw"), Admin: true}, "e80964863d7ccb0548c8f6a3c896052d2c965c89"},
		{Registration{Username: "bob", Password: NewSecret("pw"), UserType: "bot"}, "2e56585e3ffacbdd86b0b46aacfa64271f8822b6"},
	}
	for _, tt := range tests {
		if got := registrationMAC(NewSecret("s3cret"), "abcd", tt.r); got != tt.want {
			t.Errorf("got MAC %s, want %s", got, tt.want)
		}
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://127.0.0.1:8008", "http://127.0.0.1:8008"},
		{"https://admin:hunter2@matrix.example.org", "https://[redacted]@matrix.example.org"},
		{"https://syt_tokenasuser@matrix.example.org/x", "https://[redacted]@matrix.example.org/x"},
		{"http://m:p#ss/w@127.0.0.1:9000/_synapse/metrics", "http://[redacted]@127.0.0.1:9000/_synapse/metrics"},
		{"http://u:1#2@h:7880", "http://[redacted]@h:7880"}, // a parser would read port 1, fragment 2@h:7880
		{"http://u:p@ss@h", "http://[redacted]@h"},
		{"http://h/metrics?access_token=abc123&name=x", "http://h/metrics?access_token=%5Bredacted%5D&name=x"},
		{"http://h/?api_key=abc123", "http://h/?api_key=%5Bredacted%5D"},
		{"not a url", "not a url"},
		{"user:pw@host", "(hidden: not a URL, and it has an '@')"},
		{"http://h/\x1b[2Jx", "http://h/[2Jx"},
	}
	for _, tt := range tests {
		if got := RedactURL(tt.in); got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	// New refuses a homeserver URL with credentials without repeating them.
	for _, u := range []string{"https://admin:hunter2@matrix.example.org", "ftp://admin:hunter2@matrix.example.org", "admin:hunter2@matrix"} {
		if _, err := New(u, Secret{}); err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("New(%q) = %v, want a refusal that does not show the password", u, err)
		}
	}
}

func TestPollerGrowsToItsCeiling(t *testing.T) {
	ms := time.Millisecond
	for _, c := range []struct {
		max  time.Duration
		want []time.Duration
	}{
		{500 * ms, []time.Duration{20 * ms, 30 * ms, 45 * ms, 67500 * time.Microsecond, 101250 * time.Microsecond, 151875 * time.Microsecond, 227812500, 341718750, 500 * ms, 500 * ms}},
		{0, []time.Duration{20 * ms, 30 * ms, 45 * ms}}, // 0: a 1s ceiling, far away
		{10 * ms, []time.Duration{10 * ms, 10 * ms}},    // a ceiling below the first wait
	} {
		p := Poller{Max: c.max}
		for i, want := range c.want {
			if got := p.Next(); got != want {
				t.Errorf("Max %s: wait %d is %s, want %s", c.max, i+1, got, want)
			}
		}
	}
}
