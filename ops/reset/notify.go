package reset

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"synops/ops"
	"synops/ops/audit"
	"synops/ops/backup"
	"synops/ops/config"
	"synops/ops/text"
	"synops/synapse"
)

// Item 3 of seed 000's checklist, "Alert all team members that Matrix chat
// will be unavailable during reset", and item 4's "take a backup now".

// KindNotify is the plan kind of sending the reset notice.
const KindNotify = "reset.notify"

// NotifyParams is what a notice plan sends, and to whom.
type NotifyParams struct {
	Message string   `json:"message"`
	Room    string   `json:"room,omitempty"`  // a room ID: one notice there
	Users   []string `json:"users,omitempty"` // else a server notice to each
}

// DefaultMessage is the notice when the operator gives none.
func (s *Service) DefaultMessage() string {
	return fmt.Sprintf("Matrix chat on %s will be unavailable for a while: its database is being reset. Rooms, messages and accounts on it will be gone afterwards.", s.Server)
}

// PlanNotify says who gets message: a notice in reset.notify_room, or a
// server notice to every active local user. It changes nothing.
func (s *Service) PlanNotify(ctx context.Context, message string) (*ops.Plan, error) {
	message = strings.TrimSpace(message)
	if message == "" {
		message = s.DefaultMessage()
	}
	p := ops.NewPlan(KindNotify, s.Server, s.Server, string(s.Environment), s.now())
	np := NotifyParams{Message: message}
	if r := s.Config.NotifyRoom; r != "" {
		id := r
		if strings.HasPrefix(r, "#") {
			var err error
			if id, err = s.Synapse.ResolveAlias(ctx, r); err != nil {
				return nil, fmt.Errorf("plan the notice: room %s: %w", r, err)
			}
		}
		who, err := s.Synapse.Whoami(ctx)
		if err != nil {
			return nil, fmt.Errorf("plan the notice: %w", err)
		}
		np.Room = id
		p.Steps = []ops.Step{{Title: fmt.Sprintf("post an m.notice to %s (%s) as %s", r, id, who.UserID), Risk: ops.Reversible}}
	} else {
		f, no := false, false
		users, err := s.Synapse.AllUsers(ctx, synapse.ListUsersOptions{Deactivated: &f, Guests: &no})
		if err != nil {
			return nil, fmt.Errorf("plan the notice: list the local users: %w", err)
		}
		for _, u := range users {
			np.Users = append(np.Users, u.Name)
		}
		if len(np.Users) == 0 {
			return nil, fmt.Errorf("plan the notice: %w: %s has no active local user to tell", ops.ErrNothingToDo, s.Server)
		}
		p.Steps = []ops.Step{{Title: fmt.Sprintf("send a server notice to each of the %d active local users", len(np.Users)), Risk: ops.Reversible}}
		if w := s.serverNoticesWarning(); w != "" {
			p.Impact = append(p.Impact, w)
		}
	}
	p.Impact = append([]string{"message: " + text.Quote(message)}, p.Impact...)
	p.Steps = append(p.Steps, ops.Step{Title: "record when the team was told in the reset state file", Risk: ops.Reversible})
	p.Params, _ = json.Marshal(np)
	return p, nil
}

// serverNoticesWarning says when server notices may be refused: Synapse
// sends them only with server_notices in homeserver.yaml.
func (s *Service) serverNoticesWarning() string {
	const instead = "; set reset.notify_room to post to a room instead"
	if s.HomeserverYAML == "" {
		return "server notices need server_notices in homeserver.yaml" + instead
	}
	tree, err := config.LoadHomeserverTree(s.HomeserverYAML)
	if err != nil {
		return "server notices need server_notices in homeserver.yaml, which could not be read (" + err.Error() + ")" + instead
	}
	if v, ok := tree.Get("server_notices"); !ok || v == nil {
		return tree.Path() + " has no server_notices, so Synapse will refuse the notices: add it and restart Synapse" + instead
	}
	return ""
}

// ApplyNotify sends the notice an approved plan names and records when.
// A server notice that some users did not get is said; it counts as told
// when at least one got it.
func (s *Service) ApplyNotify(ctx context.Context, p *ops.Plan, a ops.Approval, progress func(ops.Progress)) (*Told, error) {
	var np NotifyParams
	if p == nil || p.Kind != KindNotify || json.Unmarshal(p.Params, &np) != nil {
		return nil, errors.New("apply notice: not a notice plan")
	}
	if progress == nil {
		progress = func(ops.Progress) {}
	}
	finish, err := s.Guard.Begin(ctx, p, a)
	if err != nil {
		return nil, err
	}
	told := &Told{At: s.now().UTC()}
	var failed []string
	if np.Room != "" {
		progress(ops.Progress{Item: np.Room, Stage: "sending"})
		if _, err := s.Synapse.SendNotice(ctx, np.Room, np.Message, "synops-reset-"+p.ID); err != nil {
			err = fmt.Errorf("post the notice to %s: %w", np.Room, err)
			return nil, errors.Join(err, finish(err, nil))
		}
		told.How, told.Detail = "room", "a notice in "+np.Room
	} else {
		sent := 0
		for i, u := range np.Users {
			progress(ops.Progress{Item: u, Stage: "sending", Done: i, Total: len(np.Users)})
			if _, err := s.Synapse.SendServerNotice(ctx, u, np.Message, fmt.Sprintf("synops-reset-%s-%d", p.ID, i)); err != nil {
				failed = append(failed, u+": "+err.Error())
				if sent == 0 && i == 0 && strings.Contains(err.Error(), "not enabled") {
					err = fmt.Errorf("send server notices: %w (configure server_notices in homeserver.yaml, or set reset.notify_room)", err)
					return nil, errors.Join(err, finish(err, nil))
				}
				continue
			}
			sent++
		}
		progress(ops.Progress{Item: "server notices", Stage: "done", Done: len(np.Users), Total: len(np.Users)})
		if sent == 0 {
			err := fmt.Errorf("no server notice was sent: %s", strings.Join(failed, "; "))
			return nil, errors.Join(err, finish(err, nil))
		}
		told.How, told.Detail = "server notice", fmt.Sprintf("sent to %d of %d local users", sent, len(np.Users))
	}
	err = s.recordTold(told)
	detail := map[string]any{"how": told.How, "detail": told.Detail}
	if len(failed) > 0 {
		detail["failed"] = len(failed)
		err = errors.Join(err, fmt.Errorf("%d users did not get the notice: %s", len(failed), strings.Join(failed, "; ")))
	}
	return told, errors.Join(err, finish(err, detail))
}

// ConfirmTold records the operator's word that the team knows. It changes
// nothing on the server; the audit log keeps it with the note.
func (s *Service) ConfirmTold(_ context.Context, note string) (*Told, error) {
	told := &Told{At: s.now().UTC(), How: "operator", Detail: text.Clean(strings.TrimSpace(note))}
	if err := s.recordTold(told); err != nil {
		return nil, err
	}
	if s.Guard != nil && s.Guard.Audit != nil {
		e := audit.Entry{Profile: s.Guard.Profile, Server: s.Server, Environment: string(s.Environment),
			Action: "reset.told", Target: s.Server, Phase: "end", Outcome: "ok", Risk: ops.ReadOnly.String(),
			Detail: map[string]any{"note": told.Detail}}
		if err := s.Guard.Audit.Write(e); err != nil {
			return told, err
		}
	}
	return told, nil
}

func (s *Service) recordTold(t *Told) error {
	st, err := s.record()
	if err != nil {
		return err
	}
	if st == nil || st.Phase == Done {
		st = &State{ID: "told-" + t.At.Format("20060102T150405Z"), Server: s.Server, Phase: Preparing, Path: s.path(), PreviousEnd: st.LastEnd()}
		if s.Guard != nil {
			st.Profile = s.Guard.Profile
		}
	}
	st.Told = t
	return s.save(st)
}

// PlanBackup is the offer of the backup item: a backup taken and verified
// now (it changes nothing on the server, so it needs no approval).
func (s *Service) PlanBackup(ctx context.Context) (*ops.Plan, error) {
	if s.Backups == nil {
		return nil, errors.New("no backup directory is configured: set backup.dir")
	}
	return s.Backups.PlanCreate(ctx, backup.CreateRequest{Verify: true})
}

// TakeBackup takes and verifies the backup PlanBackup planned. It fails
// unless the verification passed: only a verified backup opens the gate.
func (s *Service) TakeBackup(ctx context.Context, p *ops.Plan, progress func(ops.Progress)) (*backup.CreateResult, error) {
	if s.Backups == nil {
		return nil, errors.New("no backup directory is configured: set backup.dir")
	}
	res, err := s.Backups.ApplyCreate(ctx, p, ops.Approval{}, progress)
	if err != nil {
		return res, err
	}
	if res.Verify == nil || !res.Verify.Passed {
		why := "it was not verified"
		if res.Verify != nil && res.Verify.Error != "" {
			why = res.Verify.Error
		}
		return res, fmt.Errorf("backup %s: %s", res.Entry.ID, why)
	}
	return res, nil
}
