package synapse_test

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"synops/synapse"
	"synops/synapse/synapsetest"
)

// register creates a plain account for one test.
func register(t *testing.T, localpart string) synapsetest.SeededUser {
	t.Helper()
	r, err := bed.Synapse.Register(ctxT(t), localpart, false)
	if err != nil {
		t.Fatalf("register %s: %v", localpart, err)
	}
	return synapsetest.SeededUser{UserID: r.UserID, Token: r.AccessToken}
}

// login logs localpart in with its test password on a named device.
func login(t *testing.T, localpart, device string) (*synapse.LoginResult, error) {
	t.Helper()
	anon, err := synapse.New(bed.Synapse.BaseURL, synapse.Secret{}, synapse.WithRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	return anon.Login(ctxT(t), localpart, synapsetest.Password(localpart), device)
}

func mustLogin(t *testing.T, localpart, device string) *synapse.LoginResult {
	t.Helper()
	r, err := login(t, localpart, device)
	if err != nil {
		t.Fatalf("login %s: %v", localpart, err)
	}
	return r
}

func localpartOf(id string) string { l, _, _ := strings.Cut(id[1:], ":"); return l }

// tokenWorks asks whoami with tok: nil when it works.
func tokenErr(t *testing.T, tok synapse.Secret) error {
	t.Helper()
	_, err := bed.Synapse.Client(synapse.WithRetries(0)).WithToken(tok).Whoami(ctxT(t))
	return err
}

func names(us []synapse.ListedUser) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = u.Name
	}
	return out
}

func TestListUsersFiltersAndPages(t *testing.T) {
	ctx := ctxT(t)
	c := bed.Synapse.Client()
	seeded, err := bed.Synapse.SeedUsers(ctx, "ulist", 23)
	if err != nil {
		t.Fatal(err)
	}
	server := ":" + bed.Synapse.ServerName
	if err := c.SetAdmin(ctx, "@ulist2"+server, true); err != nil {
		t.Fatal(err)
	}
	if err := c.DeactivateUser(ctx, "@ulist3"+server, false); err != nil {
		t.Fatal(err)
	}
	if err := c.SetLocked(ctx, "@ulist4"+server, true); err != nil {
		t.Fatal(err)
	}
	dn := "Zebra Keeper"
	if _, err := c.ModifyUser(ctx, "@ulist5"+server, synapse.UserChanges{DisplayName: &dn}); err != nil {
		t.Fatal(err)
	}

	// Every unlocked ulist account, deactivated ones included (v3 filters
	// only when asked), through pages of 5: Synapse leaves locked ones out.
	all, err := c.AllUsers(ctx, synapse.ListUsersOptions{Name: "ulist", PageSize: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(seeded)-1 || !slices.Contains(names(all), "@ulist3"+server) || slices.Contains(names(all), "@ulist4"+server) {
		t.Errorf("got %d users %v, want the %d unlocked ones", len(all), names(all), len(seeded)-1)
	}
	active, err := c.AllUsers(ctx, synapse.ListUsersOptions{Name: "ulist", PageSize: 5, Deactivated: ptrTo(false), IncludeLocked: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(active) != len(seeded)-1 || slices.Contains(names(active), "@ulist3"+server) || !slices.Contains(names(active), "@ulist4"+server) {
		t.Errorf("got %d users %v, want the %d active ones, the locked one too", len(active), names(active), len(seeded)-1)
	}
	p, err := c.ListUsersPage(ctx, synapse.ListUsersOptions{Name: "ulist", PageSize: 5}, "")
	if err != nil {
		t.Fatal(err)
	}
	if p.Total != len(seeded)-1 || !p.HasMore || p.NextToken != "5" || len(p.Users) != 5 {
		t.Errorf("first page: total %d more %v next %q users %d; want %d true \"5\" 5", p.Total, p.HasMore, p.NextToken, len(p.Users), len(seeded)-1)
	}

	// Synapse sorts by the whole ID, so "@ulist1:" comes after "@ulist19:"
	// (':' sorts after the digits).
	tests := []struct {
		name string
		o    synapse.ListUsersOptions
		want []string // localparts, in order
	}{
		{"admins", synapse.ListUsersOptions{Name: "ulist", Admins: ptrTo(true)}, []string{"ulist2"}},
		{"only deactivated", synapse.ListUsersOptions{Name: "ulist", Deactivated: ptrTo(true)}, []string{"ulist3"}},
		{"name prefix", synapse.ListUsersOptions{Name: "ulist1"}, []string{"ulist10", "ulist11", "ulist12", "ulist13", "ulist14", "ulist15", "ulist16", "ulist17", "ulist18", "ulist19", "ulist1"}},
		{"display name", synapse.ListUsersOptions{Name: "zebra"}, []string{"ulist5"}},
		{"user ID substring", synapse.ListUsersOptions{UserID: "ulist2"}, []string{"ulist20", "ulist21", "ulist22", "ulist23", "ulist2"}},
		{"reverse", synapse.ListUsersOptions{Name: "ulist2", Reverse: true}, []string{"ulist2", "ulist23", "ulist22", "ulist21", "ulist20"}},
		{"not admins, both activities", synapse.ListUsersOptions{UserID: "@ulist3", Admins: ptrTo(false), IncludeLocked: true}, []string{"ulist3"}},
	}
	for _, tt := range tests {
		got, err := c.AllUsers(ctx, tt.o)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		var lps []string
		for _, u := range got {
			lps = append(lps, localpartOf(u.Name))
		}
		if !slices.Equal(lps, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, lps, tt.want)
		}
	}
	locked, err := c.AllUsers(ctx, synapse.ListUsersOptions{UserID: "@ulist4:", IncludeLocked: true})
	if err != nil || len(locked) != 1 || !locked[0].Locked {
		t.Errorf("locked user with IncludeLocked: %+v %v", locked, err)
	}
	hidden, err := c.AllUsers(ctx, synapse.ListUsersOptions{UserID: "@ulist4:"})
	if err != nil || len(hidden) != 0 {
		t.Errorf("Synapse lists a locked user without locked=true: %+v %v", hidden, err)
	}
	// The fields of a list entry, as Synapse sends them.
	deact, err := c.AllUsers(ctx, synapse.ListUsersOptions{UserID: "@ulist3:", Deactivated: ptrTo(true)})
	if err != nil || len(deact) != 1 {
		t.Fatalf("%+v %v", deact, err)
	}
	u := deact[0]
	if !u.Deactivated || u.Admin || u.IsGuest || u.Locked || u.CreationTS < time.Now().Add(-time.Hour).UnixMilli() || u.CreationTS > time.Now().Add(time.Minute).UnixMilli() {
		t.Errorf("list entry %+v: want deactivated, not admin, created in the last hour (creation_ts in ms)", u)
	}
	admin, err := c.AllUsers(ctx, synapse.ListUsersOptions{UserID: "@ulist2:"})
	if err != nil || len(admin) != 1 || !admin[0].Admin || admin[0].DisplayName != "ulist2" {
		t.Errorf("admin entry %+v %v: want admin with the default display name", admin, err)
	}

	for _, bad := range []synapse.ListUsersOptions{{OrderBy: "size"}, {PageSize: 10001}, {PageSize: -1}, {Name: "a", UserID: "b"}} {
		if _, err := c.ListUsersPage(ctx, bad, ""); !isValidation(err) {
			t.Errorf("options %+v: got %v, want a validation error", bad, err)
		}
	}
	if _, err := c.ListUsersPage(ctx, synapse.ListUsersOptions{}, "-1"); !isValidation(err) {
		t.Errorf("negative token: got %v, want a validation error", err)
	}
	// Guests left out, and the accounts without a user type left out.
	if got, err := c.AllUsers(ctx, synapse.ListUsersOptions{Name: "ulist", Guests: ptrTo(false)}); err != nil || len(got) != len(seeded)-1 {
		t.Errorf("guests=false: %d users, %v", len(got), err)
	}
	if got, err := c.AllUsers(ctx, synapse.ListUsersOptions{Name: "ulist", NotUserTypes: []string{""}}); err != nil || len(got) != 0 {
		t.Errorf("not_user_type=\"\" (no untyped account): %v %v", names(got), err)
	}
	if got, err := c.AllUsers(ctx, synapse.ListUsersOptions{Name: "ulist", NotUserTypes: []string{"bot"}}); err != nil || len(got) != len(seeded)-1 {
		t.Errorf("not_user_type=bot keeps untyped accounts: %d, %v", len(got), err)
	}
	// Every order Synapse documents is accepted by the real server.
	for _, o := range []string{"name", "displayname", "is_guest", "admin", "deactivated", "user_type", "avatar_url",
		"shadow_banned", "creation_ts", "last_seen_ts", "locked"} {
		if _, err := c.ListUsersPage(ctx, synapse.ListUsersOptions{OrderBy: o, PageSize: 1}, ""); err != nil {
			t.Errorf("order_by %s: %v", o, err)
		}
	}
}

func ptrTo[T any](v T) *T { return &v }

func isValidation(err error) bool {
	var ve *synapse.ValidationError
	return errors.As(err, &ve)
}

func TestUserDetailsDevicesRoomsWhois(t *testing.T) {
	ctx := ctxT(t)
	c := bed.Synapse.Client()
	u := register(t, "udetail")
	a := mustLogin(t, "udetail", "PHONE")
	b := mustLogin(t, "udetail", "LAPTOP")
	room, err := bed.Synapse.CreateRoom(ctx, synapsetest.RoomSpec{Name: "udetail room", Members: []synapsetest.SeededUser{u}})
	if err != nil {
		t.Fatal(err)
	}
	left, err := bed.Synapse.CreateRoom(ctx, synapsetest.RoomSpec{Name: "udetail left", Members: []synapsetest.SeededUser{u}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WithToken(u.Token).LeaveRoom(ctx, left); err != nil {
		t.Fatal(err)
	}

	d, err := c.User(ctx, u.UserID)
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != u.UserID || d.Admin || d.Deactivated || d.Locked || d.Suspended || d.Erased || d.AppserviceID != "" || d.DisplayName != "udetail" {
		t.Errorf("details %+v", d)
	}
	if now := time.Now().Unix(); d.CreationTS < now-3600 || d.CreationTS > now+60 {
		t.Errorf("creation_ts %d: want seconds within the last hour (now %d)", d.CreationTS, now)
	}

	devs, err := c.UserDevices(ctx, u.UserID)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, dv := range devs {
		ids = append(ids, dv.DeviceID)
	}
	for _, want := range []string{"PHONE", "LAPTOP"} {
		if !slices.Contains(ids, want) {
			t.Errorf("devices %v lack %s", ids, want)
		}
	}
	if err := c.DeleteDevice(ctx, u.UserID, "PHONE"); err != nil {
		t.Fatal(err)
	}
	if err := tokenErr(t, a.AccessToken); !errors.Is(err, synapse.ErrUnknownToken) {
		t.Errorf("the deleted device's token: got %v, want M_UNKNOWN_TOKEN", err)
	}
	if err := tokenErr(t, b.AccessToken); err != nil {
		t.Errorf("another device's token stopped working: %v", err)
	}
	if err := c.DeleteDevices(ctx, u.UserID, []string{"LAPTOP", "NO-SUCH-DEVICE"}); err != nil {
		t.Fatal(err)
	}
	if err := tokenErr(t, b.AccessToken); !errors.Is(err, synapse.ErrUnknownToken) {
		t.Errorf("LAPTOP's token after DeleteDevices: got %v, want M_UNKNOWN_TOKEN", err)
	}
	devs, _ = c.UserDevices(ctx, u.UserID)
	for _, dv := range devs {
		if dv.DeviceID == "PHONE" || dv.DeviceID == "LAPTOP" {
			t.Errorf("device %s still listed", dv.DeviceID)
		}
	}

	joined, err := c.UserJoinedRooms(ctx, u.UserID)
	if err != nil || !slices.Equal(joined, []string{room}) {
		t.Errorf("joined rooms %v %v, want [%s]", joined, err, room)
	}
	ms, err := c.UserMemberships(ctx, u.UserID)
	if err != nil || ms[room] != "join" || ms[left] != "leave" {
		t.Errorf("memberships %v %v, want %s join and %s leave", ms, err, room, left)
	}

	// The user's requests are recorded (in batches) with their address.
	deadline := time.Now().Add(20 * time.Second)
	for {
		conns, err := c.Whois(ctx, u.UserID)
		if err != nil {
			t.Fatal(err)
		}
		if len(conns) > 0 {
			if conns[0].IP != "127.0.0.1" || conns[0].LastSeen <= 0 {
				t.Errorf("whois %+v: want 127.0.0.1 with a last-seen time", conns)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("whois listed no connection after 20s")
		}
		_, _ = c.WithToken(u.Token).Whoami(ctx)
		time.Sleep(500 * time.Millisecond)
	}
}

func TestModifyUser(t *testing.T) {
	ctx := ctxT(t)
	c := bed.Synapse.Client()
	u := register(t, "umodify")
	dn, av := "Modified \x1b[31mName", "mxc://"+bed.Synapse.ServerName+"/abcdef"
	got, err := c.ModifyUser(ctx, u.UserID, synapse.UserChanges{DisplayName: &dn, AvatarURL: &av, Admin: ptrTo(true)})
	if err != nil {
		t.Fatal(err)
	}
	read, err := c.User(ctx, u.UserID)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range []*synapse.User{got, read} {
		if x.DisplayName != dn || x.AvatarURL != av || !x.Admin {
			t.Errorf("after the change: %+v", x)
		}
	}
	if err := c.SetAdmin(ctx, u.UserID, false); err != nil {
		t.Fatal(err)
	}
	if read, _ = c.User(ctx, u.UserID); read.Admin {
		t.Error("SetAdmin(false) left the admin flag")
	}
	if err := c.SetLocked(ctx, u.UserID, true); err != nil {
		t.Fatal(err)
	}
	if read, _ = c.User(ctx, u.UserID); !read.Locked || read.DisplayName != dn {
		t.Errorf("after locking: %+v (the display name must stay)", read)
	}
	if err := c.SetLocked(ctx, u.UserID, false); err != nil {
		t.Fatal(err)
	}
	if read, _ = c.User(ctx, u.UserID); read.Locked {
		t.Error("still locked after unlocking")
	}

	// A password change through the same call, keeping the sessions.
	sess := mustLogin(t, "umodify", "KEPT")
	pw := synapse.NewSecret("modified-password-" + randSuffix())
	if _, err := c.ModifyUser(ctx, u.UserID, synapse.UserChanges{Password: &pw, LogoutDevices: ptrTo(false)}); err != nil {
		t.Fatal(err)
	}
	if err := tokenErr(t, sess.AccessToken); err != nil {
		t.Errorf("logout_devices false ended a session: %v", err)
	}
	anon, _ := synapse.New(bed.Synapse.BaseURL, synapse.Secret{}, synapse.WithRetries(0))
	if _, err := anon.Login(ctx, "umodify", pw, ""); err != nil {
		t.Errorf("the modified password does not log in: %v", err)
	}
	if _, err := c.ModifyUser(ctx, u.UserID, synapse.UserChanges{Password: &pw}); err != nil {
		t.Fatal(err)
	}
	if err := tokenErr(t, sess.AccessToken); !errors.Is(err, synapse.ErrUnknownToken) {
		t.Errorf("a password change with the default logout: the session answers %v, want M_UNKNOWN_TOKEN", err)
	}

	// PUT /v2/users creates a missing account; ModifyUser must not.
	ghost := "@umodify-ghost:" + bed.Synapse.ServerName
	if _, err := c.ModifyUser(ctx, ghost, synapse.UserChanges{DisplayName: &dn}); !errors.Is(err, synapse.ErrNotFound) {
		t.Errorf("modify an unknown user: got %v, want M_NOT_FOUND", err)
	}
	if err := c.SetLocked(ctx, ghost, true); !errors.Is(err, synapse.ErrNotFound) {
		t.Errorf("lock an unknown user: got %v, want M_NOT_FOUND", err)
	}
	if _, err := c.User(ctx, ghost); !errors.Is(err, synapse.ErrNotFound) {
		t.Errorf("the unknown user exists now: %v", err)
	}
	// Synapse will not let the admin demote themself.
	if err := c.SetAdmin(ctx, bed.Synapse.AdminUserID, false); err == nil || !strings.Contains(err.Error(), "demote yourself") {
		t.Errorf("self-demotion: got %v", err)
	}
}

func TestResetPassword(t *testing.T) {
	ctx := ctxT(t)
	c := bed.Synapse.Client()
	u := register(t, "upasswd")
	keep := mustLogin(t, "upasswd", "KEEP")
	pw := synapse.NewSecret("new-password-" + randSuffix())
	if err := c.ResetPassword(ctx, u.UserID, pw, false); err != nil {
		t.Fatal(err)
	}
	if err := tokenErr(t, keep.AccessToken); err != nil {
		t.Errorf("reset without logout ended a session: %v", err)
	}
	anon, _ := synapse.New(bed.Synapse.BaseURL, synapse.Secret{}, synapse.WithRetries(0))
	if _, err := anon.Login(ctx, "upasswd", pw, ""); err != nil {
		t.Errorf("the new password does not log in: %v", err)
	}
	pw2 := synapse.NewSecret("newer-password-" + randSuffix())
	if err := c.ResetPassword(ctx, u.UserID, pw2, true); err != nil {
		t.Fatal(err)
	}
	if err := tokenErr(t, keep.AccessToken); !errors.Is(err, synapse.ErrUnknownToken) {
		t.Errorf("reset with logout: the old session answers %v, want M_UNKNOWN_TOKEN", err)
	}
	if _, err := anon.Login(ctx, "upasswd", pw, ""); !errors.Is(err, synapse.ErrForbidden) {
		t.Errorf("the old password: got %v, want M_FORBIDDEN", err)
	}
	if _, err := anon.Login(ctx, "upasswd", pw2, ""); err != nil {
		t.Errorf("the newest password does not log in: %v", err)
	}
	if err := c.ResetPassword(ctx, u.UserID, synapse.Secret{}, true); !isValidation(err) {
		t.Errorf("empty password: got %v, want a validation error", err)
	}
}

func randSuffix() string { return fmt.Sprintf("%d", time.Now().UnixNano()) }

// TestLockedAccountAndPuppet checks what the disable action builds on: a
// locked account cannot log in or use its tokens, a login-as token of it
// can still log it out everywhere (and survives that, owned by the admin),
// and a suspended account may leave rooms but not join them.
func TestLockedAccountAndPuppet(t *testing.T) {
	ctx := ctxT(t)
	c := bed.Synapse.Client()
	u := register(t, "ulocked")
	dev := mustLogin(t, "ulocked", "DESK")
	room, err := bed.Synapse.CreateRoom(ctx, synapsetest.RoomSpec{Name: "ulocked room", Public: true, Members: []synapsetest.SeededUser{u}})
	if err != nil {
		t.Fatal(err)
	}
	other, err := bed.Synapse.CreateRoom(ctx, synapsetest.RoomSpec{Name: "ulocked other", Public: true})
	if err != nil {
		t.Fatal(err)
	}

	// Suspended: joining is refused, leaving is not (as the user, through a
	// login-as token).
	if err := c.SetSuspended(ctx, u.UserID, true); err != nil {
		t.Fatal(err)
	}
	if d, _ := c.User(ctx, u.UserID); !d.Suspended {
		t.Error("details do not say suspended")
	}
	puppet, err := c.LoginAs(ctx, u.UserID, time.Now().Add(5*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	pc := c.WithToken(puppet)
	if w, err := pc.Whoami(ctx); err != nil || w.UserID != u.UserID || w.DeviceID != "" {
		t.Errorf("login-as token: whoami %+v %v, want %s without a device", w, err, u.UserID)
	}
	if err := bed.Synapse.JoinRoom(ctx, u.Token, other); err == nil || !strings.Contains(err.Error(), "M_USER_SUSPENDED") {
		t.Errorf("a suspended user joined a room: %v", err)
	}
	if err := pc.LeaveRoom(ctx, room); err != nil {
		t.Errorf("a suspended user cannot leave: %v", err)
	}
	if joined, _ := c.UserJoinedRooms(ctx, u.UserID); len(joined) != 0 {
		t.Errorf("still joined to %v", joined)
	}
	if err := c.SetSuspended(ctx, u.UserID, false); err != nil {
		t.Fatal(err)
	}
	if d, _ := c.User(ctx, u.UserID); d.Suspended {
		t.Error("still suspended")
	}

	// Locked: no login, no request with its tokens, not even the puppet's,
	// except the logout ones.
	if err := c.SetLocked(ctx, u.UserID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := login(t, "ulocked", "NEW"); !errors.Is(err, synapse.ErrUserLocked) {
		t.Errorf("login of a locked user: got %v, want M_USER_LOCKED", err)
	}
	if err := tokenErr(t, dev.AccessToken); !errors.Is(err, synapse.ErrUserLocked) {
		t.Errorf("a locked user's token: got %v, want M_USER_LOCKED", err)
	}
	if err := pc.LeaveRoom(ctx, other); !errors.Is(err, synapse.ErrUserLocked) {
		t.Errorf("a login-as token of a locked user: got %v, want M_USER_LOCKED", err)
	}
	if err := pc.LogoutAll(ctx); err != nil {
		t.Fatalf("logout/all of a locked user through a login-as token: %v", err)
	}
	if devs, _ := c.UserDevices(ctx, u.UserID); len(devs) != 0 {
		t.Errorf("devices left after logout/all: %+v", devs)
	}
	if err := tokenErr(t, dev.AccessToken); !errors.Is(err, synapse.ErrUnknownToken) {
		t.Errorf("the device's token after logout/all: got %v, want M_UNKNOWN_TOKEN", err)
	}
	if _, err := c.Whoami(ctx); err != nil {
		t.Fatalf("the admin's own token died with the user's logout/all: %v", err)
	}
	// The login-as token is the admin's: it survived, and logging it out ends it.
	if err := pc.Logout(ctx); err != nil {
		t.Errorf("logout of the login-as token: %v", err)
	}
	if err := c.SetLocked(ctx, u.UserID, false); err != nil {
		t.Fatal(err)
	}
	if err := tokenErr(t, puppet); !errors.Is(err, synapse.ErrUnknownToken) {
		t.Errorf("the login-as token after its logout: got %v, want M_UNKNOWN_TOKEN", err)
	}
	if _, err := login(t, "ulocked", "AGAIN"); err != nil {
		t.Errorf("login after unlocking: %v", err)
	}
}

func TestLoginAsExpiry(t *testing.T) {
	ctx := ctxT(t)
	c := bed.Synapse.Client()
	u := register(t, "uloginas")
	tok, err := c.LoginAs(ctx, u.UserID, time.Now().Add(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := tokenErr(t, tok); err != nil {
		t.Fatalf("fresh login-as token: %v", err)
	}
	time.Sleep(2500 * time.Millisecond)
	if err := tokenErr(t, tok); !errors.Is(err, synapse.ErrUnknownToken) {
		t.Errorf("expired login-as token: got %v, want M_UNKNOWN_TOKEN", err)
	}
	if _, err := c.LoginAs(ctx, bed.Synapse.AdminUserID, time.Time{}); err == nil || !strings.Contains(err.Error(), "login as self") {
		t.Errorf("login as the admin itself: got %v", err)
	}
	if _, err := c.LoginAs(ctx, "@uloginas-nobody:"+bed.Synapse.ServerName, time.Time{}); !errors.Is(err, synapse.ErrNotFound) {
		t.Errorf("login as an unknown user: got %v, want M_NOT_FOUND", err)
	}
}

func TestSuspendShadowBanRateLimit(t *testing.T) {
	ctx := ctxT(t)
	c := bed.Synapse.Client()
	u := register(t, "uflags")
	if err := c.SetShadowBanned(ctx, u.UserID, true); err != nil {
		t.Fatal(err)
	}
	if d, _ := c.User(ctx, u.UserID); !d.ShadowBan {
		t.Error("not shadow-banned after the ban")
	}
	if err := c.SetShadowBanned(ctx, u.UserID, false); err != nil {
		t.Fatal(err)
	}
	if d, _ := c.User(ctx, u.UserID); d.ShadowBan {
		t.Error("still shadow-banned")
	}

	if rl, err := c.RateLimitOverride(ctx, u.UserID); err != nil || rl != nil {
		t.Errorf("no override yet: got %+v %v, want nil", rl, err)
	}
	set, err := c.SetRateLimitOverride(ctx, u.UserID, synapse.RateLimit{MessagesPerSecond: 0, BurstCount: 0})
	if err != nil || *set != (synapse.RateLimit{}) {
		t.Errorf("set 0/0: %+v %v", set, err)
	}
	if _, err := c.SetRateLimitOverride(ctx, u.UserID, synapse.RateLimit{MessagesPerSecond: 5, BurstCount: 20}); err != nil {
		t.Fatal(err)
	}
	if rl, err := c.RateLimitOverride(ctx, u.UserID); err != nil || rl == nil || *rl != (synapse.RateLimit{MessagesPerSecond: 5, BurstCount: 20}) {
		t.Errorf("read back: %+v %v, want 5/20", rl, err)
	}
	if err := c.DeleteRateLimitOverride(ctx, u.UserID); err != nil {
		t.Fatal(err)
	}
	if rl, err := c.RateLimitOverride(ctx, u.UserID); err != nil || rl != nil {
		t.Errorf("after delete: %+v %v, want nil", rl, err)
	}
	if _, err := c.SetRateLimitOverride(ctx, u.UserID, synapse.RateLimit{MessagesPerSecond: -1}); !isValidation(err) {
		t.Errorf("negative rate: got %v, want a validation error", err)
	}
	if err := c.SetSuspended(ctx, "@uflags-nobody:"+bed.Synapse.ServerName, true); !errors.Is(err, synapse.ErrNotFound) {
		t.Errorf("suspend an unknown user: got %v, want M_NOT_FOUND", err)
	}
}

func TestDeactivateEraseAndRedact(t *testing.T) {
	ctx := ctxT(t)
	c := bed.Synapse.Client()
	u := register(t, "uerase")
	dn, av := "Erase Me", "mxc://"+bed.Synapse.ServerName+"/avatar"
	if _, err := c.ModifyUser(ctx, u.UserID, synapse.UserChanges{DisplayName: &dn, AvatarURL: &av}); err != nil {
		t.Fatal(err)
	}
	room, err := bed.Synapse.CreateRoom(ctx, synapsetest.RoomSpec{Name: "uerase room", Members: []synapsetest.SeededUser{u}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := bed.Synapse.SendText(ctx, u.Token, room, fmt.Sprintf("uerase says %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := bed.Synapse.UploadMedia(ctx, u.Token, "a.bin", make([]byte, 3000)); err != nil {
		t.Fatal(err)
	}
	if _, err := bed.Synapse.UploadMedia(ctx, u.Token, "b.bin", make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	ms, err := c.UserMediaStats(ctx, u.UserID)
	if err != nil || ms.Count != 2 || ms.Bytes != 4000 {
		t.Errorf("media stats %+v %v, want 2 files of 4000 bytes", ms, err)
	}
	if none, err := c.UserMediaStats(ctx, bed.Synapse.AdminUserID); err != nil || none.Count != 0 {
		t.Errorf("admin media stats %+v %v, want none", none, err)
	}

	if err := c.DeactivateUser(ctx, u.UserID, true); err != nil {
		t.Fatal(err)
	}
	d, err := c.User(ctx, u.UserID)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Deactivated || !d.Erased || d.DisplayName != "" || d.AvatarURL != "" {
		t.Errorf("after erase: %+v; want deactivated, erased, no display name or avatar", d)
	}
	if _, err := login(t, "uerase", ""); !errors.Is(err, synapse.ErrUserDeactivated) && !errors.Is(err, synapse.ErrForbidden) {
		t.Errorf("login after deactivation: got %v, want refused", err)
	}
	waitNoRooms(t, u.UserID)

	// Redaction after the erase, in the room the user has left, by puppeting
	// the deactivated user (Synapse's default).
	id, err := c.RedactUserEvents(ctx, u.UserID, synapse.RedactOptions{Rooms: []string{room}, Reason: "GDPR erase"})
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	st, err := c.WaitRedact(ctx, id, 200*time.Millisecond, func(s synapse.RedactStatus) { seen = append(seen, s.Status) })
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != "complete" || len(st.FailedRedactions) != 0 {
		t.Errorf("redaction %+v (statuses %v)", st, seen)
	}
	evs, err := bed.Synapse.Messages(ctx, room, "m.room.message")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Sender == u.UserID {
			n++
			if len(e.Content) > 2 {
				t.Errorf("event %s still has content %s", e.EventID, e.Content)
			}
		}
	}
	if n != 3 {
		t.Errorf("found %d of the user's messages, want 3 (redacted)", n)
	}
	if _, err := c.RedactStatus(ctx, "nosuchredaction"); !errors.Is(err, synapse.ErrNotFound) {
		t.Errorf("unknown redact ID: got %v, want M_NOT_FOUND", err)
	}
	if err := c.DeactivateUser(ctx, "@uerase-nobody:"+bed.Synapse.ServerName, false); !errors.Is(err, synapse.ErrNotFound) {
		t.Errorf("deactivate an unknown user: got %v, want M_NOT_FOUND", err)
	}
}

// waitNoRooms waits for Synapse's background parting of a deactivated user.
func waitNoRooms(t *testing.T, userID string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		joined, err := bed.Synapse.Client().UserJoinedRooms(ctxT(t), userID)
		if err != nil {
			t.Fatal(err)
		}
		if len(joined) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still joined to %v after 30s", userID, joined)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestUsersMalformedSendNothing: every user call checks its IDs before a
// request leaves.
func TestUsersMalformedSendNothing(t *testing.T) {
	ctx := ctxT(t)
	var tr synapsetest.CountingTransport
	c := bed.Synapse.Client(synapse.WithHTTPClient(&http.Client{Transport: &tr}))
	bad := "alice"
	calls := map[string]func() error{
		"User":           func() error { _, err := c.User(ctx, bad); return err },
		"UserDevices":    func() error { _, err := c.UserDevices(ctx, bad); return err },
		"DeleteDevices":  func() error { return c.DeleteDevices(ctx, bad, []string{"X"}) },
		"DeleteDevice":   func() error { return c.DeleteDevice(ctx, "@a:b.c", "") },
		"DeleteDevices2": func() error { return c.DeleteDevices(ctx, "@a:b.c", []string{"bad\x1b"}) },
		"JoinedRooms":    func() error { _, err := c.UserJoinedRooms(ctx, bad); return err },
		"Memberships":    func() error { _, err := c.UserMemberships(ctx, bad); return err },
		"Whois":          func() error { _, err := c.Whois(ctx, "@no server"); return err },
		"ModifyUser":     func() error { _, err := c.ModifyUser(ctx, bad, synapse.UserChanges{}); return err },
		"SetLocked":      func() error { return c.SetLocked(ctx, "@:x.y", true) },
		"Deactivate":     func() error { return c.DeactivateUser(ctx, bad, true) },
		"ResetPassword":  func() error { return c.ResetPassword(ctx, bad, synapse.NewSecret("x"), true) },
		"SetAdmin":       func() error { return c.SetAdmin(ctx, bad, true) },
		"Suspend":        func() error { return c.SetSuspended(ctx, bad, true) },
		"ShadowBan":      func() error { return c.SetShadowBanned(ctx, bad, true) },
		"RateLimit":      func() error { _, err := c.RateLimitOverride(ctx, bad); return err },
		"SetRateLimit":   func() error { _, err := c.SetRateLimitOverride(ctx, bad, synapse.RateLimit{}); return err },
		"DelRateLimit":   func() error { return c.DeleteRateLimitOverride(ctx, bad) },
		"LoginAs":        func() error { _, err := c.LoginAs(ctx, bad, time.Time{}); return err },
		"Redact":         func() error { _, err := c.RedactUserEvents(ctx, bad, synapse.RedactOptions{}); return err },
		"RedactRoom": func() error {
			_, err := c.RedactUserEvents(ctx, "@a:b.c", synapse.RedactOptions{Rooms: []string{"#x:y"}})
			return err
		},
		"RedactStatus": func() error { _, err := c.RedactStatus(ctx, "a/b"); return err },
		"MediaStats":   func() error { _, err := c.UserMediaStats(ctx, bad); return err },
		"Leave":        func() error { return c.LeaveRoom(ctx, "room") },
	}
	for name, call := range calls {
		if err := call(); !isValidation(err) {
			t.Errorf("%s: got %v, want a validation error", name, err)
		}
	}
	if tr.Count() != 0 {
		t.Errorf("%d requests were sent for malformed input", tr.Count())
	}
}
