// Package users is what synops does with accounts: list and inspect them,
// and plan and apply the changes an operator makes to one: deactivate and
// erase, suspend, lock, reset the password, grant or revoke admin, disable
// and enable access (seed 004's incident action), log in as the account,
// redact its messages. Every change is a plan first; the guard refuses it in
// read-only mode or without the typed user ID, and writes the audit log.
package users

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"synops/ops"
	"synops/ops/text"
	"synops/synapse"
)

// Service holds what user operations need. Synapse and Guard are required;
// Journal is needed by disable.
type Service struct {
	Synapse     *synapse.Client
	Guard       *ops.Guard
	Journal     *Journal
	Server      string
	Environment string
	Now         func() time.Time
	Poll        time.Duration // redaction polling (default 500ms)
	// PartWait bounds how long a deactivation waits for Synapse to part the
	// account from its rooms, which Synapse does in the background (default 2m).
	PartWait time.Duration
	// Log is the debug log (nil: none). Nothing secret is ever written to it.
	Log *slog.Logger

	selfMu sync.Mutex
	self   string

	typedMu sync.Mutex
	typed   map[string]synapse.Secret // typed passwords by plan ID; never in a plan or a file
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

func (s *Service) poll() time.Duration {
	if s.Poll <= 0 {
		return 500 * time.Millisecond
	}
	return s.Poll
}

func (s *Service) partWait() time.Duration {
	if s.PartWait <= 0 {
		return 2 * time.Minute
	}
	return s.PartWait
}

func (s *Service) debug(msg string, args ...any) {
	if s.Log != nil {
		s.Log.Debug(msg, args...)
	}
}

// Self is the account the admin token belongs to (asked once).
func (s *Service) Self(ctx context.Context) (string, error) {
	s.selfMu.Lock()
	defer s.selfMu.Unlock()
	if s.self != "" {
		return s.self, nil
	}
	w, err := s.Synapse.Whoami(ctx)
	if err != nil {
		return "", fmt.Errorf("whose token synops uses: %w", explain(err))
	}
	s.self = w.UserID
	return s.self, nil
}

// Filter chooses which accounts List returns. The zero value is every
// active account, locked ones included (Synapse hides those unless asked).
type Filter struct {
	Search      string // localpart or display name contains this
	Admins      bool   // only server admins
	Deactivated bool   // only deactivated accounts
	Locked      bool   // only locked accounts
	All         bool   // active and deactivated accounts together
	OrderBy     string // a synapse.ListUsersOptions order ("" is by user ID)
	Reverse     bool
}

// User is one account of the list, with what the list view marks.
type User struct {
	synapse.ListedUser
	Self bool `json:"self"` // the account synops' token belongs to
}

// Badges are the account's marks, in a fixed order: "self", "admin",
// "deactivated", "erased", "locked", "shadow-banned", "guest", and its user
// type ("bot", "support").
func (u User) Badges() []string {
	var b []string
	add := func(ok bool, s string) {
		if ok {
			b = append(b, s)
		}
	}
	add(u.Self, "self")
	add(u.Admin, "admin")
	add(u.Deactivated, "deactivated")
	add(u.Erased, "erased")
	add(u.Locked, "locked")
	add(u.ShadowBanned, "shadow-banned")
	add(u.IsGuest, "guest")
	add(u.UserType != "", text.Clean(u.UserType))
	return b
}

// listPage is how many accounts List asks Synapse for at a time.
const listPage = 5000

// List returns every account the filter keeps, paging through them all.
func (s *Service) List(ctx context.Context, f Filter) ([]User, error) {
	// Synapse aggregates the devices and user_ips tables again for every
	// page and pages by offset, so few large pages are much cheaper than
	// many small ones: 100k accounts list in about 1.7s at 5000 a page and
	// 4.5s at 1000 (BenchmarkList on the 2-core test machine).
	o := synapse.ListUsersOptions{Name: f.Search, OrderBy: f.OrderBy, Reverse: f.Reverse, IncludeLocked: true, PageSize: listPage}
	switch {
	case f.Deactivated:
		o.Deactivated = ptr(true)
	case !f.All:
		o.Deactivated = ptr(false)
	}
	if f.Admins {
		o.Admins = ptr(true)
	}
	self, err := s.Self(ctx)
	if err != nil {
		return nil, err
	}
	var out []User
	seen := map[string]bool{}
	if _, err := s.Synapse.EachUser(ctx, o, func(page []synapse.ListedUser) error {
		for _, u := range page {
			if seen[u.Name] || (f.Locked && !u.Locked) {
				continue
			}
			seen[u.Name] = true
			out = append(out, User{ListedUser: u, Self: u.Name == self})
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("list users: %w", explain(err))
	}
	return out, nil
}

// Interrupted lists the disables earlier runs left unfinished, oldest first.
func (s *Service) Interrupted() []Entry {
	if s.Journal == nil {
		return nil
	}
	return s.Journal.Unfinished()
}

// BackupState says whether a plan may run without the operator accepting
// the loss of data (see ops.Guard.BackupState).
func (s *Service) BackupState(ctx context.Context, p *ops.Plan) (bool, string) {
	return s.Guard.BackupState(ctx, p)
}

// Room is a room an account is joined to.
type Room struct {
	RoomID  string `json:"room_id"`
	Name    string `json:"name"` // untrusted; "" when unnamed or not read
	Members int    `json:"members"`
}

// Detail is one account and everything a change to it affects: its rooms,
// devices and sessions, its media, whether it is synops' own account.
type Detail struct {
	User      *synapse.User        `json:"user"`
	Self      bool                 `json:"self"`
	Rooms     []Room               `json:"rooms"` // joined now
	Devices   []synapse.Device     `json:"devices"`
	Sessions  []synapse.Connection `json:"sessions"` // addresses it was seen at, newest first
	Media     synapse.MediaStats   `json:"media"`
	RateLimit *synapse.RateLimit   `json:"rate_limit,omitempty"`
	// Disable is what a disable of this account recorded, if any.
	Disable *Entry `json:"disable,omitempty"`
}

// namedRooms is how many rooms Inspect names (one request each); the rest
// are listed by ID.
const namedRooms = 100

// Inspect reads an account and what it is connected to. A malformed ID is
// refused before any request; an unknown account fails with
// synapse.ErrNotFound.
func (s *Service) Inspect(ctx context.Context, userID string) (*Detail, error) {
	if err := synapse.ValidateUserID(userID); err != nil {
		return nil, err
	}
	u, err := s.Synapse.User(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("user %s: %w", userID, explain(err))
	}
	self, err := s.Self(ctx)
	if err != nil {
		return nil, err
	}
	d := &Detail{User: u, Self: userID == self}
	if s.Journal != nil {
		if e, ok := s.Journal.Get(userID); ok {
			d.Disable = &e
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		ids, err := s.Synapse.UserJoinedRooms(gctx, userID)
		if err != nil {
			return fmt.Errorf("joined rooms: %w", err)
		}
		d.Rooms = s.nameRooms(gctx, ids)
		return nil
	})
	g.Go(func() (err error) {
		d.Devices, err = s.Synapse.UserDevices(gctx, userID)
		return wrap("devices", err)
	})
	g.Go(func() (err error) {
		d.Sessions, err = s.Synapse.Whois(gctx, userID)
		return wrap("sessions", err)
	})
	g.Go(func() (err error) {
		d.Media, err = s.Synapse.UserMediaStats(gctx, userID)
		return wrap("media", err)
	})
	g.Go(func() (err error) {
		d.RateLimit, err = s.Synapse.RateLimitOverride(gctx, userID)
		return wrap("rate limit", err)
	})
	if err := g.Wait(); err != nil {
		return d, fmt.Errorf("inspect %s: %w", userID, explain(err))
	}
	return d, nil
}

func wrap(what string, err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// nameRooms reads the names of the first namedRooms rooms, several at a
// time; a room whose details cannot be read keeps its ID only.
func (s *Service) nameRooms(ctx context.Context, ids []string) []Room {
	slices.Sort(ids)
	rooms := make([]Room, len(ids))
	var g errgroup.Group
	g.SetLimit(8)
	for i, id := range ids {
		rooms[i].RoomID = id
		if i >= namedRooms {
			continue
		}
		g.Go(func() error {
			if r, err := s.Synapse.Room(ctx, id); err == nil {
				rooms[i].Name, rooms[i].Members = r.Name, r.JoinedMembers
			}
			return nil
		})
	}
	_ = g.Wait()
	return rooms
}

// RoomIDs are the IDs of the rooms the account is joined to.
func (d *Detail) RoomIDs() []string {
	out := make([]string, len(d.Rooms))
	for i, r := range d.Rooms {
		out[i] = r.RoomID
	}
	return out
}

// State is the account's condition in words: "active", "locked, suspended".
func (d *Detail) State() string {
	u := d.User
	var s []string
	add := func(ok bool, w string) {
		if ok {
			s = append(s, w)
		}
	}
	add(u.Deactivated, "deactivated")
	add(u.Erased, "erased")
	add(u.Locked, "locked")
	add(u.Suspended, "suspended")
	add(u.ShadowBan, "shadow-banned")
	if len(s) == 0 {
		return "active"
	}
	return strings.Join(s, ", ")
}

// Lines is the account's impact as plans, dialogs and `users show` print it.
// Display and room names are quoted cleaned (text.Quote).
func (d *Detail) Lines(now time.Time) []string {
	u := d.User
	who := u.Name
	if u.DisplayName != "" {
		who += " " + text.Quote(u.DisplayName)
	}
	kind := "a user"
	if u.Admin {
		kind = "a server admin"
	}
	out := []string{fmt.Sprintf("%s, %s, %s", who, kind, d.State())}
	if d.Self {
		out = append(out, "this is the account synops' admin token belongs to")
	}
	if u.AppserviceID != "" {
		out = append(out, fmt.Sprintf("an application-service user (registered by %s): its bridge or bot may stop working", text.Quote(u.AppserviceID)))
	}
	if u.UserType != "" {
		out = append(out, "user type "+text.Quote(u.UserType))
	}
	if u.CreationTS > 0 {
		out = append(out, "created "+time.Unix(u.CreationTS, 0).UTC().Format("2006-01-02 15:04 MST"))
	}
	out = append(out, roomLine(d.Rooms))
	out = append(out, deviceLine(d.Devices, now))
	if len(d.Sessions) > 0 {
		var ips []string
		for _, c := range d.Sessions {
			if !slices.Contains(ips, c.IP) {
				ips = append(ips, c.IP)
			}
		}
		out = append(out, fmt.Sprintf("seen from %s; last %s", strings.Join(ips, ", "), ago(now, time.UnixMilli(d.Sessions[0].LastSeen))))
	} else {
		out = append(out, "no session recorded")
	}
	out = append(out, fmt.Sprintf("%s, %s", plural(d.Media.Count, "media file"), text.Bytes(d.Media.Bytes)))
	if d.RateLimit != nil {
		out = append(out, fmt.Sprintf("rate-limit override: %d messages/s, burst %d", d.RateLimit.MessagesPerSecond, d.RateLimit.BurstCount))
	}
	if e := d.Disable; e != nil && e.Unfinished() {
		out = append(out, fmt.Sprintf("a disable was left unfinished (%s, %s left so far): synops users disable %s finishes it", e.Stage, plural(len(e.Left), "room"), u.Name))
	}
	return out
}

func roomLine(rooms []Room) string {
	if len(rooms) == 0 {
		return "joined to no room"
	}
	var names []string
	for i, r := range rooms {
		if i == 5 {
			names = append(names, fmt.Sprintf("… %d more", len(rooms)-5))
			break
		}
		if r.Name != "" {
			names = append(names, text.Quote(text.Truncate(r.Name, 40)))
		} else {
			names = append(names, r.RoomID)
		}
	}
	return fmt.Sprintf("joined to %s: %s", plural(len(rooms), "room"), strings.Join(names, ", "))
}

func deviceLine(devs []synapse.Device, now time.Time) string {
	if len(devs) == 0 {
		return "no device (no session)"
	}
	newest := devs[0]
	for _, d := range devs {
		if d.LastSeenTS > newest.LastSeenTS {
			newest = d
		}
	}
	s := plural(len(devs), "device")
	if newest.LastSeenTS > 0 {
		s += fmt.Sprintf(", last used %s from %s", ago(now, time.UnixMilli(newest.LastSeenTS)), newest.LastSeenIP)
	}
	return s
}

func ago(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

// explain adds what to do to the errors an operator meets most.
func explain(err error) error {
	switch {
	case errors.Is(err, synapse.ErrNotFound):
		return fmt.Errorf("%w (no such account on this server: check the ID with synops users list)", err)
	case errors.Is(err, synapse.ErrForbidden):
		return fmt.Errorf("%w (is the token an admin's? synops config check tells)", err)
	case errors.Is(err, synapse.ErrUnknownToken):
		return fmt.Errorf("%w (the admin token was rejected: synops config check tells more)", err)
	}
	var se *synapse.Error
	if errors.As(err, &se) && se.Status == 400 && strings.Contains(se.Message, "local users") {
		return fmt.Errorf("%w (only this server's own accounts can be managed here)", err)
	}
	return err
}

func ptr[T any](v T) *T { return &v }
