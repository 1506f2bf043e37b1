package reset

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"synops/ops"
	"synops/ops/rooms"
	"synops/ops/services"
	"synops/ops/tokens"
	"synops/synapse"
)

// What each step does and how it checks the result. A step may run again
// on a resumed run after it was killed half-way: each one copes with
// finding its work partly or wholly done.

func runComposeStop(ctx context.Context, w *Walk, out *stepOut) (string, error) {
	ctl := w.ctl(out)
	if err := ctl.Stop(ctx, services.Synapse, services.Postgres); err != nil {
		return "", err
	}
	var ev []string
	for _, u := range []services.Unit{services.Synapse, services.Postgres} {
		st, err := ctl.Status(ctx, u)
		if err != nil {
			return "", err
		}
		if st.Running {
			return "", fmt.Errorf("%s still runs after the stop (%s)", ctl.ServiceName(u), st.Detail)
		}
		ev = append(ev, ctl.ServiceName(u)+": "+st.Detail)
	}
	if w.stillAnswers(ctx) {
		return "", fmt.Errorf("the containers are stopped, yet Synapse still answers at %s: another copy runs, started some other way; stop it first", w.s.Synapse.BaseURL())
	}
	return strings.Join(ev, ", ") + "; nothing answers at " + w.s.Synapse.BaseURL(), nil
}

func runComposeRemove(ctx context.Context, w *Walk, out *stepOut) (string, error) {
	ctl := w.ctl(out)
	base, err := ctl.ComposeBase(ctx)
	if err != nil {
		return "", err
	}
	syn, pgs := ctl.ServiceName(services.Synapse), ctl.ServiceName(services.Postgres)
	if _, err := ctl.Run(ctx, cat(base, "rm", "-f", syn, pgs)); err != nil {
		return "", err
	}
	for _, u := range []services.Unit{services.Synapse, services.Postgres} {
		st, err := ctl.Status(ctx, u)
		if err != nil {
			return "", err
		}
		if st.Detail != "not created" {
			return "", fmt.Errorf("a container of %s is still there (%s)", ctl.ServiceName(u), st.Detail)
		}
	}
	return "no container left for " + syn + " or " + pgs, nil
}

// volumeExists asks docker whether a named volume exists.
func volumeExists(ctx context.Context, ctl *services.Controller, name string) (bool, error) {
	out, err := ctl.Exec.Run(ctx, []string{"docker", "volume", "inspect", "--format", "{{.Name}}", name})
	if err == nil {
		return strings.TrimSpace(string(out)) == name, nil
	}
	var ee *services.ExitError
	if errors.As(err, &ee) && ee.Code > 0 && strings.Contains(strings.ToLower(ee.Stderr), "no such volume") {
		return false, nil
	}
	return false, err
}

func runRemoveVolumes(ctx context.Context, w *Walk, out *stepOut) (string, error) {
	ctl := w.ctl(out)
	vols := w.st.Volumes
	var present []string
	for _, v := range vols {
		ok, err := volumeExists(ctx, ctl, v)
		if err != nil {
			return "", err
		}
		if ok {
			present = append(present, v)
		} else {
			out.say("volume %s is gone already", v)
		}
	}
	if len(present) > 0 {
		if _, err := ctl.Run(ctx, cat([]string{"docker", "volume", "rm"}, present...)); err != nil {
			return "", err
		}
	}
	for _, v := range vols {
		ok, err := volumeExists(ctx, ctl, v)
		if err != nil {
			return "", err
		}
		if ok {
			return "", fmt.Errorf("volume %s still exists", v)
		}
	}
	return "docker volume inspect finds none of " + strings.Join(vols, ", "), nil
}

// stillAnswers says whether Synapse answers /health at its URL.
func (w *Walk) stillAnswers(ctx context.Context) bool {
	c, err := synapse.New(w.s.Synapse.BaseURL(), synapse.Secret{}, synapse.WithTimeout(3*time.Second), synapse.WithRetries(0))
	if err != nil {
		return false
	}
	return c.Health(ctx) == nil
}

// synapseDown checks that Synapse is stopped: the service manager says so
// and nothing answers at its URL any more (another copy of it, started some
// other way, would keep writing to the database being dropped).
func (w *Walk) synapseDown(ctx context.Context, ctl *services.Controller) (string, error) {
	grace := w.s.stopGrace
	if grace <= 0 {
		grace = 30 * time.Second
	}
	deadline := time.Now().Add(grace)
	for {
		st, err := ctl.Status(ctx, services.Synapse)
		if err != nil {
			return "", err
		}
		answers := w.stillAnswers(ctx)
		if !st.Running && !answers {
			return fmt.Sprintf("%s: %s; nothing answers at %s", ctl.ServiceName(services.Synapse), st.Detail, w.s.Synapse.BaseURL()), nil
		}
		if time.Now().After(deadline) {
			if st.Running {
				return "", fmt.Errorf("Synapse still runs (%s: %s)", ctl.ServiceName(services.Synapse), st.Detail)
			}
			return "", fmt.Errorf("the service manager says %s is %s, yet Synapse still answers at %s: another copy runs, started some other way; stop it first", ctl.ServiceName(services.Synapse), st.Detail, w.s.Synapse.BaseURL())
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func runStandaloneStop(ctx context.Context, w *Walk, out *stepOut) (string, error) {
	ctl := w.ctl(out)
	if err := ctl.Stop(ctx, services.Synapse); err != nil {
		return "", err
	}
	return w.synapseDown(ctx, ctl)
}

func runDropDatabase(ctx context.Context, w *Walk, out *stepOut) (string, error) {
	ctl := w.ctl(out)
	down, err := w.synapseDown(ctx, ctl)
	if err != nil {
		return "", fmt.Errorf("not dropping the database: %w", err)
	}
	out.say("%s", down)
	d, err := w.s.database()
	if err != nil {
		return "", err
	}
	cn, err := d.maintenance(ctx)
	if err != nil {
		return "", err
	}
	defer cn.Close(context.WithoutCancel(ctx))
	before, err := d.info(ctx, cn)
	if err != nil {
		return "", err
	}
	if before.Sessions > 0 {
		out.say("%d sessions are connected to %s: WITH (FORCE) closes them", before.Sessions, d.Name)
	}
	out.say("%s", d.dropSQL())
	if _, err := cn.Exec(ctx, d.dropSQL()); err != nil {
		return "", fmt.Errorf("drop database %s: %w", d.Name, scrubErr(err, d.admin))
	}
	after, err := d.info(ctx, cn)
	if err != nil {
		return "", err
	}
	if after.Exists {
		return "", fmt.Errorf("database %s still exists after DROP DATABASE", d.Name)
	}
	if !before.Exists {
		return fmt.Sprintf("database %s did not exist (dropped by an earlier run)", d.Name), nil
	}
	return fmt.Sprintf("database %s no longer exists", d.Name), nil
}

func runCreateDatabase(ctx context.Context, w *Walk, out *stepOut) (string, error) {
	d, err := w.s.database()
	if err != nil {
		return "", err
	}
	cn, err := d.maintenance(ctx)
	if err != nil {
		return "", err
	}
	defer cn.Close(context.WithoutCancel(ctx))
	info, err := d.info(ctx, cn)
	if err != nil {
		return "", err
	}
	again := ""
	if info.Exists {
		c, err := d.counts(ctx)
		if err != nil {
			return "", err
		}
		if c.Tables > 0 {
			return "", fmt.Errorf("database %s exists and has %d tables: it is not one this reset created; drop it yourself if it may go, then run `synops reset run` again", d.Name, c.Tables)
		}
		again = " (created by an earlier run)"
	} else {
		out.say("%s", d.createSQL())
		if _, err := cn.Exec(ctx, d.createSQL()); err != nil {
			return "", fmt.Errorf("create database %s: %w", d.Name, scrubErr(err, d.admin))
		}
		if info, err = d.info(ctx, cn); err != nil {
			return "", err
		}
	}
	switch {
	case !info.Exists:
		return "", fmt.Errorf("database %s does not exist after CREATE DATABASE", d.Name)
	case info.Encoding != "UTF8" || info.Collate != "C" || info.Ctype != "C":
		return "", fmt.Errorf("database %s is %s with collation %s and ctype %s: Synapse needs UTF8, C, C", d.Name, info.Encoding, info.Collate, info.Ctype)
	case info.Owner != d.Owner:
		return "", fmt.Errorf("database %s belongs to %s, not %s", d.Name, info.Owner, d.Owner)
	}
	c, err := d.counts(ctx)
	if err != nil {
		return "", err
	}
	if c.Tables > 0 {
		return "", fmt.Errorf("the new database %s has %d tables", d.Name, c.Tables)
	}
	return fmt.Sprintf("database %s exists%s: %s, collation %s, ctype %s, owner %s, no tables", d.Name, again, info.Encoding, info.Collate, info.Ctype, info.Owner), nil
}

func runRecreateMedia(_ context.Context, w *Walk, out *stepOut) (string, error) {
	m := w.st.Media
	if m == nil {
		return "", errors.New("the state file has no record of the media store")
	}
	n, err := emptyMedia(m, func(l string) { out.say("%s", l) })
	if err != nil {
		return "", err
	}
	ev, err := checkMedia(m)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s (%d entries removed)", ev, n), nil
}

// waitFresh waits for Synapse to answer on the new database and checks
// that it is empty: Synapse's schema, no users, no rooms.
func (w *Walk) waitFresh(ctx context.Context, out *stepOut) (string, error) {
	s := w.s
	limit := s.startTimeout()
	start := time.Now()
	c, err := synapse.New(s.Synapse.BaseURL(), synapse.Secret{}, synapse.WithTimeout(3*time.Second), synapse.WithRetries(0))
	if err != nil {
		return "", err
	}
	out.say("waiting for Synapse to answer /health at %s (a first boot creates the whole schema; up to %s)", s.Synapse.BaseURL(), limit)
	next := time.Now().Add(10 * time.Second)
	for {
		err := c.Health(ctx)
		if err == nil {
			break
		}
		if time.Since(start) > limit {
			return "", fmt.Errorf("Synapse did not answer /health within %s (last: %v); its log says why (synops logs, or journalctl / docker compose logs)", limit, err)
		}
		if time.Now().After(next) {
			out.say("still waiting (%s): %s", time.Since(start).Round(time.Second), synapse.UnreachableReason(err))
			next = time.Now().Add(10 * time.Second)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	took := time.Since(start).Round(time.Second)
	d, err := s.database()
	if err != nil {
		return "", err
	}
	cnt, err := d.counts(ctx)
	if err != nil {
		return "", err
	}
	switch {
	case !cnt.HasSchema:
		return "", fmt.Errorf("Synapse answers, but database %s has no Synapse schema: is Synapse using another database?", d.Name)
	case cnt.Users > 0 || cnt.Rooms > 0:
		return "", fmt.Errorf("database %s holds %d users and %d rooms: it is not the empty database the reset made (do the removed volumes hold the database? see reset.volumes)", d.Name, cnt.Users, cnt.Rooms)
	}
	return fmt.Sprintf("Synapse answers /health after %s; database %s: schema version %d, 0 users, 0 rooms", took, d.Name, cnt.SchemaVersion), nil
}

// keptPath is where the new admin's token waits between its registration
// and the end of the reset (0600 in synops' 0700 state directory).
func (w *Walk) keptPath() string {
	return filepath.Join(w.s.StateDir, "reset-"+w.st.ID+".token")
}

// newToken is the new admin's token: in memory, or read back from where
// the registration kept it (a resumed run).
func (w *Walk) newToken() (synapse.Secret, error) {
	if !w.token.IsZero() {
		return w.token, nil
	}
	if w.st.Kept == "" {
		return synapse.Secret{}, errors.New("the new admin's token is not at hand: the step that registers it has not run")
	}
	data, err := os.ReadFile(w.st.Kept)
	if err != nil {
		return synapse.Secret{}, fmt.Errorf("read the new admin's token kept in %s: %w", w.st.Kept, err)
	}
	t := synapse.NewSecret(strings.TrimSpace(string(data)))
	if t.Hint() != w.st.TokenHint {
		return synapse.Secret{}, fmt.Errorf("%s holds %s, not the new admin's token %s", w.st.Kept, t.Hint(), w.st.TokenHint)
	}
	w.token = t
	return t, nil
}

// verifyAdmin checks that token is userID's and an admin's.
func (w *Walk) verifyAdmin(ctx context.Context, token synapse.Secret, userID string) error {
	c := w.s.Synapse.WithToken(token)
	who, err := c.Whoami(ctx)
	if err != nil {
		return err
	}
	if who.UserID != userID {
		return fmt.Errorf("the token is %s's, not %s's", who.UserID, userID)
	}
	u, err := c.User(ctx, userID)
	if err != nil {
		return fmt.Errorf("the admin API refuses the token: %w", err)
	}
	if !u.Admin {
		return fmt.Errorf("%s is not a server admin", userID)
	}
	return nil
}

func runRegisterAdmin(ctx context.Context, w *Walk, out *stepOut) (string, error) {
	s := w.s
	if s.SharedSecret.IsZero() {
		return "", errors.New("no registration shared secret to register the new admin with")
	}
	// A run killed after the registration: the token was kept.
	if w.st.Kept != "" {
		if t, err := w.newToken(); err == nil && w.verifyAdmin(ctx, t, w.st.NewAdmin) == nil {
			return fmt.Sprintf("%s was registered by an earlier run; its token %s works and is an admin's", w.st.NewAdmin, t.Hint()), nil
		}
	}
	anon := s.Synapse.WithToken(synapse.Secret{})
	base, _, _ := strings.Cut(strings.TrimPrefix(w.st.NewAdmin, "@"), ":")
	var reg *synapse.Registered
	var pw synapse.Secret
	name := base
	for n := 1; ; n++ {
		b := make([]byte, 24)
		if _, err := rand.Read(b); err != nil {
			return "", err
		}
		pw = synapse.NewSecret(hex.EncodeToString(b))
		out.say("POST /_synapse/admin/v1/register %s (admin)", name)
		var err error
		reg, err = anon.RegisterWithSharedSecret(ctx, s.SharedSecret, synapse.Registration{Username: name, Password: pw, Admin: true})
		if err == nil {
			break
		}
		// Taken, and no token of it at hand: a run was killed between the
		// registration and keeping the token. Another name is the way on.
		if !errors.Is(err, synapse.ErrUserInUse) || n >= 9 {
			return "", fmt.Errorf("register %s: %w", name, err)
		}
		name = fmt.Sprintf("%s_%d", base, n+1)
		out.say("%s exists with no token at hand (an earlier run was cut short after registering it): trying %s", base, name)
	}
	if err := w.change(func() { w.st.NewAdmin = reg.UserID }); err != nil {
		return "", err
	}
	out.say("POST /_matrix/client/v3/login as %s", reg.UserID)
	login, err := anon.Login(ctx, reg.UserID, pw, "SYNOPS_RESET_"+strings.ToUpper(w.st.ID))
	if err != nil {
		return "", fmt.Errorf("log in as the new admin %s: %w", reg.UserID, err)
	}
	w.token = login.AccessToken
	if err := ops.WriteFileAtomic(w.keptPath(), []byte(login.AccessToken.Reveal()+"\n")); err != nil {
		return "", fmt.Errorf("keep the new token until the reset is done: %w", err)
	}
	if err := w.change(func() { w.st.Kept, w.st.TokenHint = w.keptPath(), login.AccessToken.Hint() }); err != nil {
		return "", err
	}
	// The registration's own session is not needed: one token for the admin.
	if err := s.Synapse.WithToken(reg.AccessToken).Logout(ctx); err != nil {
		out.say("could not log out the registration's session (%v); it is harmless", err)
	}
	if err := w.verifyAdmin(ctx, w.token, reg.UserID); err != nil {
		return "", fmt.Errorf("verify the new token: %w", err)
	}
	return fmt.Sprintf("%s is a server admin; its token %s (device %s) answers whoami and the admin API", reg.UserID, login.AccessToken.Hint(), login.DeviceID), nil
}

func runWriteToken(ctx context.Context, w *Walk, out *stepOut) (string, error) {
	s := w.s
	token, err := w.newToken()
	if err != nil {
		return "", err
	}
	targets := s.targets()
	if len(targets) == 0 {
		return "", errors.New("nowhere to write the new token: set token.file and tokens.write_to")
	}
	at := w.st.StartedAt
	var ev []string
	for i, t := range targets {
		if t.Kind != tokens.KindCommand {
			if cur, err := t.Read(); err == nil && cur.Reveal() == token.Reveal() {
				out.say("%s holds the new token already", t)
				if prev := w.written(t); prev != nil {
					targets[i] = *prev
				}
				continue
			}
		}
		out.say("write %s", t)
		wt, err := s.Tokens.Write(ctx, t, at, token)
		if err != nil {
			return "", fmt.Errorf("write the new token to %s: %w", t, err)
		}
		targets[i] = wt
		if err := w.change(func() { w.st.Targets = append(w.st.Targets, wt) }); err != nil {
			return "", err
		}
	}
	for _, t := range targets {
		if t.Kind == tokens.KindCommand {
			ev = append(ev, t.String()+": ran")
			continue
		}
		cur, err := t.Read()
		if err != nil {
			return "", err
		}
		if cur.Reveal() != token.Reveal() {
			return "", fmt.Errorf("%s holds %s after writing, not the new token %s", t, cur.Hint(), token.Hint())
		}
		fi, err := os.Stat(t.Path)
		if err != nil {
			return "", err
		}
		if fi.Mode().Perm()&0o077 != 0 {
			return "", fmt.Errorf("%s has mode %04o: group or others may read the token", t.Path, fi.Mode().Perm())
		}
		line := fmt.Sprintf("%s holds %s, mode %04o", t, token.Hint(), fi.Mode().Perm())
		if t.Backup != "" {
			line += ", the previous file kept as " + t.Backup
		}
		ev = append(ev, line)
	}
	return strings.Join(ev, "; "), nil
}

// written is how this reset wrote a target, from the state file.
func (w *Walk) written(t tokens.Target) *tokens.Target {
	for i := len(w.st.Targets) - 1; i >= 0; i-- {
		x := w.st.Targets[i]
		if x.Kind == t.Kind && x.Path == t.Path && x.EnvVar == t.EnvVar {
			return &x
		}
	}
	return nil
}

func (s *Service) resetRefs() *rooms.ResetRefs { return rooms.NewResetRefs(s.AppDB, s.AppRefs) }

func runClearAppRefs(ctx context.Context, w *Walk, out *stepOut) (string, error) {
	refs := w.s.resetRefs()
	before, err := refs.Counts(ctx)
	if err != nil {
		return "", err
	}
	for _, q := range refs.Clear {
		out.say("%s", strings.Join(strings.Fields(q), " "))
	}
	n, err := refs.ClearAll(ctx)
	if err != nil {
		return "", err
	}
	after, err := refs.Counts(ctx)
	if err != nil {
		return "", err
	}
	if left := rooms.Total(after); left > 0 {
		return "", fmt.Errorf("%d references are left after clearing (%v): check app_refs.reset against app_refs.reset_count", left, after)
	}
	var parts []string
	for i, q := range refs.Clear {
		parts = append(parts, fmt.Sprintf("%q: %d rows", strings.Join(strings.Fields(q), " "), n[i]))
	}
	ev := "committed " + strings.Join(parts, ", ")
	if before != nil {
		ev += fmt.Sprintf("; %d references before, none after", rooms.Total(before))
	}
	return ev, nil
}

func runRestartApp(ctx context.Context, w *Walk, out *stepOut) (string, error) {
	argv, ok := w.s.restartCommand(ctx)
	if !ok {
		return "", errors.New("no restart command")
	}
	if _, err := w.ctl(out).Run(ctx, argv); err != nil {
		return "", err
	}
	return shellJoin(argv) + ": exit status 0", nil
}

func runFinalCheck(ctx context.Context, w *Walk, out *stepOut) (string, error) {
	s := w.s
	var ev []string
	anon, err := synapse.New(s.Synapse.BaseURL(), synapse.Secret{}, synapse.WithTimeout(5*time.Second))
	if err != nil {
		return "", err
	}
	if err := anon.Health(ctx); err != nil {
		return "", fmt.Errorf("Synapse /health: %w", err)
	}
	ev = append(ev, "/health ok")
	token, err := w.newToken()
	if err != nil {
		return "", err
	}
	if err := w.verifyAdmin(ctx, token, w.st.NewAdmin); err != nil {
		return "", fmt.Errorf("the new token: %w", err)
	}
	ev = append(ev, fmt.Sprintf("the new token %s is %s's, an admin's", token.Hint(), w.st.NewAdmin))
	for _, t := range s.targets() {
		if t.Kind == tokens.KindCommand {
			continue
		}
		tok, err := t.Read()
		if err != nil {
			return "", err
		}
		if tok.IsZero() {
			return "", fmt.Errorf("%s holds no token", t)
		}
		if err := w.verifyAdmin(ctx, tok, w.st.NewAdmin); err != nil {
			return "", fmt.Errorf("the token %s holds (%s): %w", t, tok.Hint(), err)
		}
		ev = append(ev, fmt.Sprintf("%s: %s works", t, tok.Hint()))
	}
	if s.Tokens != nil && len(s.Tokens.Config.Check) > 0 {
		out.say("%s", shellJoin(s.Tokens.Config.Check))
		if err := s.Tokens.RunCheck(ctx, token); err != nil {
			return "", err
		}
		ev = append(ev, "the application's check passes")
	}
	return strings.Join(ev, "; "), nil
}
