package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/charmbracelet/x/term"
	"github.com/spf13/pflag"

	"synops/ops"
	"synops/ops/audit"
	"synops/ops/backup"
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
	w := tabwriter.NewWriter(a.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "USER ID\tDISPLAY NAME\tCREATED\tLAST SEEN\tSTATE")
	for _, u := range list {
		created, seen := "", "never"
		if u.CreationTS > 0 {
			created = time.UnixMilli(u.CreationTS).UTC().Format("2006-01-02")
		}
		if u.LastSeenTS > 0 {
			seen = time.UnixMilli(u.LastSeenTS).UTC().Format("2006-01-02 15:04")
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", text.Clean(u.Name), text.Truncate(text.Clean(u.DisplayName), 30), created, seen, strings.Join(u.Badges(), ","))
	}
	w.Flush()
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
	w := tabwriter.NewWriter(a.stdout, 2, 4, 2, ' ', 0)
	if len(d.Rooms) > 0 {
		fmt.Fprintln(w, "\nROOM ID\tNAME\tMEMBERS")
		for _, r := range d.Rooms {
			fmt.Fprintf(w, "%s\t%s\t%d\n", r.RoomID, text.Truncate(text.Clean(r.Name), 40), r.Members)
		}
	}
	if len(d.Devices) > 0 {
		fmt.Fprintln(w, "\nDEVICE\tNAME\tLAST SEEN\tFROM")
		for _, dv := range d.Devices {
			seen := "never"
			if dv.LastSeenTS > 0 {
				seen = time.UnixMilli(dv.LastSeenTS).UTC().Format("2006-01-02 15:04")
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", text.Clean(dv.DeviceID), text.Truncate(text.Clean(dv.DisplayName), 30), seen, text.Clean(dv.LastSeenIP))
		}
	}
	if len(d.Sessions) > 0 {
		fmt.Fprintln(w, "\nSESSION IP\tLAST SEEN\tCLIENT")
		for _, c := range d.Sessions {
			fmt.Fprintf(w, "%s\t%s\t%s\n", text.Clean(c.IP), time.UnixMilli(c.LastSeen).UTC().Format("2006-01-02 15:04"), text.Truncate(text.Clean(c.UserAgent), 50))
		}
	}
	w.Flush()
	if err != nil {
		fmt.Fprintln(a.stdout, "note:", err)
	}
	return nil
}

// userChange is a command that plans one change to one account, asks for
// approval and applies it, as roomChange does for rooms.
type userChange struct {
	name  string // "users lock"
	usage string
	flags func(fs *pflag.FlagSet) func() error // adds flags; the returned func checks them after parsing
	// request builds the request for the account (it may ask for a password).
	request func(a *app, id string) (users.Request, error)
	// shown prints what the result carries for the operator (a password, a
	// token) after the summary: the only place a secret is ever written.
	shown func(a *app, res *users.Result)
}

// userCmd makes a command of a userChange built fresh for each run.
func userCmd(build func() userChange) func(context.Context, *app, []string) error {
	return func(ctx context.Context, a *app, args []string) error { return build().run(ctx, a, args) }
}

func (uc userChange) run(ctx context.Context, a *app, args []string) error {
	fs := a.flagSet(uc.name)
	check := func() error { return nil }
	if uc.flags != nil {
		if c := uc.flags(fs); c != nil {
			check = c
		}
	}
	var cf changeFlags
	a.addChangeFlags(fs, &cf)
	if err := a.parse(fs, args, uc.usage); err != nil {
		return err
	}
	id, err := oneUserArg(fs.Args(), uc.usage)
	if err != nil {
		return err
	}
	if err := check(); err != nil {
		return usageError("%v (usage: synops %s)", err, uc.usage)
	}
	req, err := uc.request(a, id)
	if err != nil {
		return err
	}
	ue, err := a.users(ctx)
	if err != nil {
		return err
	}
	defer ue.close()
	p, _, err := ue.svc.Plan(ctx, req)
	if errors.Is(err, users.ErrNothingToDo) {
		fmt.Fprintln(a.stdout, err)
		return nil
	}
	if err != nil {
		return err
	}
	ap, err := a.approve(ctx, ue.guard, p, cf)
	if err != nil {
		return err
	}
	res, err := ue.svc.Apply(ctx, p, ap, a.progressLine)
	if err != nil {
		return err
	}
	fmt.Fprintln(a.stdout, res.Summary)
	if uc.shown != nil {
		uc.shown(a, res)
	}
	return nil
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
		flags: func(fs *pflag.FlagSet) func() error {
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
		flags: func(fs *pflag.FlagSet) func() error {
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
		flags: func(fs *pflag.FlagSet) func() error {
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
		flags: func(fs *pflag.FlagSet) func() error {
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
		flags: func(fs *pflag.FlagSet) func() error {
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
	return a.userService(ctx, r)
}

// userService builds the user operations for the resolved configuration,
// with the audit log, the users journal and the debug log in the state
// directory.
func (a *app) userService(ctx context.Context, r *config.Resolved) (*usersEnv, error) {
	token, err := r.LoadToken(ctx)
	if err != nil {
		return nil, err
	}
	client, err := synapse.New(r.HomeserverURL, token)
	if err != nil {
		return nil, err
	}
	auditPath, err := audit.DefaultPath(a.getenv)
	if err != nil {
		return nil, err
	}
	log, err := audit.Open(auditPath, nil)
	if err != nil {
		return nil, err
	}
	dir, err := audit.StateDir(a.getenv)
	if err != nil {
		return nil, err
	}
	journal, err := users.OpenJournal(filepath.Join(dir, "users-journal.json"))
	if err != nil {
		return nil, err
	}
	logger, closeLog, err := openDebugLog(a.getenv)
	if err != nil {
		return nil, err
	}
	if r.ServerName == "" {
		closeLog()
		return nil, fmt.Errorf("the server name is unknown: point -c at homeserver.yaml or set server_name in the profile")
	}
	g := &ops.Guard{ReadOnly: r.ReadOnly, Audit: log, Profile: r.Profile, FreshWithin: r.Backup.FreshWithin}
	if r.Backup.Dir != "" {
		g.Backups = backup.Catalog{Dir: r.Backup.Dir}
	}
	svc := &users.Service{Synapse: client, Guard: g, Journal: journal, Server: r.ServerName,
		Environment: string(r.Environment), Log: logger}
	return &usersEnv{svc: svc, guard: g, close: closeLog}, nil
}
