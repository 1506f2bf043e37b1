package synapse

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
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
