package synapse

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The Matrix error codes Synapse sends for accounts that may not act.
const (
	ErrUserLocked      Errcode = "M_USER_LOCKED"
	ErrUserDeactivated Errcode = "M_USER_DEACTIVATED"
	ErrUserSuspended   Errcode = "M_USER_SUSPENDED"
)

// ListedUser is one entry of the admin user list. Text fields (display name,
// avatar URL) come from users of the homeserver and are not cleaned here;
// Synapse sends null for a missing one, which is "" here.
type ListedUser struct {
	Name         string `json:"name"` // the user ID
	DisplayName  string `json:"displayname"`
	AvatarURL    string `json:"avatar_url"`
	UserType     string `json:"user_type"` // "", "bot", "support", or a configured type
	IsGuest      bool   `json:"is_guest"`
	Admin        bool   `json:"admin"`
	Deactivated  bool   `json:"deactivated"`
	Erased       bool   `json:"erased"`
	Locked       bool   `json:"locked"`
	ShadowBanned bool   `json:"shadow_banned"`
	CreationTS   int64  `json:"creation_ts"`  // ms on this endpoint (the details endpoint sends seconds)
	LastSeenTS   int64  `json:"last_seen_ts"` // ms; 0 when Synapse has never seen the account
}

// User is GET /_synapse/admin/v2/users/<id>: one account's details.
type User struct {
	Name         string       `json:"name"`
	DisplayName  string       `json:"displayname"`
	AvatarURL    string       `json:"avatar_url"`
	Admin        bool         `json:"admin"`
	Deactivated  bool         `json:"deactivated"`
	Erased       bool         `json:"erased"`
	Locked       bool         `json:"locked"`
	Suspended    bool         `json:"suspended"`
	ShadowBan    bool         `json:"shadow_banned"`
	IsGuest      bool         `json:"is_guest"`
	UserType     string       `json:"user_type"`
	AppserviceID string       `json:"appservice_id"` // the application service that registered it, "" for none
	CreationTS   int64        `json:"creation_ts"`   // seconds on this endpoint (the list endpoint uses ms)
	LastSeenTS   int64        `json:"last_seen_ts"`  // ms; 0 when never seen
	Threepids    []Threepid   `json:"threepids"`
	ExternalIDs  []ExternalID `json:"external_ids"`
}

// Threepid is an e-mail address or phone number bound to an account.
type Threepid struct {
	Medium      string `json:"medium"`
	Address     string `json:"address"`
	AddedAt     int64  `json:"added_at"`
	ValidatedAt int64  `json:"validated_at"`
}

// ExternalID links an account to a single-sign-on provider's identity.
type ExternalID struct {
	AuthProvider string `json:"auth_provider"`
	ExternalID   string `json:"external_id"`
}

func userPath(version, userID, suffix string) string {
	return version + "/users/" + pathSegment(userID) + suffix
}

// User fetches one account through the admin API. It needs an admin token:
// a non-admin token fails with ErrForbidden, an unknown user with
// ErrNotFound, a user of another server with HTTP 400.
func (c *Client) User(ctx context.Context, userID string) (*User, error) {
	if err := ValidateUserID(userID); err != nil {
		return nil, err
	}
	var u User
	if err := c.adminGet(ctx, userPath(adminV2, userID, ""), nil, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// ListUsersOptions filter and sort the user list (GET /_synapse/admin/v3/users,
// Synapse 1.103 and later).
type ListUsersOptions struct {
	// Name keeps accounts whose localpart or display name contains it
	// (case-insensitive; never the server part). "" means no filter.
	Name string
	// UserID keeps accounts whose whole ID contains it. Synapse ignores it
	// when Name is set, so setting both is refused here.
	UserID string
	// Guests false leaves guest accounts out; nil keeps them (Synapse's
	// default). A server that delegates to MAS refuses guests=true, which is
	// therefore never sent.
	Guests *bool
	// Deactivated true keeps only deactivated accounts, false only active
	// ones, nil both.
	Deactivated *bool
	// Admins true keeps only server admins, false leaves them out, nil both.
	Admins *bool
	// IncludeLocked lists locked accounts too: Synapse leaves them out
	// unless asked, so an operator looking for one would not find it.
	IncludeLocked bool
	// NotUserTypes leaves out these user types ("" is the accounts with none).
	NotUserTypes []string
	// OrderBy is a column Synapse sorts by (name, displayname, is_guest,
	// admin, deactivated, user_type, avatar_url, shadow_banned, creation_ts,
	// last_seen_ts, locked); "" means name. Ties are broken by name.
	OrderBy string
	// Reverse sends dir=b.
	Reverse bool
	// PageSize is the number of users per request: 0 means 100, at most 10000.
	PageSize int
}

// UserPage is one page of the user list.
type UserPage struct {
	Users     []ListedUser
	Total     int    // accounts matching the filter, all pages together
	NextToken string // the from of the next page when HasMore
	HasMore   bool
}

// userOrders are the order_by values Synapse accepts for the user list
// (UserSortOrder in synapse/storage/databases/main/stats.py).
var userOrders = []string{
	"name", "displayname", "is_guest", "admin", "deactivated", "user_type", "avatar_url",
	"shadow_banned", "creation_ts", "last_seen_ts", "locked",
}

const (
	defaultUserPage = 100
	maxUserPage     = 10000
	adminV3         = "/_synapse/admin/v3"
)

func userQuery(o ListUsersOptions, from string) (url.Values, error) {
	if o.OrderBy != "" && !slices.Contains(userOrders, o.OrderBy) {
		return nil, &ValidationError{What: "user order", Input: o.OrderBy,
			Why: "Synapse sorts users only by one of " + strings.Join(userOrders, ", ")}
	}
	if o.PageSize < 0 || o.PageSize > maxUserPage {
		return nil, &ValidationError{What: "page size", Input: strconv.Itoa(o.PageSize),
			Why: fmt.Sprintf("must be between 1 and %d (0 means %d)", maxUserPage, defaultUserPage)}
	}
	if o.Name != "" && o.UserID != "" {
		return nil, &ValidationError{What: "user filter", Input: o.Name + " / " + o.UserID,
			Why: "Synapse ignores the user ID filter when a name is given: use one of them"}
	}
	if from != "" {
		if n, err := strconv.Atoi(from); err != nil || n < 0 {
			return nil, &ValidationError{What: "user list token", Input: from, Why: "Synapse's next_token is a non-negative number"}
		}
	}
	limit := o.PageSize
	if limit == 0 {
		limit = defaultUserPage
	}
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if from != "" {
		q.Set("from", from)
	}
	if o.Name != "" {
		q.Set("name", o.Name)
	}
	if o.UserID != "" {
		q.Set("user_id", o.UserID)
	}
	if o.Guests != nil && !*o.Guests {
		q.Set("guests", "false")
	}
	if o.Deactivated != nil {
		q.Set("deactivated", strconv.FormatBool(*o.Deactivated))
	}
	if o.Admins != nil {
		q.Set("admins", strconv.FormatBool(*o.Admins))
	}
	if o.IncludeLocked {
		q.Set("locked", "true")
	}
	for _, t := range o.NotUserTypes {
		q.Add("not_user_type", t)
	}
	if o.OrderBy != "" {
		q.Set("order_by", o.OrderBy)
	}
	if o.Reverse {
		q.Set("dir", "b")
	}
	return q, nil
}

// ListUsersPage fetches one page of the user list starting at from ("" for
// the first page; then the previous page's NextToken).
func (c *Client) ListUsersPage(ctx context.Context, o ListUsersOptions, from string) (*UserPage, error) {
	q, err := userQuery(o, from)
	if err != nil {
		return nil, err
	}
	var out struct {
		Users     []ListedUser `json:"users"`
		Total     int          `json:"total"`
		NextToken string       `json:"next_token"` // a string here, unlike the room list's next_batch
	}
	if err := c.adminGet(ctx, adminV3+"/users", q, &out); err != nil {
		return nil, err
	}
	return &UserPage{Users: out.Users, Total: out.Total, NextToken: out.NextToken, HasMore: out.NextToken != ""}, nil
}

// EachUser walks every page of the user list and hands each page to fn; an
// error from fn stops the walk and is returned. total is the number of
// matching users the last page reported. Like the room list it is paged by
// offset: an account created during the walk can shift the pages.
func (c *Client) EachUser(ctx context.Context, o ListUsersOptions, fn func([]ListedUser) error) (total int, err error) {
	from := ""
	for {
		p, err := c.ListUsersPage(ctx, o, from)
		if err != nil {
			return total, err
		}
		total = p.Total
		if len(p.Users) > 0 {
			if err := fn(p.Users); err != nil {
				return total, err
			}
		}
		if !p.HasMore {
			return total, nil
		}
		prev, _ := strconv.Atoi(from)
		if next, err := strconv.Atoi(p.NextToken); err != nil || next <= prev {
			return total, fmt.Errorf("list users: synapse returned next_token %q after %q; stopping instead of looping", p.NextToken, from)
		}
		from = p.NextToken
	}
}

// AllUsers collects every page of the user list. A user that a shifting
// page repeats is kept once.
func (c *Client) AllUsers(ctx context.Context, o ListUsersOptions) ([]ListedUser, error) {
	return collect(func(fn func([]ListedUser) error) error {
		_, err := c.EachUser(ctx, o, fn)
		return err
	}, func(u *ListedUser) string { return u.Name })
}

// Device is one of an account's devices (sessions that hold an access token).
type Device struct {
	DeviceID          string `json:"device_id"`
	DisplayName       string `json:"display_name"` // set by the user's client: untrusted
	LastSeenIP        string `json:"last_seen_ip"`
	LastSeenUserAgent string `json:"last_seen_user_agent"`
	LastSeenTS        int64  `json:"last_seen_ts"` // ms
	UserID            string `json:"user_id"`
	Dehydrated        bool   `json:"dehydrated"`
}

// UserDevices lists the account's devices.
func (c *Client) UserDevices(ctx context.Context, userID string) ([]Device, error) {
	if err := ValidateUserID(userID); err != nil {
		return nil, err
	}
	var out struct {
		Devices []Device `json:"devices"`
	}
	if err := c.adminGet(ctx, userPath(adminV2, userID, "/devices"), nil, &out); err != nil {
		return nil, err
	}
	return out.Devices, nil
}

func validDeviceID(id string) error {
	switch {
	case id == "":
		return &ValidationError{What: "device ID", Input: id, Why: "it is empty"}
	case len(id) > 512:
		return &ValidationError{What: "device ID", Input: id, Why: "longer than 512 bytes"}
	case strings.ContainsFunc(id, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return &ValidationError{What: "device ID", Input: id, Why: "contains a control character"}
	}
	return nil
}

// DeleteDevices deletes the account's devices with these IDs and so ends
// their sessions: their access tokens stop working. Unknown IDs are ignored
// by Synapse. Deleting twice does no harm, so it is retried like a read.
func (c *Client) DeleteDevices(ctx context.Context, userID string, deviceIDs []string) error {
	if err := ValidateUserID(userID); err != nil {
		return err
	}
	for _, d := range deviceIDs {
		if err := validDeviceID(d); err != nil {
			return err
		}
	}
	if deviceIDs == nil {
		deviceIDs = []string{}
	}
	return c.do(ctx, request{method: http.MethodPost, path: userPath(adminV2, userID, "/delete_devices"),
		body: map[string][]string{"devices": deviceIDs}, auth: true, idempotent: true}, nil)
}

// DeleteDevice deletes one device of the account.
func (c *Client) DeleteDevice(ctx context.Context, userID, deviceID string) error {
	if err := ValidateUserID(userID); err != nil {
		return err
	}
	if err := validDeviceID(deviceID); err != nil {
		return err
	}
	return c.do(ctx, request{method: http.MethodDelete, path: userPath(adminV2, userID, "/devices/"+pathSegment(deviceID)),
		body: struct{}{}, auth: true, idempotent: true}, nil)
}

// UserJoinedRooms lists the rooms the account is joined to now.
func (c *Client) UserJoinedRooms(ctx context.Context, userID string) ([]string, error) {
	if err := ValidateUserID(userID); err != nil {
		return nil, err
	}
	var out struct {
		JoinedRooms []string `json:"joined_rooms"`
	}
	if err := c.adminGet(ctx, userPath(adminV1, userID, "/joined_rooms"), nil, &out); err != nil {
		return nil, err
	}
	return out.JoinedRooms, nil
}

// UserMemberships maps every room the account has a membership in (joined,
// invited, left, banned, knocked) to that membership.
func (c *Client) UserMemberships(ctx context.Context, userID string) (map[string]string, error) {
	if err := ValidateUserID(userID); err != nil {
		return nil, err
	}
	var out struct {
		Memberships map[string]string `json:"memberships"`
	}
	if err := c.adminGet(ctx, userPath(adminV1, userID, "/memberships"), nil, &out); err != nil {
		return nil, err
	}
	if out.Memberships == nil {
		out.Memberships = map[string]string{}
	}
	return out.Memberships, nil
}

// Connection is one address an account's clients were seen at.
type Connection struct {
	IP        string `json:"ip"`
	LastSeen  int64  `json:"last_seen"` // ms
	UserAgent string `json:"user_agent"`
}

// Whois lists the addresses and clients the account was seen with. Synapse
// groups them all under one device named "" with one session; they are
// returned flat here, newest first.
func (c *Client) Whois(ctx context.Context, userID string) ([]Connection, error) {
	if err := ValidateUserID(userID); err != nil {
		return nil, err
	}
	var out struct {
		Devices map[string]struct {
			Sessions []struct {
				Connections []Connection `json:"connections"`
			} `json:"sessions"`
		} `json:"devices"`
	}
	if err := c.adminGet(ctx, adminV1+"/whois/"+pathSegment(userID), nil, &out); err != nil {
		return nil, err
	}
	conns := []Connection{}
	for _, d := range out.Devices {
		for _, s := range d.Sessions {
			conns = append(conns, s.Connections...)
		}
	}
	slices.SortStableFunc(conns, func(a, b Connection) int { return cmp.Compare(b.LastSeen, a.LastSeen) })
	return conns, nil
}

// UserChanges are the fields ModifyUser sets; nil fields keep their value.
type UserChanges struct {
	DisplayName *string // "" removes it
	AvatarURL   *string // "" removes it
	Admin       *bool
	Password    *Secret
	// LogoutDevices false keeps the account's sessions when Password is
	// set; nil means Synapse's default, which logs every device out.
	LogoutDevices *bool
	Locked        *bool
	Deactivated   *bool // true deactivates without erasing; DeactivateUser erases too
}

// ModifyUser changes an existing account (PUT /_synapse/admin/v2/users/<id>)
// and returns it as Synapse then has it. That endpoint creates the account
// when it does not exist, which a change must never do: the account is read
// first, and an unknown one fails with ErrNotFound. It is not retried: a
// password change logs devices out.
func (c *Client) ModifyUser(ctx context.Context, userID string, ch UserChanges) (*User, error) {
	if _, err := c.User(ctx, userID); err != nil {
		return nil, err
	}
	body := map[string]any{}
	set := func(k string, v any) { body[k] = v }
	if ch.DisplayName != nil {
		set("displayname", *ch.DisplayName)
	}
	if ch.AvatarURL != nil {
		set("avatar_url", *ch.AvatarURL)
	}
	if ch.Admin != nil {
		set("admin", *ch.Admin)
	}
	if ch.Password != nil {
		if ch.Password.IsZero() {
			return nil, &ValidationError{What: "password", Input: "", Why: "it is empty"}
		}
		set("password", ch.Password.Reveal())
	}
	if ch.LogoutDevices != nil {
		set("logout_devices", *ch.LogoutDevices)
	}
	if ch.Locked != nil {
		set("locked", *ch.Locked)
	}
	if ch.Deactivated != nil {
		set("deactivated", *ch.Deactivated)
	}
	if len(body) == 0 {
		return nil, &ValidationError{What: "user change", Input: userID, Why: "nothing to change"}
	}
	var u User
	if err := c.do(ctx, request{method: http.MethodPut, path: userPath(adminV2, userID, ""), body: body, auth: true}, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// SetLocked locks or unlocks an account. A locked account cannot log in,
// and every request with one of its tokens fails with M_USER_LOCKED (but a
// logout); its devices and rooms stay.
func (c *Client) SetLocked(ctx context.Context, userID string, locked bool) error {
	_, err := c.ModifyUser(ctx, userID, UserChanges{Locked: &locked})
	return err
}

// DeactivateUser deactivates an account: its devices, tokens, password,
// pushers, 3PIDs, account data and server-side key backup are removed, and
// Synapse then parts it from every room in the background. With erase, its
// display name and avatar go too and it is marked GDPR-erased (its messages
// stay unless redacted). Remote users: HTTP 400; unknown: ErrNotFound. Never
// retried.
func (c *Client) DeactivateUser(ctx context.Context, userID string, erase bool) error {
	if err := ValidateUserID(userID); err != nil {
		return err
	}
	return c.do(ctx, request{method: http.MethodPost, path: adminV1 + "/deactivate/" + pathSegment(userID),
		body: map[string]bool{"erase": erase}, auth: true}, nil)
}

// ResetPassword sets a new password; with logoutDevices every device but
// the caller's own is logged out. Never retried.
func (c *Client) ResetPassword(ctx context.Context, userID string, password Secret, logoutDevices bool) error {
	if err := ValidateUserID(userID); err != nil {
		return err
	}
	if password.IsZero() {
		return &ValidationError{What: "password", Input: "", Why: "it is empty"}
	}
	return c.do(ctx, request{method: http.MethodPost, path: adminV1 + "/reset_password/" + pathSegment(userID),
		body: map[string]any{"new_password": password.Reveal(), "logout_devices": logoutDevices}, auth: true}, nil)
}

// SetAdmin grants or revokes the server admin flag. Synapse refuses (400)
// to let an admin demote themself.
func (c *Client) SetAdmin(ctx context.Context, userID string, admin bool) error {
	if err := ValidateUserID(userID); err != nil {
		return err
	}
	return c.do(ctx, request{method: http.MethodPut, path: userPath(adminV1, userID, "/admin"),
		body: map[string]bool{"admin": admin}, auth: true, idempotent: true}, nil)
}

// SetSuspended suspends an account (MSC3823) or lifts the suspension. A
// suspended account may still log in, read and leave rooms, but not join,
// knock, invite or send messages.
func (c *Client) SetSuspended(ctx context.Context, userID string, suspend bool) error {
	if err := ValidateUserID(userID); err != nil {
		return err
	}
	// The answer's key carries the user ID: {"user_<id>_suspended": bool}.
	var out map[string]any
	if err := c.do(ctx, request{method: http.MethodPut, path: adminV1 + "/suspend/" + pathSegment(userID),
		body: map[string]bool{"suspend": suspend}, auth: true, idempotent: true}, &out); err != nil {
		return err
	}
	if got, ok := out["user_"+userID+"_suspended"].(bool); !ok || got != suspend {
		return fmt.Errorf("suspend %s: synapse answered %v, not the suspension asked for", userID, out)
	}
	return nil
}

// SetShadowBanned shadow-bans an account or lifts it. A shadow-banned
// account's requests succeed but its events reach nobody.
func (c *Client) SetShadowBanned(ctx context.Context, userID string, banned bool) error {
	if err := ValidateUserID(userID); err != nil {
		return err
	}
	method := http.MethodPost
	if !banned {
		method = http.MethodDelete
	}
	return c.do(ctx, request{method: method, path: userPath(adminV1, userID, "/shadow_ban"), body: struct{}{}, auth: true, idempotent: true}, nil)
}

// RateLimit is a per-account override of the message rate limiter. 0/0
// exempts the account from every rate limiter; other values change only
// the message limiter.
type RateLimit struct {
	MessagesPerSecond int `json:"messages_per_second"`
	BurstCount        int `json:"burst_count"`
}

// RateLimitOverride is the account's override, nil when it has none.
func (c *Client) RateLimitOverride(ctx context.Context, userID string) (*RateLimit, error) {
	if err := ValidateUserID(userID); err != nil {
		return nil, err
	}
	var out struct {
		MessagesPerSecond *int `json:"messages_per_second"`
		BurstCount        *int `json:"burst_count"`
	}
	if err := c.adminGet(ctx, userPath(adminV1, userID, "/override_ratelimit"), nil, &out); err != nil {
		return nil, err
	}
	if out.MessagesPerSecond == nil && out.BurstCount == nil {
		return nil, nil
	}
	rl := &RateLimit{}
	if out.MessagesPerSecond != nil {
		rl.MessagesPerSecond = *out.MessagesPerSecond
	}
	if out.BurstCount != nil {
		rl.BurstCount = *out.BurstCount
	}
	return rl, nil
}

// SetRateLimitOverride stores an override and returns it as Synapse keeps it.
func (c *Client) SetRateLimitOverride(ctx context.Context, userID string, rl RateLimit) (*RateLimit, error) {
	if err := ValidateUserID(userID); err != nil {
		return nil, err
	}
	if rl.MessagesPerSecond < 0 || rl.BurstCount < 0 {
		return nil, &ValidationError{What: "rate limit", Input: fmt.Sprintf("%d/%d", rl.MessagesPerSecond, rl.BurstCount), Why: "must not be negative"}
	}
	var out RateLimit
	if err := c.do(ctx, request{method: http.MethodPost, path: userPath(adminV1, userID, "/override_ratelimit"),
		body: rl, auth: true, idempotent: true}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteRateLimitOverride removes the account's override.
func (c *Client) DeleteRateLimitOverride(ctx context.Context, userID string) error {
	if err := ValidateUserID(userID); err != nil {
		return err
	}
	return c.do(ctx, request{method: http.MethodDelete, path: userPath(adminV1, userID, "/override_ratelimit"),
		body: struct{}{}, auth: true, idempotent: true}, nil)
}

// LoginAs issues an access token that acts as the account (a "puppet"
// token, owned by the admin; no device is created). With a non-zero
// validUntil it stops working then. Synapse refuses the admin's own account
// (400). It is never retried: a lost answer leaves a token nobody holds,
// which a retry would double.
func (c *Client) LoginAs(ctx context.Context, userID string, validUntil time.Time) (Secret, error) {
	if err := ValidateUserID(userID); err != nil {
		return Secret{}, err
	}
	body := map[string]any{}
	if !validUntil.IsZero() {
		body["valid_until_ms"] = validUntil.UnixMilli()
	}
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := c.do(ctx, request{method: http.MethodPost, path: userPath(adminV1, userID, "/login"), body: body, auth: true}, &out); err != nil {
		return Secret{}, err
	}
	if out.AccessToken == "" {
		return Secret{}, fmt.Errorf("login as %s: synapse returned no access token", userID)
	}
	return NewSecret(out.AccessToken), nil
}

// RedactOptions choose which of an account's events to redact.
type RedactOptions struct {
	// Rooms to redact in; empty means every room the account is joined to
	// or banned from now (not the rooms it has left).
	Rooms  []string
	Reason string
	// Limit is how many of the account's newest events per room are
	// redacted; 0 means Synapse's default, 1000.
	Limit int
	// UseAdmin sends the redactions as the admin, who then needs the power
	// to redact in each room; by default Synapse sends them as the account.
	UseAdmin bool
	// After and Before bound the events' timestamps (Synapse 1.157+).
	After, Before time.Time
}

// RedactUserEvents starts Synapse's redaction of the account's messages
// (and joins) and returns its redact ID; follow it with RedactStatus or
// WaitRedact. Never retried: a second call starts a second job.
func (c *Client) RedactUserEvents(ctx context.Context, userID string, o RedactOptions) (string, error) {
	if err := ValidateUserID(userID); err != nil {
		return "", err
	}
	rooms := o.Rooms
	if rooms == nil {
		rooms = []string{}
	}
	for _, r := range rooms {
		if err := ValidateRoomID(r); err != nil {
			return "", err
		}
	}
	if o.Limit < 0 {
		return "", &ValidationError{What: "redaction limit", Input: strconv.Itoa(o.Limit), Why: "must not be negative"}
	}
	body := map[string]any{"rooms": rooms}
	if o.Reason != "" {
		body["reason"] = o.Reason
	}
	if o.Limit > 0 {
		body["limit"] = o.Limit
	}
	if o.UseAdmin {
		body["use_admin"] = true
	}
	if !o.After.IsZero() {
		body["after_ts"] = o.After.UnixMilli()
	}
	if !o.Before.IsZero() {
		body["before_ts"] = o.Before.UnixMilli()
	}
	var out struct {
		RedactID string `json:"redact_id"`
	}
	if err := c.do(ctx, request{method: http.MethodPost, path: adminV1 + "/user/" + pathSegment(userID) + "/redact", body: body, auth: true}, &out); err != nil {
		return "", err
	}
	if out.RedactID == "" {
		return "", fmt.Errorf("redact events of %s: synapse returned no redact_id", userID)
	}
	return out.RedactID, nil
}

// RedactStatus is the state of a redaction job.
type RedactStatus struct {
	Status string `json:"status"` // scheduled, active, complete, failed
	// FailedRedactions maps the events that could not be redacted to why.
	FailedRedactions map[string]string `json:"failed_redactions"`
	Error            string            `json:"error"` // why a failed job failed
}

// RedactStatus reads a redaction job; an unknown ID fails with ErrNotFound.
func (c *Client) RedactStatus(ctx context.Context, redactID string) (*RedactStatus, error) {
	if err := validTaskID("redact ID", redactID); err != nil {
		return nil, err
	}
	var st RedactStatus
	if err := c.adminGet(ctx, adminV1+"/user/redact_status/"+pathSegment(redactID), nil, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// WaitRedact follows a redaction job, on Poller's schedule up to every poll
// (1s if poll <= 0), until it is complete or failed, calling progress (if
// not nil) with every status read. A complete job with events it could not
// redact is not an error here: the caller reads FailedRedactions.
func (c *Client) WaitRedact(ctx context.Context, redactID string, poll time.Duration, progress func(RedactStatus)) (*RedactStatus, error) {
	if err := validTaskID("redact ID", redactID); err != nil {
		return nil, err
	}
	return waitTask(ctx, poll, func() (*RedactStatus, bool, error) {
		st, err := c.RedactStatus(ctx, redactID)
		if err != nil {
			return nil, false, err
		}
		if progress != nil {
			progress(*st)
		}
		switch st.Status {
		case taskComplete:
			return st, true, nil
		case taskFailed, taskCancelled:
			why := st.Error
			if why == "" {
				why = st.Status
			}
			return st, true, fmt.Errorf("redaction %s %s: %s", redactID, st.Status, printable(why))
		}
		return st, false, nil
	})
}

// MediaStats is how much media an account has uploaded to this server.
type MediaStats struct {
	Count int   `json:"media_count"`
	Bytes int64 `json:"media_length"`
}

// UserMediaStats reads the account's uploaded media count and size from the
// media statistics. Synapse can only search them by a substring of the
// localpart or display name, so the pages of that search are read until
// the account's own row; an account without media has none (zero stats).
func (c *Client) UserMediaStats(ctx context.Context, userID string) (MediaStats, error) {
	if err := ValidateUserID(userID); err != nil {
		return MediaStats{}, err
	}
	local, _, _ := strings.Cut(userID[1:], ":")
	from := 0
	for {
		q := url.Values{"search_term": {local}, "from": {strconv.Itoa(from)}, "limit": {"100"}, "order_by": {"user_id"}}
		var out struct {
			Users []struct {
				UserID string `json:"user_id"`
				MediaStats
			} `json:"users"`
			NextToken *int `json:"next_token"`
		}
		if err := c.adminGet(ctx, adminV1+"/statistics/users/media", q, &out); err != nil {
			return MediaStats{}, err
		}
		for _, u := range out.Users {
			if u.UserID == userID {
				return u.MediaStats, nil
			}
		}
		if out.NextToken == nil || *out.NextToken <= from {
			return MediaStats{}, nil
		}
		from = *out.NextToken
	}
}

// LeaveRoom makes the token's owner leave a room (client API). With a
// login-as token that is the account it acts as.
func (c *Client) LeaveRoom(ctx context.Context, roomID string) error {
	if err := ValidateRoomID(roomID); err != nil {
		return err
	}
	return c.do(ctx, request{method: http.MethodPost, path: "/_matrix/client/v3/rooms/" + pathSegment(roomID) + "/leave",
		body: struct{}{}, auth: true}, nil)
}

// LogoutAll ends every session of the token's owner: all its devices and
// every access token it has, with or without a device (client API; a
// locked account may still call it). A login-as token belongs to the admin
// who asked for it, so it survives; Logout ends it.
func (c *Client) LogoutAll(ctx context.Context) error {
	return c.do(ctx, request{method: http.MethodPost, path: "/_matrix/client/v3/logout/all", body: struct{}{}, auth: true}, nil)
}
