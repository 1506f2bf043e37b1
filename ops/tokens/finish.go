package tokens

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"synops/ops"
	"synops/synapse"
)

// FinishRequest is what the operator asks of the final step.
type FinishRequest struct {
	// DeactivateOld also deactivates the old admin (not erased), when it is
	// not the admin now in use.
	DeactivateOld bool
}

type finishParams struct {
	Rotation      string `json:"rotation"`
	OldAdmin      string `json:"old_admin"`
	OldDevice     string `json:"old_device,omitempty"`
	DeactivateOld bool   `json:"deactivate_old"`
	AlreadyOut    bool   `json:"already_logged_out,omitempty"`
}

// open is the newest rotation of the server when it waits for Finish or
// Rollback.
func (s *Service) open() (*Rotation, error) {
	rot, err := s.History.Latest(s.Server)
	if err != nil {
		return nil, err
	}
	if rot == nil || !rot.Open() {
		return nil, fmt.Errorf("%w: no rotation of %s is waiting (synops tokens status)", ErrNoRotation, s.Server)
	}
	return rot, nil
}

// PlanFinish plans the final step of the open rotation: log out the old
// token and, if asked, deactivate the old admin. It refuses while anything
// still depends on the old token: synops itself, or a file that does not
// hold the new token. The operator approves by typing the old admin's ID.
func (s *Service) PlanFinish(ctx context.Context, req FinishRequest) (*ops.Plan, error) {
	rot, err := s.open()
	if err != nil {
		return nil, err
	}
	if rot.Phase != Rotated {
		return nil, fmt.Errorf("plan finish: the rotation %s to %s did not complete (%s at %q): roll it back with `synops tokens rollback`, then rotate again", rot.ID, rot.NewAdmin, rot.Phase, rot.Step)
	}
	old, err := readKept(rot.KeptOld)
	if err != nil {
		return nil, fmt.Errorf("plan finish: %w", err)
	}
	// A console that rotated reads its token file again here: the file
	// holds the new token since the rotation, the old one still works.
	if _, err := s.Synapse.ReloadToken(ctx); err != nil {
		return nil, fmt.Errorf("plan finish: read synops' own token again: %w", err)
	}
	cur, err := whoamiAdmin(ctx, s.Synapse)
	if err != nil {
		return nil, fmt.Errorf("plan finish: the token synops uses: %w", err)
	}
	if s.Synapse.Token().Reveal() == old.Reveal() || cur.UserID != rot.NewAdmin || cur.DeviceID != rot.NewDevice {
		return nil, fmt.Errorf("plan finish: synops itself still uses %s's token %s, not the new one of %s (%s): give synops the new token first (%s)",
			cur.UserID, s.Synapse.Token().Hint(), rot.NewAdmin, rot.NewHint, s.ownSource())
	}
	var stale []string
	for _, t := range rot.Targets {
		if t.Kind == KindCommand {
			continue
		}
		ok, err := t.holds(s.Synapse.Token())
		switch {
		case err != nil:
			stale = append(stale, err.Error())
		case !ok:
			stale = append(stale, t.String()+" does not hold the new token")
		}
	}
	if len(stale) > 0 {
		return nil, fmt.Errorf("plan finish: the application may still use the old token: %s; put the new token back there or roll back", strings.Join(stale, "; "))
	}
	fp := finishParams{Rotation: rot.ID, OldAdmin: rot.OldAdmin, OldDevice: rot.OldDevice, DeactivateOld: req.DeactivateOld}
	_, werr := s.Synapse.WithToken(old).Whoami(ctx)
	switch {
	case errors.Is(werr, synapse.ErrUnknownToken):
		fp.AlreadyOut = true
	case werr != nil:
		return nil, fmt.Errorf("plan finish: check the old token: %w", werr)
	}
	if req.DeactivateOld && (rot.OldAdmin == rot.NewAdmin || rot.OldAdmin == cur.UserID) {
		return nil, fmt.Errorf("plan finish: %s is the admin now in use (the new token is one of its devices): it cannot be deactivated; finish without --deactivate-old to log out its old device", rot.OldAdmin)
	}
	p := ops.NewPlan(KindFinish, rot.OldAdmin, s.Server, s.Environment, s.now())
	if fp.AlreadyOut {
		p.Steps = append(p.Steps, ops.Step{Title: "the old token " + rot.OldHint + " is already logged out: nothing to log out", Risk: ops.ReadOnly})
	} else {
		p.Steps = append(p.Steps, ops.Step{Title: fmt.Sprintf("log out the old token %s (device %s of %s)", rot.OldHint, orNone(rot.OldDevice), rot.OldAdmin), Risk: ops.Irreversible})
	}
	if req.DeactivateOld {
		p.Steps = append(p.Steps, ops.Step{Title: "deactivate the old admin " + rot.OldAdmin + " (not erased)", Risk: ops.Irreversible})
	}
	p.Steps = append(p.Steps, ops.Step{Title: "remove synops' copy of the old token " + rot.KeptOld, Risk: ops.Reversible})
	p.Impact = append(p.Impact,
		fmt.Sprintf("the new token %s of %s is in use by synops and in every file it was written to", rot.NewHint, rot.NewAdmin),
		"anything else still using the old token "+rot.OldHint+" stops working")
	for _, t := range rot.Targets {
		if t.Backup != "" {
			p.Impact = append(p.Impact, "the backup "+t.Backup+" keeps the old token, dead once logged out: remove it when you no longer need it")
		}
	}
	p.Params = encodeParams(fp)
	return p, nil
}

// FinishResult says what Finish did.
type FinishResult struct {
	LoggedOut   bool
	Deactivated string // the old admin, when deactivated
}

// ApplyFinish carries out an approved finish plan.
func (s *Service) ApplyFinish(ctx context.Context, p *ops.Plan, a ops.Approval, progress func(ops.Progress)) (*FinishResult, error) {
	if p == nil || p.Kind != KindFinish {
		return nil, errors.New("not a token finish plan")
	}
	var fp finishParams
	if err := json.Unmarshal(p.Params, &fp); err != nil {
		return nil, fmt.Errorf("token finish plan: %w", err)
	}
	if progress == nil {
		progress = func(ops.Progress) {}
	}
	done, err := s.Guard.Begin(ctx, p, a)
	if err != nil {
		return nil, err
	}
	res := &FinishResult{}
	err = s.finish(ctx, fp, res, progress, len(p.Steps))
	// The change happened (or failed) either way; a lost audit record is said.
	err = errors.Join(err, done(err, map[string]any{"rotation": fp.Rotation, "old_admin": fp.OldAdmin, "logged_out": res.LoggedOut, "deactivated": res.Deactivated != ""}))
	return res, err
}

func (s *Service) finish(ctx context.Context, fp finishParams, res *FinishResult, progress func(ops.Progress), total int) error {
	rot, err := s.History.Get(fp.Rotation)
	if err != nil {
		return err
	}
	if rot.Phase != Rotated {
		return fmt.Errorf("finish: the rotation %s is %s now, no longer waiting to be finished", rot.ID, rot.Phase)
	}
	old, err := readKept(rot.KeptOld)
	if err != nil {
		return fmt.Errorf("finish: %w", err)
	}
	n := 0
	report := func(item, stage string) {
		if stage == "done" {
			n++
		}
		progress(ops.Progress{Item: item, Stage: stage, Done: n, Total: total})
	}
	oldClient := s.Synapse.WithToken(old)
	if !fp.AlreadyOut {
		report("log out the old token", "running")
		if err := oldClient.Logout(ctx); err != nil && !errors.Is(err, synapse.ErrUnknownToken) {
			return fmt.Errorf("finish: log out the old token %s: %w (it is still valid; run finish again)", rot.OldHint, err)
		}
		// Read it back: the server must now refuse the old token.
		if _, err := oldClient.Whoami(ctx); !errors.Is(err, synapse.ErrUnknownToken) {
			return fmt.Errorf("finish: the old token %s still answers after the logout (%v): check the server", rot.OldHint, err)
		}
		report("log out the old token", "done")
	}
	res.LoggedOut = true
	rot.LoggedOut = true
	if err := s.History.Put(*rot); err != nil {
		return err
	}
	if fp.DeactivateOld {
		report("deactivate "+rot.OldAdmin, "running")
		cur, err := whoamiAdmin(ctx, s.Synapse)
		if err != nil {
			return fmt.Errorf("finish: the token synops uses: %w (the old token is logged out; %s is not deactivated)", err, rot.OldAdmin)
		}
		if cur.UserID == rot.OldAdmin {
			return fmt.Errorf("finish: refusing to deactivate %s: it is the admin synops uses now", rot.OldAdmin)
		}
		if err := s.Synapse.DeactivateUser(ctx, rot.OldAdmin, false); err != nil {
			return fmt.Errorf("finish: deactivate %s: %w (the old token is logged out)", rot.OldAdmin, err)
		}
		res.Deactivated, rot.Deactivated = rot.OldAdmin, true
		report("deactivate "+rot.OldAdmin, "done")
	}
	if err := dropKept(rot.KeptOld); err != nil {
		return fmt.Errorf("finish: %w", err)
	}
	rot.KeptOld, rot.Phase, rot.FinishedAt = "", Finished, s.now().UTC()
	report("remove the copy of the old token", "done")
	return s.History.Put(*rot)
}

type rollbackParams struct {
	Rotation string `json:"rotation"`
}

// PlanRollback plans undoing the open rotation: the old token back in every
// file it replaced, the redeploy run again, the new admin (or new device)
// removed with the old token. Approved by typing the new admin's ID.
func (s *Service) PlanRollback(ctx context.Context) (*ops.Plan, error) {
	rot, err := s.open()
	if err != nil {
		return nil, err
	}
	old, err := readKept(rot.KeptOld)
	if err != nil && rot.KeptOld != "" {
		return nil, fmt.Errorf("plan rollback: %w", err)
	}
	if !old.IsZero() {
		w, err := whoamiAdmin(ctx, s.Synapse.WithToken(old))
		if err != nil {
			return nil, fmt.Errorf("plan rollback: the kept old token %s: %w", rot.OldHint, err)
		}
		if w.UserID != rot.OldAdmin {
			return nil, fmt.Errorf("plan rollback: the kept old token is %s's, not %s's", w.UserID, rot.OldAdmin)
		}
	}
	target := rot.NewAdmin
	if target == "" {
		target = s.Server
	}
	p := ops.NewPlan(KindRollback, target, s.Server, s.Environment, s.now())
	for _, t := range rot.Targets {
		if !t.Written {
			continue
		}
		switch {
		case t.Kind == KindCommand:
			p.Steps = append(p.Steps, ops.Step{Title: "run " + t.String() + " with the old token", Risk: ops.Reversible})
		case t.Created:
			p.Steps = append(p.Steps, ops.Step{Title: "remove " + t.Path + " (the rotation created it)", Risk: ops.Reversible})
		default:
			p.Steps = append(p.Steps, ops.Step{Title: "put the old token back in " + t.String() + " from " + t.Backup, Risk: ops.Reversible})
		}
	}
	if rot.Redeployed {
		p.Steps = append(p.Steps, ops.Step{Title: "redeploy again: " + strings.Join(s.Config.Redeploy, " "), Risk: ops.Reversible})
	}
	if rot.NewAdmin != "" && !old.IsZero() {
		if rot.Mode == ModeLogin {
			p.Steps = append(p.Steps, ops.Step{Title: "delete the new device " + rot.NewDevice + " of " + rot.NewAdmin, Risk: ops.Irreversible})
		} else {
			p.Steps = append(p.Steps, ops.Step{Title: "deactivate the new admin " + rot.NewAdmin + " with the old token", Risk: ops.Irreversible})
		}
	}
	p.Steps = append(p.Steps, ops.Step{Title: "remove synops' copy of the old token", Risk: ops.Reversible})
	p.Impact = append(p.Impact, fmt.Sprintf("rotation %s (%s at %q): back to %s's token %s", rot.ID, rot.Phase, orNone(rot.Step), rot.OldAdmin, rot.OldHint))
	if old.IsZero() {
		p.Impact = append(p.Impact, "the rotation stopped before the old token was kept: nothing was created")
	}
	p.Params = encodeParams(rollbackParams{Rotation: rot.ID})
	return p, nil
}

// ApplyRollback carries out an approved rollback plan.
func (s *Service) ApplyRollback(ctx context.Context, p *ops.Plan, a ops.Approval, progress func(ops.Progress)) (*Rotation, error) {
	if p == nil || p.Kind != KindRollback {
		return nil, errors.New("not a token rollback plan")
	}
	var rb rollbackParams
	if err := json.Unmarshal(p.Params, &rb); err != nil {
		return nil, fmt.Errorf("token rollback plan: %w", err)
	}
	if progress == nil {
		progress = func(ops.Progress) {}
	}
	done, err := s.Guard.Begin(ctx, p, a)
	if err != nil {
		return nil, err
	}
	rot, err := s.History.Get(rb.Rotation)
	if err == nil && !rot.Open() {
		err = fmt.Errorf("rollback: the rotation %s is %s now", rot.ID, rot.Phase)
	}
	var old synapse.Secret
	if err == nil && rot.KeptOld != "" {
		old, err = readKept(rot.KeptOld)
	}
	if err != nil {
		// The change happened (or failed) either way; a lost audit record is said.
		err = errors.Join(err, done(err, nil))
		return rot, err
	}
	progress(ops.Progress{Item: "roll back " + rot.ID, Stage: "running"})
	// The new token is not at hand; the new admin may exist once the old
	// token was kept (the step before its creation).
	undone, remaining := s.undo(ctx, rot, old, synapse.Secret{}, rot.KeptOld != "" && rot.NewAdmin != "")
	rot.Remaining = remaining
	if len(remaining) == 0 {
		rot.Phase = RolledBack
	} else {
		rot.Phase = RollbackIncomplete
		err = fmt.Errorf("rollback incomplete: %s", strings.Join(remaining, "; "))
	}
	if perr := s.History.Put(*rot); perr != nil && err == nil {
		err = perr
	}
	progress(ops.Progress{Item: "roll back " + rot.ID, Stage: string(rot.Phase), Detail: strings.Join(undone, "; ")})
	// The change happened (or failed) either way; a lost audit record is said.
	err = errors.Join(err, done(err, map[string]any{"rotation": rot.ID, "undone": undone, "remaining": remaining}))
	return rot, err
}

// ownSource says where synops reads its own token, for advice.
func (s *Service) ownSource() string {
	switch {
	case s.Own.File != "":
		return "token file " + s.Own.File
	case len(s.Own.Command) > 0:
		return "token command " + s.Own.Command[0]
	case s.Own.Env != "":
		return "$" + s.Own.Env
	}
	return "$MATRIX_ADMIN_TOKEN"
}
