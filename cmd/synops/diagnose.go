package main

import (
	"context"
	"fmt"
	"time"

	"synops/ops/config"
	"synops/ops/diagnose"
	"synops/ops/health"
	"synops/ops/tokens"
	"synops/synapse"
)

// diagnoseDeps is what the troubleshooting checks may use on this profile:
// the console's Health pane and `synops diagnose` share it.
func diagnoseDeps(r *config.Resolved, client *synapse.Client) diagnose.Deps {
	return diagnose.Deps{
		Synapse: client, SynapseDB: r.SynapseDB.Raw, Homeserver: r.Homeserver, HomeserverYAML: r.HomeserverYAML,
		MetricsURLs: r.MetricsURLs, Services: r.Services, LogFile: r.LogFile,
		AppTokens: func() []diagnose.AppToken { return appTokens(r) },
		AppDB:     r.AppDB.Raw, UserStatusSQL: r.Diagnose.UserStatus, ActiveStatus: r.Diagnose.Active,
	}
}

// appTokens reads the token from each file the application reads it from
// (tokens.write_to, where a reset or a rotation writes it): read when the
// check runs, so it sees what a reset just wrote.
func appTokens(r *config.Resolved) []diagnose.AppToken {
	var out []diagnose.AppToken
	for _, t := range tokens.Targets(config.TokenSource{}, r.Tokens.WriteTo) {
		if t.Kind == tokens.KindCommand {
			continue
		}
		tok, err := t.Read()
		out = append(out, diagnose.AppToken{Where: t.String(), Token: tok, Err: err})
	}
	return out
}

// runDiagnose is `synops diagnose [SYMPTOM]`: the troubleshooting checks of
// seeds 000 and 004 headless, one symptom or all of them. The exit status
// is that of `synops health`: 0 ok, 1 warning, 2 critical.
func runDiagnose(ctx context.Context, a *app, args []string) error {
	const usage = "diagnose [SYMPTOM] [--room ROOM_ID] [--user ID] [--json] [--timeout 5s]"
	fs := a.flagSet("diagnose")
	asJSON := fs.Bool("json", false, `print {"status", "verdicts"} as JSON`)
	room := fs.String("room", "", "the room that fails (users cannot join rooms, room sync failing)")
	user := fs.String("user", "", "the user of user-not-active: the application's user ID, or a Matrix ID")
	timeout := new(time.Duration)
	fs.Var(config.NewDurationValue(timeout, 5*time.Second), "timeout", "time limit of each check")
	if err := a.parse(fs, args, usage); err != nil {
		return err
	}
	var ids []string
	switch len(fs.Args()) {
	case 0:
		for _, s := range diagnose.Symptoms() {
			if s.ID == diagnose.UserNotActive && *user == "" {
				continue // it needs a user
			}
			ids = append(ids, s.ID)
		}
	case 1:
		ids = []string{fs.Args()[0]}
	default:
		return usageError("one symptom at most (usage: synops %s)", usage)
	}
	if *timeout <= 0 {
		return usageError("--timeout must be more than 0")
	}
	if *room != "" {
		if err := synapse.ValidateRoomID(*room); err != nil {
			return usageError("--room: %v", err)
		}
	}
	r, err := a.load(ctx)
	if err != nil {
		return err
	}
	token, _ := r.LoadToken(ctx)
	client, err := synapse.New(r.HomeserverURL, token, synapse.WithRetries(0))
	if err != nil {
		return err
	}
	d := diagnoseDeps(r, client)
	d.RoomID, d.User, d.Timeout = *room, *user, *timeout
	var verdicts []diagnose.Verdict
	worst := health.Unknown
	for _, id := range ids {
		v, err := diagnose.Run(ctx, d, id)
		if err != nil {
			return usageError("%v", err)
		}
		verdicts = append(verdicts, v)
		worst = max(worst, v.Status)
	}
	if *asJSON {
		if err := writeJSON(a, struct {
			Status   health.Status      `json:"status"`
			Verdicts []diagnose.Verdict `json:"verdicts"`
		}{worst, verdicts}); err != nil {
			return err
		}
	} else {
		for i, v := range verdicts {
			if i > 0 {
				fmt.Fprintln(a.stdout)
			}
			fmt.Fprintf(a.stdout, "%s: %s\n  %s\n", v.Symptom.Title, v.Status, v.Summary)
			for _, f := range v.Findings {
				fmt.Fprintf(a.stdout, "  [%s] %s: %s\n", f.Status, f.Check, f.Evidence)
				if f.Hint != "" && f.Status != health.OK {
					fmt.Fprintf(a.stdout, "      → %s\n", f.Hint)
				}
			}
		}
	}
	switch worst {
	case health.Crit:
		return silentExit(2)
	case health.Warn:
		return silentExit(1)
	}
	return nil
}
