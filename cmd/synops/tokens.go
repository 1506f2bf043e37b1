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
	"synops/ops/tokens"
	"synops/synapse"
)

// tokenService builds the token rotation service for the resolved
// configuration, with the admin token synops holds now. The console's
// Security pane and status bar use the same one.
// tokenService builds token rotation on b: its client is the token in use,
// its history in the state directory.
func (a *app) tokenService(b *opsBase) *tokens.Service {
	r := b.r
	return &tokens.Service{
		Synapse: b.client,
		Guard:   b.guard,
		History: tokens.OpenHistory(filepath.Join(b.state, "tokens.json")),
		Config:  r.Tokens, Own: r.Token, SharedSecret: r.RegistrationSharedSecret,
		Server: r.ServerName, Environment: string(r.Environment),
	}
}

func (a *app) tokens(ctx context.Context) (*tokens.Service, error) {
	r, err := a.load(ctx)
	if err != nil {
		return nil, err
	}
	b, err := a.opsBase(ctx, r)
	if err != nil {
		return nil, err
	}
	return a.tokenService(b), nil
}

// runTokensStatus is `synops tokens status`: the token's age and where the
// newest rotation stands. Exit 1 when the token is too old, its age is
// unknown, or a rotation waits to be finished or rolled back.
func runTokensStatus(ctx context.Context, a *app, args []string) error {
	const usage = "tokens status [--json]"
	fs := a.flagSet("tokens status")
	asJSON := fs.Bool("json", false, "print the status as JSON")
	if err := a.parse(fs, args, usage); err != nil {
		return err
	}
	if err := noArgs(fs.Args(), usage); err != nil {
		return err
	}
	svc, err := a.tokens(ctx)
	if err != nil {
		return err
	}
	st, err := svc.Status(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		if err := writeJSON(a, st); err != nil {
			return err
		}
	} else {
		age := st.Age
		fmt.Fprintf(a.stdout, "Admin token of %s: %s, %s [%s]\n", svc.Server, age.Hint, age, age.Status)
		fmt.Fprintf(a.stdout, "maximum age: %s (tokens.max_age)\n", config.FormatDuration(age.Max))
		if r := st.Latest; r != nil {
			fmt.Fprintf(a.stdout, "latest rotation %s: %s → %s, %s, started %s\n", r.ID, r.OldAdmin, r.NewAdmin, r.Phase, r.StartedAt.Local().Format("2006-01-02 15:04"))
			for _, t := range r.Targets {
				state := "not written"
				switch {
				case t.Written && t.Backup != "":
					state = "written, previous file in " + t.Backup
				case t.Written:
					state = "written"
				}
				fmt.Fprintf(a.stdout, "  %s: %s\n", t, state)
			}
			if r.Error != "" {
				fmt.Fprintf(a.stdout, "  failed at %q: %s\n", r.Step, r.Error)
			}
			for _, rem := range r.Remaining {
				fmt.Fprintf(a.stdout, "  left to undo: %s\n", rem)
			}
		}
		fmt.Fprintf(a.stdout, "next: %s\n", st.Next)
	}
	if st.Age.Status != tokens.AgeOK || (st.Latest != nil && st.Latest.Open()) {
		return silentExit(1)
	}
	return nil
}

// tokenChange is a change to the admin token: rotate, finish, rollback.
type tokenChange = change[*tokens.Service]

func tokenChangeOf(name, usage string) tokenChange {
	return tokenChange{name: name, usage: usage,
		env: func(ctx context.Context, a *app) (*tokens.Service, *ops.Guard, func(), error) {
			svc, err := a.tokens(ctx)
			if err != nil {
				return nil, nil, nil, err
			}
			return svc, svc.Guard, func() {}, nil
		}}
}

// tokensRotate is `synops tokens rotate`: plan, typed approval (the server
// name), apply with progress on stderr.
func tokensRotate() tokenChange {
	var req tokens.RotateRequest
	var pwStdin bool
	c := tokenChangeOf("tokens rotate", "tokens rotate [--new-admin NAME] [--login-as @admin:server [--password-stdin]] [--yes --confirm=SERVER_NAME]")
	c.flags = func(fs *pflag.FlagSet, cf *changeFlags) func() error {
		fs.StringVar(&req.NewAdmin, "new-admin", "", "the new admin's name (default <tokens.admin_prefix>_<year>_<month>, e.g. admin_2026_12)")
		fs.StringVar(&req.LoginAs, "login-as", "", "without the registration shared secret: an existing admin who logs in on a new device (asks for the password)")
		fs.BoolVar(&pwStdin, "password-stdin", false, "read --login-as's password from the first line of standard input")
		return func() error {
			switch {
			case req.LoginAs != "" && req.NewAdmin != "":
				return errors.New("--login-as logs an existing admin in: it does not go with --new-admin")
			case pwStdin && req.LoginAs == "":
				return errors.New("--password-stdin is for --login-as's password")
			case pwStdin && !cf.yes:
				return errors.New("--password-stdin takes standard input, so approve with --yes --confirm=<server name>")
			}
			return nil
		}
	}
	c.plan = func(ctx context.Context, a *app, svc *tokens.Service, _ string) (*ops.Plan, error) {
		if req.LoginAs != "" {
			pw, err := a.readPassword(req.LoginAs, pwStdin)
			if err != nil {
				return nil, err
			}
			req.Password = pw
		}
		return svc.PlanRotate(ctx, req)
	}
	c.apply = func(ctx context.Context, a *app, svc *tokens.Service, p *ops.Plan, ap ops.Approval) (string, error) {
		rot, err := svc.ApplyRotate(ctx, p, ap, a.progressLine)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(a.stdout, "rotated: %s's token %s is in place and works as an admin's\n", rot.NewAdmin, rot.NewHint)
		for _, t := range rot.Targets {
			fmt.Fprintf(a.stdout, "  written to %s\n", t)
		}
		if svc.Own.File == "" {
			fmt.Fprintf(a.stdout, "synops reads its own token from %s: give it the new token (it is in the files above)\n", ownSource(svc.Own))
		}
		return fmt.Sprintf("the old token %s of %s still works: when the application runs on the new one, `synops tokens finish` logs it out (type %s); `synops tokens rollback` undoes the rotation",
			rot.OldHint, rot.OldAdmin, rot.OldAdmin), nil
	}
	return c
}

// readPassword asks for user's password on the terminal without echo, or
// reads the first line of standard input.
func (a *app) readPassword(user string, fromStdin bool) (synapse.Secret, error) {
	if fromStdin {
		line, err := bufio.NewReader(a.stdin).ReadString('\n')
		if err != nil && line == "" {
			return synapse.Secret{}, fmt.Errorf("read the password from standard input: %w", err)
		}
		return synapse.NewSecret(strings.TrimRight(line, "\r\n")), nil
	}
	in, ok := a.stdin.(*os.File)
	if !ok || !term.IsTerminal(in.Fd()) {
		return synapse.Secret{}, usageError("--login-as needs %s's password: type it on a terminal, or pass --password-stdin", user)
	}
	fmt.Fprintf(a.stderr, "password of %s: ", user)
	pw, err := term.ReadPassword(in.Fd())
	fmt.Fprintln(a.stderr)
	if err != nil {
		return synapse.Secret{}, fmt.Errorf("read the password: %w", err)
	}
	return synapse.NewSecret(string(pw)), nil
}

func ownSource(t config.TokenSource) string {
	switch {
	case t.File != "":
		return "token file " + t.File
	case len(t.Command) > 0:
		return "the command " + t.Command[0]
	case t.Env != "":
		return "$" + t.Env
	}
	return "$" + config.DefaultTokenEnv
}

// tokensFinish is `synops tokens finish`: the final step of a rotation,
// approved by typing the old admin's user ID.
func tokensFinish() tokenChange {
	var req tokens.FinishRequest
	c := tokenChangeOf("tokens finish", "tokens finish [--deactivate-old] [--yes --confirm=@old_admin:server]")
	c.flags = func(fs *pflag.FlagSet, _ *changeFlags) func() error {
		fs.BoolVar(&req.DeactivateOld, "deactivate-old", false, "also deactivate the old admin (never the one now in use)")
		return nil
	}
	c.plan = func(ctx context.Context, _ *app, svc *tokens.Service, _ string) (*ops.Plan, error) {
		return svc.PlanFinish(ctx, req)
	}
	c.apply = func(ctx context.Context, a *app, svc *tokens.Service, p *ops.Plan, ap ops.Approval) (string, error) {
		res, err := svc.ApplyFinish(ctx, p, ap, a.progressLine)
		if err != nil {
			return "", err
		}
		msg := "finished: the old token is logged out and refused by the server"
		if res.Deactivated != "" {
			msg += "; " + res.Deactivated + " is deactivated"
		}
		return msg, nil
	}
	return c
}

// tokensRollback is `synops tokens rollback`: undo an unfinished rotation,
// approved by typing the new admin's user ID.
func tokensRollback() tokenChange {
	c := tokenChangeOf("tokens rollback", "tokens rollback [--yes --confirm=@new_admin:server]")
	c.plan = func(ctx context.Context, _ *app, svc *tokens.Service, _ string) (*ops.Plan, error) {
		return svc.PlanRollback(ctx)
	}
	c.apply = func(ctx context.Context, a *app, svc *tokens.Service, p *ops.Plan, ap ops.Approval) (string, error) {
		rot, err := svc.ApplyRollback(ctx, p, ap, a.progressLine)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("rolled back at %s: the old token %s of %s is in use again", time.Now().Format("15:04:05"), rot.OldHint, rot.OldAdmin), nil
	}
	return c
}
