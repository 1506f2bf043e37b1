package tokens

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"synops/ops"
	"synops/ops/config"
	"synops/synapse"
)

// RotateRequest is what the operator asks of a rotation.
type RotateRequest struct {
	// NewAdmin is the new admin's localpart; "" picks <prefix>_<year>_<month>
	// (admin_2026_12), or the first free one after it.
	NewAdmin string
	// LoginAs, without the registration shared secret, is an existing admin
	// who logs in on a new device; Password is theirs. It is used only for
	// this plan's Apply and never enters the plan.
	LoginAs  string
	Password synapse.Secret
}

// RotateParams is what a rotate plan carries for its Apply, and what a
// screen may show of it.
type RotateParams struct {
	Mode      string   `json:"mode"`
	NewAdmin  string   `json:"new_admin"`        // user ID
	Device    string   `json:"device,omitempty"` // login mode: the new device's ID
	OldAdmin  string   `json:"old_admin"`
	OldDevice string   `json:"old_device,omitempty"`
	OldHint   string   `json:"old_hint"`
	Age       string   `json:"age"` // the old token's age in words
	Targets   []Target `json:"targets"`
	Redeploy  []string `json:"redeploy,omitempty"`
	Check     []string `json:"check,omitempty"`
	CheckEnv  string   `json:"check_env,omitempty"`
}

// Params decodes a rotate plan's parameters.
func Params(p *ops.Plan) (RotateParams, error) {
	var rp RotateParams
	if p == nil || p.Kind != KindRotate {
		return rp, errors.New("not a token rotation plan")
	}
	if err := json.Unmarshal(p.Params, &rp); err != nil {
		return rp, fmt.Errorf("token rotation plan: %w", err)
	}
	return rp, nil
}

var localpartRE = regexp.MustCompile(`^[a-z0-9=.\-/][a-z0-9._=\-/]*$`)

// PlanRotate reads what a rotation needs and says what it will do. It
// changes nothing. The operator approves it by typing the server name.
func (s *Service) PlanRotate(ctx context.Context, req RotateRequest) (*ops.Plan, error) {
	if s.Server == "" {
		return nil, errors.New("plan token rotation: the server name is unknown: point -c at homeserver.yaml or set server_name")
	}
	// One rotation at a time: a second would leave the first one's old
	// token valid with nothing left to finish it.
	if last, err := s.History.Latest(s.Server); err != nil {
		return nil, fmt.Errorf("plan token rotation: %w", err)
	} else if last != nil && last.Open() {
		next := "synops tokens finish (or rollback)"
		if last.Phase != Rotated {
			next = "synops tokens rollback"
		}
		return nil, fmt.Errorf("plan token rotation: the rotation %s to %s is %s: %s first", last.ID, last.NewAdmin, last.Phase, next)
	}
	cur, err := whoamiAdmin(ctx, s.Synapse)
	if err != nil {
		return nil, fmt.Errorf("plan token rotation: the token synops uses: %w", err)
	}
	rp := RotateParams{
		OldAdmin: cur.UserID, OldDevice: cur.DeviceID, OldHint: s.Synapse.Token().Hint(),
		Redeploy: s.Config.Redeploy, Check: s.Config.Check, CheckEnv: s.Config.CheckEnv,
	}
	if rp.CheckEnv == "" {
		rp.CheckEnv = config.DefaultTokenEnv
	}
	p := ops.NewPlan(KindRotate, s.Server, s.Server, s.Environment, s.now())
	switch {
	case req.LoginAs != "":
		if req.Password.IsZero() {
			return nil, fmt.Errorf("plan token rotation: logging in as %s needs that admin's password", req.LoginAs)
		}
		if err := synapse.ValidateUserID(req.LoginAs); err != nil {
			return nil, fmt.Errorf("plan token rotation: %w", err)
		}
		u, err := s.Synapse.User(ctx, req.LoginAs)
		if err != nil {
			return nil, fmt.Errorf("plan token rotation: look up %s: %w", req.LoginAs, err)
		}
		if !u.Admin || u.Deactivated {
			return nil, fmt.Errorf("plan token rotation: %s is not an active server admin: its new token would not be an admin's", req.LoginAs)
		}
		rp.Mode, rp.NewAdmin = ModeLogin, req.LoginAs
		rp.Device = "SYNOPS_" + strings.ToUpper(p.ID)
	case s.SharedSecret.IsZero():
		return nil, errors.New("plan token rotation: no registration shared secret (registration_shared_secret in homeserver.yaml) to register a new admin with: point -c at homeserver.yaml, or log in as an existing admin on a new device (--login-as)")
	default:
		rp.Mode = ModeRegister
		if rp.NewAdmin, err = s.freeAdmin(ctx, req.NewAdmin); err != nil {
			return nil, fmt.Errorf("plan token rotation: %w", err)
		}
	}
	if rp.NewAdmin == rp.OldAdmin && rp.Mode == ModeRegister {
		return nil, fmt.Errorf("plan token rotation: %s is the admin in use now", rp.NewAdmin)
	}

	rp.Targets = targets(s.Own, s.Config.WriteTo)
	if len(rp.Targets) == 0 {
		// The new token would live in memory only, and be lost on exit.
		return nil, errors.New("plan token rotation: there is nowhere to write the new token: set token.file (synops' own token file) or tokens.write_to (where the application reads it) in the profile")
	}
	var blocked []string
	for i, t := range rp.Targets {
		if t.Kind == KindCommand {
			rp.Targets[i].Holds = "?"
			continue
		}
		if err := t.writable(); err != nil {
			blocked = append(blocked, err.Error())
		}
		tok, err := t.read()
		if err != nil {
			blocked = append(blocked, err.Error())
		}
		if !tok.IsZero() {
			rp.Targets[i].Holds = tok.Hint()
		}
	}
	if len(blocked) > 0 {
		return nil, fmt.Errorf("plan token rotation: the new token could not be written: %s", strings.Join(blocked, "; "))
	}
	age := s.Age(ctx)
	rp.Age = age.String()

	p.Steps = append(p.Steps, ops.Step{Title: fmt.Sprintf("check the token in use: %s (device %s) is a server admin", rp.OldAdmin, orNone(rp.OldDevice)), Risk: ops.ReadOnly})
	p.Steps = append(p.Steps, ops.Step{Title: "keep the old token in " + s.History.keptPath(p.ID) + " (0600) for finish and rollback", Risk: ops.Reversible})
	if rp.Mode == ModeRegister {
		p.Steps = append(p.Steps, ops.Step{Title: "register " + rp.NewAdmin + " as a server admin through the shared-secret API (a random password, not kept)", Risk: ops.Reversible})
	} else {
		p.Steps = append(p.Steps, ops.Step{Title: fmt.Sprintf("log in as %s on a new device %s", rp.NewAdmin, rp.Device), Risk: ops.Reversible})
	}
	p.Steps = append(p.Steps, ops.Step{Title: "verify the new token: whoami, and the admin API's user details", Risk: ops.ReadOnly})
	for _, t := range rp.Targets {
		title := "write the new token to " + t.String()
		if t.Kind != KindCommand {
			title += ", atomically, mode 0600 at most, the previous file kept as " + backupName(t.Path, p.CreatedAt)
		}
		p.Steps = append(p.Steps, ops.Step{Title: title, Risk: ops.Reversible})
	}
	if len(rp.Redeploy) > 0 {
		p.Steps = append(p.Steps, ops.Step{Title: "redeploy: " + strings.Join(rp.Redeploy, " "), Risk: ops.Reversible})
	}
	if len(rp.Check) > 0 {
		p.Steps = append(p.Steps, ops.Step{Title: "the application's check, with the new token in $" + rp.CheckEnv + ": " + strings.Join(rp.Check, " "), Risk: ops.ReadOnly})
	}

	p.Impact = append(p.Impact, fmt.Sprintf("admin in use: %s, token %s, %s", rp.OldAdmin, rp.OldHint, rp.Age))
	p.Impact = append(p.Impact, "new admin: "+rp.NewAdmin)
	for _, t := range rp.Targets {
		holds := "holds no token yet"
		switch {
		case t.Holds == "?":
			holds = "gets the token on its standard input"
		case t.Holds == rp.OldHint:
			holds = "holds the token in use"
		case t.Holds != "":
			holds = "holds another token, " + t.Holds + ", which is replaced too but stays valid"
		}
		p.Impact = append(p.Impact, t.String()+": "+holds)
	}
	switch {
	case s.Own.File != "":
	case len(s.Own.Command) > 0:
		p.Impact = append(p.Impact, "synops reads its own token from the command "+s.Own.Command[0]+": store the new token there before `synops tokens finish`")
	default:
		name := s.Own.Env
		if name == "" {
			name = config.DefaultTokenEnv
		}
		p.Impact = append(p.Impact, "synops reads its own token from $"+name+": set it to the new token before `synops tokens finish`")
	}
	if len(rp.Redeploy) == 0 {
		p.Impact = append(p.Impact, "no redeploy command (tokens.redeploy): restart the application yourself so it reads the new token")
	}
	p.Impact = append(p.Impact,
		"if a step fails, the files get their old content back, the redeploy runs again and the new admin is removed: the old token never stops working",
		"the old token stays valid until `synops tokens finish`, a separate plan approved by typing "+rp.OldAdmin+"; `synops tokens rollback` undoes the rotation until then")
	p.Params = encodeParams(rp)
	if rp.Mode == ModeLogin {
		s.mu.Lock()
		if s.passwords == nil {
			s.passwords = map[string]synapse.Secret{}
		}
		s.passwords[p.ID] = req.Password
		s.mu.Unlock()
	}
	return p, nil
}

// freeAdmin picks the new admin's user ID: the one asked for, which must
// not exist, or <prefix>_<year>_<month> and then _2, _3… until one is free.
func (s *Service) freeAdmin(ctx context.Context, asked string) (string, error) {
	free := func(localpart string) (string, bool, error) {
		id := "@" + localpart + ":" + s.Server
		if err := synapse.ValidateUserID(id); err != nil {
			return id, false, err
		}
		_, err := s.Synapse.User(ctx, id)
		switch {
		case errors.Is(err, synapse.ErrNotFound):
			return id, true, nil
		case err != nil:
			return id, false, fmt.Errorf("is %s free: %w", id, err)
		}
		return id, false, nil
	}
	if asked != "" {
		asked = strings.TrimPrefix(asked, "@")
		if i := strings.IndexByte(asked, ':'); i >= 0 {
			if asked[i+1:] != s.Server {
				return "", fmt.Errorf("new admin %s: it must be a user of %s", asked, s.Server)
			}
			asked = asked[:i]
		}
		if !localpartRE.MatchString(asked) {
			return "", fmt.Errorf("new admin %q: a localpart is lower-case letters, digits and ._=-/ and does not start with _", asked)
		}
		id, ok, err := free(asked)
		if err != nil {
			return "", err
		}
		if !ok {
			return "", fmt.Errorf("new admin %s exists already: choose another name", id)
		}
		return id, nil
	}
	prefix := s.Config.AdminPrefix
	if prefix == "" {
		prefix = config.DefaultAdminPrefix
	}
	base := fmt.Sprintf("%s_%s", prefix, s.now().UTC().Format("2006_01"))
	for n := 1; n <= 20; n++ {
		name := base
		if n > 1 {
			name = fmt.Sprintf("%s_%d", base, n)
		}
		id, ok, err := free(name)
		if err != nil {
			return "", err
		}
		if ok {
			return id, nil
		}
	}
	return "", fmt.Errorf("%s to %s_20 exist already: name the new admin", base, base)
}

func (s *Service) takePassword(planID string) synapse.Secret {
	s.mu.Lock()
	defer s.mu.Unlock()
	pw := s.passwords[planID]
	delete(s.passwords, planID)
	return pw
}

// ApplyRotate carries out an approved rotate plan. On success the new token
// is in place and works, and the old one stays valid for Finish. On a
// failure it undoes what it did and returns a *StepError: the old token is
// in use and valid either way.
func (s *Service) ApplyRotate(ctx context.Context, p *ops.Plan, a ops.Approval, progress func(ops.Progress)) (*Rotation, error) {
	rp, err := Params(p)
	if err != nil {
		return nil, err
	}
	var password synapse.Secret
	if rp.Mode == ModeLogin {
		if password = s.takePassword(p.ID); password.IsZero() {
			return nil, errors.New("rotate admin token: this plan logs in with a password that is no longer at hand: plan again")
		}
	}
	if progress == nil {
		progress = func(ops.Progress) {}
	}
	done, err := s.Guard.Begin(ctx, p, a)
	if err != nil {
		return nil, err
	}
	rot := &Rotation{
		ID: p.ID, Server: s.Server, Profile: s.Guard.Profile, Mode: rp.Mode,
		OldAdmin: rp.OldAdmin, OldDevice: rp.OldDevice, OldHint: rp.OldHint,
		NewAdmin: rp.NewAdmin, NewDevice: rp.Device,
		Targets: append([]Target(nil), rp.Targets...), Phase: Rotating, StartedAt: s.now().UTC(),
	}
	r := &rotator{s: s, rot: rot, rp: rp, progress: progress, total: len(p.Steps), old: s.Synapse.Token(), backupAt: p.CreatedAt}
	err = r.run(ctx, password)
	detail := map[string]any{"old_admin": rot.OldAdmin, "new_admin": rot.NewAdmin, "mode": rot.Mode, "phase": rot.Phase}
	var written []string
	for _, t := range rot.Targets {
		if t.Written {
			written = append(written, t.String())
		}
	}
	detail["written"] = written
	if err != nil {
		detail["failed_step"] = rot.Step
		detail["remaining"] = rot.Remaining
	}
	// The change happened (or failed) either way; a lost audit record is said.
	err = errors.Join(err, done(err, detail))
	return rot, err
}

// rotator is one rotation under way.
type rotator struct {
	s        *Service
	rot      *Rotation
	rp       RotateParams
	progress func(ops.Progress)
	total    int
	n        int
	old, new synapse.Secret
	created  bool      // the new admin or device may exist
	backupAt time.Time // names the backups as the plan showed them
}

func (r *rotator) save() error { return r.s.History.Put(*r.rot) }

// step runs one step: reports it, records it, and saves the record.
func (r *rotator) step(title string, f func() error) error {
	r.n++
	r.rot.Step = title
	r.progress(ops.Progress{Item: title, Stage: "running", Done: r.n - 1, Total: r.total})
	if err := r.save(); err != nil {
		return err
	}
	if err := f(); err != nil {
		r.progress(ops.Progress{Item: title, Stage: "failed", Detail: err.Error(), Done: r.n - 1, Total: r.total})
		return err
	}
	r.progress(ops.Progress{Item: title, Stage: "done", Done: r.n, Total: r.total})
	return nil
}

func (r *rotator) run(ctx context.Context, password synapse.Secret) error {
	s, rot, rp := r.s, r.rot, r.rp
	err := r.step("check the token in use", func() error {
		w, err := whoamiAdmin(ctx, s.Synapse)
		if err != nil {
			return err
		}
		if w.UserID != rp.OldAdmin || w.DeviceID != rp.OldDevice {
			return fmt.Errorf("the token synops holds is now %s's (device %s), not the planned %s's: plan again", w.UserID, orNone(w.DeviceID), rp.OldAdmin)
		}
		return nil
	})
	if err != nil {
		rot.Phase, rot.Error = RolledBack, err.Error()
		_ = r.save()
		return &StepError{Step: rot.Step, Err: err, RolledBack: true, OldHint: rp.OldHint, Undone: []string{"nothing had been changed"}}
	}
	steps := []struct {
		title string
		do    func() error
	}{
		{"keep the old token", func() (err error) {
			rot.KeptOld, err = s.History.keepOld(rot.ID, r.old)
			return err
		}},
		{"create the new admin's token", func() error { return r.create(ctx, password) }},
		{"verify the new token", func() error {
			w, err := whoamiAdmin(ctx, s.Synapse.WithToken(r.new))
			if err != nil {
				return err
			}
			if w.UserID != rot.NewAdmin {
				return fmt.Errorf("the new token belongs to %s, not %s", w.UserID, rot.NewAdmin)
			}
			return nil
		}},
	}
	for i := range rot.Targets {
		steps = append(steps, struct {
			title string
			do    func() error
		}{"write the new token to " + rot.Targets[i].String(), func() error {
			t, err := s.write(ctx, rot.Targets[i], r.backupAt, r.new, r.old)
			rot.Targets[i] = t
			return err
		}})
	}
	if len(rp.Redeploy) > 0 {
		steps = append(steps, struct {
			title string
			do    func() error
		}{"redeploy", func() error {
			rot.Redeployed = true
			if err := r.save(); err != nil {
				return err
			}
			if err := s.run(ctx, rp.Redeploy, redeployTimeout, nil, nil, r.old, r.new); err != nil {
				return fmt.Errorf("redeploy command: %w", err)
			}
			return nil
		}})
	}
	if len(rp.Check) > 0 {
		steps = append(steps, struct {
			title string
			do    func() error
		}{"the application's check", func() error {
			if err := s.run(ctx, rp.Check, checkTimeout, nil, map[string]string{rp.CheckEnv: r.new.Reveal()}, r.old, r.new); err != nil {
				return fmt.Errorf("the application's check with the new token: %w", err)
			}
			return nil
		}})
	}
	for _, st := range steps {
		if err := r.step(st.title, st.do); err != nil {
			return r.rollback(ctx, err)
		}
	}
	rot.Phase, rot.Step, rot.RotatedAt = Rotated, "", s.now().UTC()
	if err := r.save(); err != nil {
		// Everything is in place and works; only the record is missing.
		return fmt.Errorf("the new token is in place and works, but recording the rotation failed: %w", err)
	}
	return nil
}

// create makes the new admin's token: registration, or a login on a new device.
func (r *rotator) create(ctx context.Context, password synapse.Secret) error {
	s, rot := r.s, r.rot
	if rot.Mode == ModeLogin {
		r.created = true
		res, err := s.Synapse.WithToken(synapse.Secret{}).Login(ctx, rot.NewAdmin, password, rot.NewDevice)
		if err != nil {
			return fmt.Errorf("log in as %s: %w", rot.NewAdmin, err)
		}
		if res.UserID != rot.NewAdmin {
			r.new = res.AccessToken
			return fmt.Errorf("logged in as %s, not %s", res.UserID, rot.NewAdmin)
		}
		r.new, rot.NewDevice, rot.NewHint = res.AccessToken, res.DeviceID, res.AccessToken.Hint()
		return r.save()
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	localpart := strings.TrimPrefix(rot.NewAdmin, "@")
	localpart = localpart[:strings.IndexByte(localpart, ':')]
	r.created = true
	reg, err := s.Synapse.RegisterWithSharedSecret(ctx, s.SharedSecret, synapse.Registration{
		Username: localpart, Password: synapse.NewSecret(hex.EncodeToString(b)), Admin: true,
	})
	if err != nil {
		return fmt.Errorf("register %s: %w", rot.NewAdmin, err)
	}
	if reg.UserID != rot.NewAdmin || reg.AccessToken.IsZero() {
		r.new = reg.AccessToken
		return fmt.Errorf("registration made %s with no usable token, not %s", reg.UserID, rot.NewAdmin)
	}
	r.new, rot.NewDevice, rot.NewHint = reg.AccessToken, reg.DeviceID, reg.AccessToken.Hint()
	return r.save()
}

// rollback undoes a failed rotation: the files first (while they hold the
// new token, removing it would break the application), then the redeploy
// again, then the new admin. The kept old token goes once nothing is left
// to undo.
func (r *rotator) rollback(ctx context.Context, cause error) error {
	s, rot := r.s, r.rot
	failed := rot.Step
	r.progress(ops.Progress{Item: "roll back", Stage: "running", Detail: "after: " + failed})
	undone, remaining := r.s.undo(ctx, rot, r.old, r.new, r.created)
	rot.Step, rot.Error, rot.Remaining = failed, cause.Error(), remaining
	if len(remaining) == 0 {
		rot.Phase = RolledBack
	} else {
		rot.Phase = RollbackIncomplete
	}
	if err := r.save(); err != nil {
		remaining = append(remaining, "record the rollback in "+s.History.Path()+": "+err.Error())
	}
	r.progress(ops.Progress{Item: "roll back", Stage: string(rot.Phase)})
	return &StepError{Step: failed, Err: cause, RolledBack: len(remaining) == 0, Undone: undone, Remaining: remaining, OldHint: rot.OldHint}
}

// undo puts back what a rotation wrote and removes its new admin (or new
// device). newTok may be zero (a rollback from the record); created says
// the new admin may exist. It returns what it did and what it could not do.
func (s *Service) undo(ctx context.Context, rot *Rotation, old, newTok synapse.Secret, created bool) (undone, remaining []string) {
	for i := len(rot.Targets) - 1; i >= 0; i-- {
		t := rot.Targets[i]
		if !t.Written {
			continue
		}
		if err := s.restore(ctx, t, old, newTok); err != nil {
			remaining = append(remaining, "put the old token back in "+t.String()+": "+err.Error())
			continue
		}
		t.Written, t.Backup, t.Created = false, "", false
		rot.Targets[i] = t
		undone = append(undone, "put the old token back in "+t.String())
	}
	if rot.Redeployed {
		switch {
		case len(remaining) > 0:
			remaining = append(remaining, "run the redeploy command again once the old token is back in every file")
		default:
			if err := s.run(ctx, s.Config.Redeploy, redeployTimeout, nil, nil, old, newTok); err != nil {
				remaining = append(remaining, "run the redeploy command again with the old token: "+err.Error())
			} else {
				rot.Redeployed = false
				undone = append(undone, "ran the redeploy command again")
			}
		}
	}
	if created {
		if len(remaining) > 0 {
			remaining = append(remaining, rot.NewAdmin+" keeps its new token while the application may be using it")
		} else if what, err := s.revokeNew(ctx, rot, old, newTok); err != nil {
			remaining = append(remaining, "remove the new token of "+rot.NewAdmin+": "+err.Error())
		} else if what != "" {
			undone = append(undone, what)
		}
	}
	if len(remaining) == 0 {
		if err := dropKept(rot.KeptOld); err != nil {
			remaining = append(remaining, err.Error())
		} else {
			rot.KeptOld = ""
		}
	}
	return undone, remaining
}

// revokeNew removes the new admin (register mode: deactivated with the old
// token) or its new device (login mode), never the old admin or device.
func (s *Service) revokeNew(ctx context.Context, rot *Rotation, old, newTok synapse.Secret) (string, error) {
	oldClient := s.Synapse.WithToken(old)
	if rot.Mode == ModeLogin {
		if rot.NewDevice == "" || (rot.NewAdmin == rot.OldAdmin && rot.NewDevice == rot.OldDevice) {
			return "", nil
		}
		err := oldClient.DeleteDevice(ctx, rot.NewAdmin, rot.NewDevice)
		if errors.Is(err, synapse.ErrNotFound) {
			return "", nil // never created
		}
		if err != nil {
			if !newTok.IsZero() && s.Synapse.WithToken(newTok).Logout(ctx) == nil {
				return "logged out the new device " + rot.NewDevice, nil
			}
			return "", err
		}
		return "deleted the new device " + rot.NewDevice + " of " + rot.NewAdmin, nil
	}
	if rot.NewAdmin == rot.OldAdmin {
		return "", errors.New("refusing to deactivate the admin in use")
	}
	if _, err := oldClient.User(ctx, rot.NewAdmin); errors.Is(err, synapse.ErrNotFound) {
		return "", nil // registration never happened
	} else if err != nil {
		return "", err
	}
	if err := oldClient.DeactivateUser(ctx, rot.NewAdmin, false); err != nil {
		return "", err
	}
	return "deactivated the new admin " + rot.NewAdmin, nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
