package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/charmbracelet/x/term"
	"github.com/spf13/pflag"

	"synops/ops"
	"synops/ops/config"
	"synops/ops/text"
	"synops/ops/users"
	"synops/synapse"
)

// userSorts maps the --sort names of users list to Synapse's order_by values.
var userSorts = map[string]string{
	"id": "name", "name": "displayname", "created": "creation_ts", "last-seen": "last_seen_ts",
	"admin": "admin", "type": "user_type",
}

func runUsersList(ctx context.Context, a *app, args []string) error {
	const usage = "users list [--json] [--search TEXT] [--admins] [--deactivated | --all] [--locked] [--sort id|name|created|last-seen] [--reverse]"
	fs := a.flagSet("users list")
	asJSON := fs.Bool("json", false, "one JSON array of accounts")
	search := fs.String("search", "", "accounts whose localpart or display name contains TEXT")
	admins := fs.Bool("admins", false, "only server admins")
	deactivated := fs.Bool("deactivated", false, "only deactivated accounts (default: only active ones)")
	all := fs.Bool("all", false, "active and deactivated accounts")
	locked := fs.Bool("locked", false, "only locked accounts")
	sortBy := fs.String("sort", "id", "order: id, name, created, last-seen, admin, type")
	reverse := fs.Bool("reverse", false, "reverse the order")
	if err := a.parse(fs, args, usage); err != nil {
		return err
	}
	if err := noArgs(fs.Args(), usage); err != nil {
		return err
	}
	col, ok := userSorts[*sortBy]
	if !ok {
		return usageError("--sort %q is not a column: use id, name, created, last-seen, admin or type", *sortBy)
	}
	if *deactivated && *all {
		return usageError("--deactivated and --all exclude each other")
	}
	ue, err := a.users(ctx)
	if err != nil {
		return err
	}
	defer ue.close()
	list, err := ue.svc.List(ctx, users.Filter{Search: *search, Admins: *admins, Deactivated: *deactivated, Locked: *locked,
		All: *all, OrderBy: col, Reverse: *reverse})
	if err != nil {
		return err
	}
	if *asJSON {
		type row struct {
			users.User
			Badges []string `json:"badges"`
		}
		rows := make([]row, len(list))
		for i, u := range list {
			rows[i] = row{User: u, Badges: u.Badges()}
		}
		return writeJSON(a, rows)
	}
	rows := make([][]string, 0, len(list))
	for _, u := range list {
		created, seen := "", "never"
		if u.CreationTS > 0 {
			created = time.UnixMilli(u.CreationTS).UTC().Format("2006-01-02")
		}
		if u.LastSeenTS > 0 {
			seen = time.UnixMilli(u.LastSeenTS).UTC().Format("2006-01-02 15:04")
		}
		rows = append(rows, []string{u.Name, text.Truncate(text.Clean(u.DisplayName), 30), created, seen, strings.Join(u.Badges(), ",")})
	}
	a.table([]string{"USER ID", "DISPLAY NAME", "CREATED", "LAST SEEN", "STATE"}, rows)
	fmt.Fprintf(a.stdout, "%d accounts\n", len(list))
	if n := len(ue.svc.Journal.Unfinished()); n > 0 {
		fmt.Fprintf(a.stderr, "note: %d disables were left unfinished; synops users show names them, synops users disable finishes each\n", n)
	}
	return nil
}

func runUsersShow(ctx context.Context, a *app, args []string) error {
	const usage = "users show USER_ID [--json]"
	fs := a.flagSet("users show")
	asJSON := fs.Bool("json", false, "print the account as JSON")
	if err := a.parse(fs, args, usage); err != nil {
		return err
	}
	id, err := oneUserArg(fs.Args(), usage)
	if err != nil {
		return err
	}
	ue, err := a.users(ctx)
	if err != nil {
		return err
	}
	defer ue.close()
	d, err := ue.svc.Inspect(ctx, id)
	if err != nil && (d == nil || d.User == nil) {
		return err
	}
	if *asJSON {
		return writeJSON(a, d)
	}
	for _, l := range d.Lines(time.Now()) {
		fmt.Fprintln(a.stdout, text.Clean(l))
	}
	if len(d.Rooms) > 0 {
		var rows [][]string
		for _, r := range d.Rooms {
			rows = append(rows, []string{r.RoomID, text.Truncate(text.Clean(r.Name), 40), fmt.Sprint(r.Members)})
		}
		fmt.Fprintln(a.stdout)
		a.table([]string{"ROOM ID", "NAME", "MEMBERS"}, rows)
	}
	if len(d.Devices) > 0 {
		var rows [][]string
		for _, dv := range d.Devices {
			seen := "never"
			if dv.LastSeenTS > 0 {
				seen = time.UnixMilli(dv.LastSeenTS).UTC().Format("2006-01-02 15:04")
			}
			rows = append(rows, []string{dv.DeviceID, text.Truncate(text.Clean(dv.DisplayName), 30), seen, dv.LastSeenIP})
		}
		fmt.Fprintln(a.stdout)
		a.table([]string{"DEVICE", "NAME", "LAST SEEN", "FROM"}, rows)
	}
	if len(d.Sessions) > 0 {
		var rows [][]string
		for _, c := range d.Sessions {
			rows = append(rows, []string{c.IP, time.UnixMilli(c.LastSeen).UTC().Format("2006-01-02 15:04"), text.Truncate(text.Clean(c.UserAgent), 50)})
		}
		fmt.Fprintln(a.stdout)
		a.table([]string{"SESSION IP", "LAST SEEN", "CLIENT"}, rows)
	}
	if err != nil {
		fmt.Fprintln(a.stdout, "note:", err)
	}
	return nil
}

// userChange is a change to one account, as the users commands declare it:
// the request built from the flags (it may ask for a password) and what the
// result shows the operator besides its summary (a password, a token: the
// only place a secret is ever written).
type userChange struct {
	name    string // "users lock"
	usage   string
	flags   func(fs *pflag.FlagSet, cf *changeFlags) func() error
	request func(a *app, id string) (users.Request, error)
	shown   func(a *app, res *users.Result)
}

// userCmd makes a command of a userChange built fresh for each run.
func userCmd(build func() userChange) func(context.Context, *app, []string) error {
	return changeCmd(func() change[*usersEnv] { return build().change() })
}

func (uc userChange) change() change[*usersEnv] {
	return change[*usersEnv]{name: uc.name, usage: uc.usage, target: oneUserArg, flags: uc.flags,
		env: func(ctx context.Context, a *app) (*usersEnv, *ops.Guard, func(), error) {
			ue, err := a.users(ctx)
			if err != nil {
				return nil, nil, nil, err
			}
			return ue, ue.guard, ue.close, nil
		},
		plan: func(ctx context.Context, a *app, ue *usersEnv, id string) (*ops.Plan, error) {
			req, err := uc.request(a, id)
			if err != nil {
				return nil, err
			}
			p, _, err := ue.svc.Plan(ctx, req)
			return p, err
		},
		apply: func(ctx context.Context, a *app, ue *usersEnv, p *ops.Plan, ap ops.Approval) (string, error) {
			res, err := ue.svc.Apply(ctx, p, ap, a.progressLine)
			if err != nil {
				return "", err
			}
			fmt.Fprintln(a.stdout, res.Summary)
			if uc.shown != nil {
				uc.shown(a, res)
			}
			return "", nil
		}}
}

// simpleUserChange is an action with no options of its own.
func simpleUserChange(action users.Action, name string) func() userChange {
	return func() userChange {
		return userChange{
			name:    "users " + name,
			usage:   "users " + name + " USER_ID [--yes --confirm=USER_ID]",
			request: func(_ *app, id string) (users.Request, error) { return users.Request{Action: action, UserID: id}, nil },
		}
	}
}

func usersDeactivate() userChange {
	var erase, redact bool
	return userChange{
		name:  "users deactivate",
		usage: "users deactivate USER_ID [--erase [--redact-events]] [--yes --confirm=USER_ID] [--without-backup]",
		flags: func(fs *pflag.FlagSet, _ *changeFlags) func() error {
			fs.BoolVar(&erase, "erase", false, "also GDPR-erase the account: its display name and avatar go, and it is marked erased (irreversible)")
			fs.BoolVar(&redact, "redact-events", false, "with --erase: also redact its messages in every room it has been in")
			return func() error {
				if redact && !erase {
					return errors.New("--redact-events goes with --erase (or use synops users redact-events)")
				}
				return nil
			}
		},
		request: func(_ *app, id string) (users.Request, error) {
			if erase {
				return users.Request{Action: users.Erase, UserID: id, Redact: redact}, nil
			}
			return users.Request{Action: users.Deactivate, UserID: id}, nil
		},
	}
}

func usersAdmin() userChange {
	var grant, revoke bool
	return userChange{
		name:  "users admin",
		usage: "users admin USER_ID (--grant | --revoke) [--yes --confirm=USER_ID]",
		flags: func(fs *pflag.FlagSet, _ *changeFlags) func() error {
			fs.BoolVar(&grant, "grant", false, "make the account a server admin")
			fs.BoolVar(&revoke, "revoke", false, "take the server admin flag away")
			return func() error {
				if grant == revoke {
					return errors.New("give exactly one of --grant and --revoke")
				}
				return nil
			}
		},
		request: func(_ *app, id string) (users.Request, error) {
			if grant {
				return users.Request{Action: users.GrantAdmin, UserID: id}, nil
			}
			return users.Request{Action: users.RevokeAdmin, UserID: id}, nil
		},
	}
}

func usersResetPassword() userChange {
	var keep, typeIt, fromStdin bool
	return userChange{
		name:  "users reset-password",
		usage: "users reset-password USER_ID [--keep-devices] [--type-password | --password-stdin] [--yes --confirm=USER_ID]",
		flags: func(fs *pflag.FlagSet, _ *changeFlags) func() error {
			fs.BoolVar(&keep, "keep-devices", false, "keep the account's sessions (default: log every device out)")
			fs.BoolVar(&typeIt, "type-password", false, "type the new password twice on the terminal (default: synops generates one and shows it once)")
			fs.BoolVar(&fromStdin, "password-stdin", false, "read the new password from the first line of stdin (then approve with --yes --confirm)")
			return func() error {
				if typeIt && fromStdin {
					return errors.New("--type-password and --password-stdin exclude each other")
				}
				return nil
			}
		},
		request: func(a *app, id string) (users.Request, error) {
			req := users.Request{Action: users.ResetPassword, UserID: id, KeepDevices: keep}
			var err error
			switch {
			case typeIt:
				req.Password, err = a.typePassword()
			case fromStdin:
				req.Password, err = a.stdinPassword()
			}
			if err == nil && !req.Password.IsZero() {
				err = users.CheckPassword(req.Password)
			}
			return req, err
		},
		shown: func(a *app, res *users.Result) {
			if res.Password.IsZero() {
				return
			}
			fmt.Fprintln(a.stdout, "new password (shown this once; synops keeps no copy):")
			fmt.Fprintln(a.stdout, res.Password.Reveal())
		},
	}
}

func usersLoginAs() userChange {
	var validFor string
	var d time.Duration
	return userChange{
		name:  "users login-as",
		usage: "users login-as USER_ID [--valid-for 1h] [--yes --confirm=USER_ID]",
		flags: func(fs *pflag.FlagSet, _ *changeFlags) func() error {
			fs.StringVar(&validFor, "valid-for", "1h", "how long the token works (at most 7d)")
			return func() (err error) {
				if d, err = config.ParseDuration(validFor); err != nil {
					return fmt.Errorf("--valid-for: %w", err)
				}
				if d <= 0 {
					return errors.New("--valid-for must be more than 0, e.g. 1h")
				}
				return nil
			}
		},
		request: func(_ *app, id string) (users.Request, error) {
			return users.Request{Action: users.LoginAs, UserID: id, ValidFor: d}, nil
		},
		shown: func(a *app, res *users.Result) {
			fmt.Fprintln(a.stdout, "access token (shown this once; synops keeps no copy; whoever holds it acts as the account):")
			fmt.Fprintln(a.stdout, res.Token.Reveal())
		},
	}
}

func usersRedactEvents() userChange {
	var rooms []string
	var reason string
	return userChange{
		name:  "users redact-events",
		usage: "users redact-events USER_ID [--room ROOM_ID]... [--reason TEXT] [--yes --confirm=USER_ID] [--without-backup]",
		flags: func(fs *pflag.FlagSet, _ *changeFlags) func() error {
			fs.StringArrayVar(&rooms, "room", nil, "only in this room (repeatable; default: every room the account has been in)")
			fs.StringVar(&reason, "reason", "", "the reason the redactions carry")
			return func() error {
				for _, r := range rooms {
					if err := synapse.ValidateRoomID(r); err != nil {
						return err
					}
				}
				return nil
			}
		},
		request: func(_ *app, id string) (users.Request, error) {
			return users.Request{Action: users.RedactEvents, UserID: id, Rooms: rooms, Reason: reason}, nil
		},
	}
}

// typePassword reads a new password twice from the terminal, unechoed.
func (a *app) typePassword() (synapse.Secret, error) {
	in, ok := a.stdin.(*os.File)
	if !ok || !a.interactive() {
		return synapse.Secret{}, usageError("--type-password needs a terminal; scripts use --password-stdin")
	}
	read := func(prompt string) (string, error) {
		fmt.Fprint(a.stderr, prompt)
		b, err := term.ReadPassword(in.Fd())
		fmt.Fprintln(a.stderr)
		return string(b), err
	}
	first, err := read("New password: ")
	if err != nil {
		return synapse.Secret{}, fmt.Errorf("read the password: %w", err)
	}
	again, err := read("Type it again: ")
	if err != nil {
		return synapse.Secret{}, fmt.Errorf("read the password: %w", err)
	}
	if first != again {
		return synapse.Secret{}, errors.New("the two passwords differ; nothing was changed")
	}
	return synapse.NewSecret(first), nil
}

// stdinPassword reads the first line of stdin as the password.
func (a *app) stdinPassword() (synapse.Secret, error) {
	line, err := bufio.NewReader(a.stdin).ReadString('\n')
	if err != nil && line == "" {
		return synapse.Secret{}, errors.New("--password-stdin: stdin holds no password")
	}
	return synapse.NewSecret(strings.TrimRight(line, "\r\n")), nil
}

func oneUserArg(args []string, usage string) (string, error) {
	if len(args) != 1 {
		return "", usageError("give exactly one user ID (usage: synops %s)", usage)
	}
	if err := synapse.ValidateUserID(args[0]); err != nil {
		return "", usageError("%v", err)
	}
	return args[0], nil
}

// usersEnv is a users service and what must be closed after it.
type usersEnv struct {
	svc   *users.Service
	guard *ops.Guard
	close func()
}

func (a *app) users(ctx context.Context) (*usersEnv, error) {
	r, err := a.load(ctx)
	if err != nil {
		return nil, err
	}
	b, err := a.opsBase(ctx, r)
	if err != nil {
		return nil, err
	}
	return a.userService(b)
}

// userService builds the user operations on b, with the users journal and
// the debug log in the state directory.
func (a *app) userService(b *opsBase) (*usersEnv, error) {
	journal, err := users.OpenJournal(filepath.Join(b.state, "users-journal.json"))
	if err != nil {
		return nil, err
	}
	logger, closeLog, err := openDebugLog(a.getenv)
	if err != nil {
		return nil, err
	}
	svc := &users.Service{Synapse: b.client, Guard: b.guard, Journal: journal, Server: b.r.ServerName,
		Environment: string(b.r.Environment), Log: logger}
	return &usersEnv{svc: svc, guard: b.guard, close: closeLog}, nil
}
