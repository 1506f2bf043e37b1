package tui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"synops/ops"
	"synops/ops/config"
	"synops/ops/rooms"
	"synops/ops/text"
	"synops/ops/users"
)

// UsersSource is what the Users pane reads and changes; *users.Service is one.
type UsersSource interface {
	List(ctx context.Context, f users.Filter) ([]users.User, error)
	Inspect(ctx context.Context, userID string) (*users.Detail, error)
	Plan(ctx context.Context, req users.Request) (*ops.Plan, *users.Detail, error)
	Apply(ctx context.Context, p *ops.Plan, a ops.Approval, progress func(ops.Progress)) (*users.Result, error)
	Interrupted() []users.Entry
}

type usersLoadedMsg struct {
	gen         int
	users       []users.User
	interrupted int // disables earlier runs left unfinished
	err         error
	at          time.Time
}

// UsersPane is the table of every account with its detail (devices, rooms,
// sessions) and seed 004's account actions behind typed approval.
type UsersPane struct {
	listPane[users.User]
	src UsersSource
}

// NewUsersPane builds the pane over src.
func NewUsersPane(c *Common, src UsersSource) *UsersPane {
	p := &UsersPane{listPane: listPane[users.User]{c: c, owner: ownerUsers}, src: src}
	p.table = NewTable(c, p.columns(), 0,
		func(u *users.User) string { return u.Name },
		func(u *users.User) string { return strings.ToLower(u.Name + "\x00" + u.DisplayName) })
	p.actions = NewActions(c, p.userActions(src)...)
	return p
}

func (p *UsersPane) columns() []Column[users.User] {
	return []Column[users.User]{
		{Title: "User", Min: 24, Max: 40, Cell: func(u *users.User) string { return u.Name }, SortText: func(u *users.User) string { return u.Name }},
		{Title: "Display name", Cell: func(u *users.User) string { return u.DisplayName },
			SortText: func(u *users.User) string { return strings.ToLower(u.DisplayName) }},
		{Title: "Admin", Width: 5, Cell: func(u *users.User) string { return map[bool]string{true: "yes"}[u.Admin] },
			Less: func(a, b *users.User) bool { return !a.Admin && b.Admin }},
		{Title: "State", Width: 16, Cell: state, SortText: state},
		{Title: "Created", Width: 10, Cell: func(u *users.User) string { return day(u.CreationTS) },
			Less: func(a, b *users.User) bool { return a.CreationTS < b.CreationTS }},
		{Title: "Seen", Width: 5, Cell: func(u *users.User) string {
			if u.LastSeenTS == 0 {
				return "—"
			}
			return rooms.Age(p.c.Now().Sub(time.UnixMilli(u.LastSeenTS)))
		}, Less: func(a, b *users.User) bool { return a.LastSeenTS > b.LastSeenTS }}, // most recent first
	}
}

// state is an account's badges but admin ("self locked"); an erased account
// is deactivated, so "erased" says both.
func state(u *users.User) string {
	var out []string
	for _, b := range u.Badges() {
		if b != "admin" && (b != "deactivated" || !u.Erased) {
			out = append(out, b)
		}
	}
	return strings.Join(out, " ")
}

func day(ms int64) string {
	if ms == 0 {
		return "—"
	}
	return time.UnixMilli(ms).UTC().Format("2006-01-02")
}

// userActions are the pane's actions: one Change per account action of
// ops/users, planned and applied through src only.
func (p *UsersPane) userActions(src UsersSource) []Action {
	change := func(act users.Action, title string, ask *Ask, req func(id, answer string) (users.Request, error)) *Change {
		return &Change{Title: title, Ask: ask,
			Plan: func(ctx context.Context, id, answer string) (*ops.Plan, error) {
				r, err := req(id, answer)
				if err != nil {
					return nil, err
				}
				pl, _, err := src.Plan(ctx, r)
				return pl, err
			},
			Apply: func(ctx context.Context, pl *ops.Plan, a ops.Approval, progress func(ops.Progress)) (JobResult, error) {
				res, err := src.Apply(ctx, pl, a, progress)
				if res == nil {
					return Done("", err)
				}
				return JobResult{Summary: res.Summary, Value: res}, err
			}}
	}
	plain := func(act users.Action) func(id, _ string) (users.Request, error) {
		return func(id, _ string) (users.Request, error) { return users.Request{Action: act, UserID: id}, nil }
	}
	act := func(name, k, help string, a users.Action, title string, footer bool) Action {
		return Action{Name: name, Key: key.NewBinding(key.WithKeys(k), key.WithHelp(k, help)), Footer: footer,
			Palette: "users: " + a.Verb() + " the selected account", Mutates: true, InSubView: true,
			Change: change(a, title, nil, plain(a))}
	}
	loginAs := act("login-as", "i", "log in as", users.LoginAs, "Log in as", false)
	loginAs.Change = change(users.LoginAs, "Log in as", &Ask{
		Prompt: func(id string) string { return "log in as " + id + " for how long (default 1h): " },
		Check:  func(s string) error { _, err := validity(s); return err },
	}, func(id, answer string) (users.Request, error) {
		d, err := validity(answer)
		return users.Request{Action: users.LoginAs, UserID: id, ValidFor: d}, err
	})
	erase := act("erase", "E", "erase", users.Erase, "Erase account", false)
	erase.Change = change(users.Erase, "Erase account", &Ask{
		Prompt: func(id string) string { return "erase " + id + ": also redact its messages? (yes/no): " },
		Check:  func(s string) error { _, err := yesNo(s); return err },
	}, func(id, answer string) (users.Request, error) {
		redact, err := yesNo(answer)
		return users.Request{Action: users.Erase, UserID: id, Redact: redact}, err
	})
	return []Action{
		{Name: "open", Key: key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "details")), Footer: true, Do: p.open},
		{Name: "reload", Key: p.c.Keys.Refresh, Palette: "users: reload", Do: func(string) tea.Cmd { return p.load() }},
		act("disable", "d", "disable access", users.Disable, "Disable access", true),
		act("enable", "e", "enable access", users.Enable, "Enable access", true),
		act("lock", "l", "lock", users.Lock, "Lock account", false),
		act("unlock", "u", "unlock", users.Unlock, "Unlock account", false),
		act("suspend", "z", "suspend", users.Suspend, "Suspend account", false),
		act("unsuspend", "Z", "unsuspend", users.Unsuspend, "Lift suspension", false),
		act("reset-password", "p", "reset password", users.ResetPassword, "Reset password", false),
		act("grant-admin", "a", "grant admin", users.GrantAdmin, "Grant admin", false),
		act("revoke-admin", "A", "revoke admin", users.RevokeAdmin, "Revoke admin", false),
		loginAs,
		act("redact", "R", "redact messages", users.RedactEvents, "Redact messages", false),
		act("deactivate", "D", "deactivate", users.Deactivate, "Deactivate account", true),
		erase,
	}
}

// validity is a login-as lifetime: empty for the default hour.
func validity(s string) (time.Duration, error) {
	if s == "" {
		return users.DefaultLoginValidity, nil
	}
	d, err := config.ParseDuration(s)
	if err == nil && d <= 0 {
		err = errors.New("give a lifetime of more than 0, e.g. 1h")
	}
	return d, err
}

func yesNo(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "yes", "y":
		return true, nil
	case "no", "n":
		return false, nil
	}
	return false, errors.New("answer yes or no")
}

func (p *UsersPane) Init() tea.Cmd { return p.load() }

func (p *UsersPane) load() tea.Cmd {
	gen := p.list.begin()
	ctx, src, now := p.c.Ctx, p.src, p.c.Now
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		us, err := src.List(ctx, users.Filter{All: true})
		return usersLoadedMsg{gen: gen, users: us, interrupted: len(src.Interrupted()), err: err, at: now()}
	}
}

func (p *UsersPane) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case usersLoadedMsg:
		if p.list.done(msg.gen, msg.interrupted, msg.err, msg.at) {
			p.table.SetRows(msg.users)
		}
		return nil
	case JobDoneMsg:
		return p.changed(msg)
	case ServerResetMsg:
		p.sub.Close()
		return p.load()
	case ActionMsg:
		return p.action(msg.Action)
	case tea.KeyPressMsg:
		return p.key(msg)
	}
	return p.sub.Update(msg)
}

// changed follows one of the pane's changes ending: a password or token the
// change made is shown once, and the list is read again.
func (p *UsersPane) changed(msg JobDoneMsg) tea.Cmd {
	if msg.Owner != ownerUsers || errors.Is(msg.Err, ops.ErrNothingToDo) {
		return nil
	}
	cmds := []tea.Cmd{p.load()}
	if res, ok := msg.Result.Value.(*users.Result); ok && res != nil {
		switch {
		case !res.Password.IsZero():
			cmds = append(cmds, Reveal("New password for "+msg.Target, res.Password, "shown once: give it to the account's owner now"))
		case !res.Token.IsZero():
			cmds = append(cmds, Reveal("Access token acting as "+msg.Target, res.Token,
				"shown once; valid until "+res.ValidUntil.UTC().Format(time.RFC3339)+"; log it out when done"))
		}
	}
	if msg.Err == nil {
		if d, ok := p.sub.cur.(*detailView); ok {
			cmds = append(cmds, p.open(d.key)) // the detail as it is now
		}
	}
	return tea.Batch(cmds...)
}

func (p *UsersPane) open(id string) tea.Cmd {
	src := p.src
	return openInspect(&p.listPane, id, "User", func(ctx context.Context, id string) (*users.Detail, error) { return src.Inspect(ctx, id) }, userLines)
}

// userLines is an account's detail: its impact lines, then its devices,
// rooms and sessions with their addresses.
func userLines(s *Styles, d *users.Detail, now time.Time) []string {
	var out []string
	for _, l := range d.Lines(now) {
		out = append(out, text.Clean(l))
	}
	out = append(out, "", s.Group.Render(fmt.Sprintf("Devices (%d)", len(d.Devices))))
	for _, dev := range d.Devices {
		seen := "never used"
		if dev.LastSeenTS > 0 {
			seen = "last " + rooms.Age(now.Sub(time.UnixMilli(dev.LastSeenTS))) + " ago from " + dev.LastSeenIP
		}
		out = append(out, "  "+text.Clean(dev.DeviceID+" "+text.Quote(dev.DisplayName)+" · "+seen))
	}
	out = append(out, "", s.Group.Render(fmt.Sprintf("Rooms (%d)", len(d.Rooms))))
	for _, r := range d.Rooms {
		out = append(out, "  "+text.Clean(r.RoomID+" "+text.Quote(r.Name)))
	}
	out = append(out, "", s.Group.Render(fmt.Sprintf("Sessions (%d)", len(d.Sessions))))
	for _, c := range d.Sessions {
		out = append(out, "  "+text.Clean(fmt.Sprintf("%s · last %s ago · %s", c.IP, rooms.Age(now.Sub(time.UnixMilli(c.LastSeen))), c.UserAgent)))
	}
	return out
}

func (p *UsersPane) View() string {
	note := fmt.Sprintf("unfinished disables: %d", p.list.interrupted)
	if a := p.actions.Find("disable"); a != nil {
		note += " (" + a.Key.Help().Key + " on the account finishes it)"
	}
	return p.view("Users", "accounts", note, "no accounts")
}
