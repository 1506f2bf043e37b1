package users

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"synops/ops"
	"synops/synapse"
)

// Disabling access (seed 004: "revoke access immediately") means: the
// account leaves every room it is joined to, cannot log in, and has no
// session left. Synapse has no admin call that makes a user leave a room:
// a kick needs the admin in the room with power over the user, which is
// often not so (DMs, rooms of other servers' admins), and deactivation parts
// rooms but destroys the account, which enable must be able to undo. What
// always works is the account leaving by itself, through a login-as token
// (a "puppet" token Synapse issues to the admin; it is short-lived, held in
// memory only, and logged out at the end). The order matters:
//
//  1. suspend: from now on it can neither join, knock, invite nor send, but
//     it may still leave, so nothing it does undoes step 2;
//  2. leave each joined room as itself, one at a time, journalled;
//  3. lock: no login succeeds and every token is refused, the puppet's too
//     (a locked account may only log out), which is why this comes after 2;
//  4. log out everywhere (/logout/all as the account, which a locked account
//     may still do): every device and every token, with or without a device;
//  5. lift the suspension the disable set (a suspension that was there
//     before stays): the lock now keeps the account out.
//
// A run that stops (Synapse restarted, synops killed) leaves the journal at
// its stage; running disable again continues from what the server then
// shows. An account that is already locked but still joined somewhere (a
// run that could not leave every room, or a lock set by hand) is suspended,
// logged out and then unlocked while it leaves: it has no session then and
// cannot join or send.

// planDisable writes the steps of a disable.
func (s *Service) planDisable(p *ops.Plan, d *Detail, step func(ops.Risk, string, ...any), note func(string, ...any)) {
	u := d.User
	if e := d.Disable; e != nil && e.Unfinished() {
		note("resumes the disable an earlier run left at stage %q (%s left so far)", e.Stage, plural(len(e.Left), "room"))
	}
	if !u.Suspended {
		step(ops.Reversible, "suspend %s, so that it cannot join, invite or send while it leaves its rooms", u.Name)
	}
	if u.Locked && len(d.Rooms) > 0 {
		step(ops.Destructive, "log out every session of %s, then unlock it for as long as leaving its rooms takes (suspended and with no session, it can neither join nor send)", u.Name)
	}
	step(ops.Irreversible, "make it leave its %s, one at a time, as itself (through a short-lived login-as token synops never stores); synops cannot rejoin them", plural(len(d.Rooms), "room"))
	step(ops.Reversible, "lock it: no login succeeds and every token it has is refused")
	step(ops.Destructive, "log out every session: its %s and every access token it has", plural(len(d.Devices), "device"))
	if !u.Suspended {
		step(ops.Reversible, "lift the suspension the disable set (the lock keeps it out)")
	}
	note("enable unlocks it later; it rejoins none of its rooms (invite it again where needed)")
}

// planEnable writes the steps of an enable.
func (s *Service) planEnable(d *Detail, step func(ops.Risk, string, ...any), note func(string, ...any)) {
	u := d.User
	if u.Locked {
		step(ops.Reversible, "unlock %s: it can log in again with its password", u.Name)
	}
	e := d.Disable
	if e != nil && e.WeSuspended && e.Stage != StageEnabled && u.Suspended {
		step(ops.Reversible, "lift the suspension an unfinished disable left")
	}
	switch {
	case e != nil && len(e.Left) > 0:
		note("it rejoins none of the %s its disable left (invite it again where needed): %s", plural(len(e.Left), "room"), strings.Join(first(e.Left, 10), ", "))
	default:
		note("rooms are not rejoined")
	}
	note("its old sessions stay ended: it logs in afresh")
}

func first(ids []string, n int) []string {
	if len(ids) <= n {
		return ids
	}
	return append(slices.Clone(ids[:n]), fmt.Sprintf("… %d more", len(ids)-n))
}

// puppetValidity is how long each login-as token of a disable lives.
const puppetValidity = 15 * time.Minute

// puppet hands out a client that acts as the account, through login-as
// tokens it asks for when needed and logs out when done.
type puppet struct {
	s      *Service
	userID string
	c      *synapse.Client
	until  time.Time
}

func (pp *puppet) client(ctx context.Context) (*synapse.Client, error) {
	if pp.c != nil && time.Until(pp.until) > time.Minute {
		return pp.c, nil
	}
	pp.close()
	until := time.Now().Add(puppetValidity)
	tok, err := pp.s.Synapse.LoginAs(ctx, pp.userID, until)
	if err != nil {
		return nil, fmt.Errorf("act as %s: %w", pp.userID, err)
	}
	pp.c, pp.until = pp.s.Synapse.WithToken(tok), until
	return pp.c, nil
}

// do runs f as the account; a token Synapse no longer knows (it expired)
// is replaced once.
func (pp *puppet) do(ctx context.Context, f func(*synapse.Client) error) error {
	c, err := pp.client(ctx)
	if err != nil {
		return err
	}
	err = f(c)
	if errors.Is(err, synapse.ErrUnknownToken) {
		pp.c = nil
		if c, err = pp.client(ctx); err != nil {
			return err
		}
		err = f(c)
	}
	return err
}

// close logs the current token out (best effort: it expires anyway).
func (pp *puppet) close() {
	if pp.c == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = pp.c.Logout(ctx)
	pp.c = nil
}

// applyDisable carries out (or resumes) a disable; see the comment at the
// top of this file.
func (s *Service) applyDisable(ctx context.Context, p *ops.Plan, id string, progress func(ops.Progress)) (*Result, any, error) {
	res := &Result{}
	if s.Journal == nil {
		return res, nil, errors.New("disable needs the users journal (it makes an interrupted disable resumable)")
	}
	report := func(pr ops.Progress) {
		if progress != nil {
			progress(pr)
		}
	}
	u, err := s.Synapse.User(ctx, id)
	if err != nil {
		return res, nil, err
	}
	e, known := s.Journal.Get(id)
	if !known || !e.Unfinished() {
		e = Entry{UserID: id}
	}
	e.PlanID, e.Stage = p.ID, StageStarted
	save := func(stage Stage) error {
		e.Stage, e.Updated = stage, s.now().UTC()
		if err := s.Journal.Set(e); err != nil {
			return fmt.Errorf("record the disable of %s: %w", id, err)
		}
		return nil
	}
	if err := save(StageStarted); err != nil {
		return res, nil, err
	}
	pp := &puppet{s: s, userID: id}
	defer pp.close()
	detail := func() map[string]any {
		return map[string]any{"rooms_left": len(e.Left), "rooms_failed": len(e.Failed), "stage": e.Stage}
	}

	joined, err := s.Synapse.UserJoinedRooms(ctx, id)
	if err != nil {
		return res, detail(), err
	}
	if !u.Suspended {
		// Written down before Synapse is asked, so that a run stopped in
		// between still lifts the suspension it may have set.
		e.WeSuspended = true
		if err := save(StageStarted); err != nil {
			return res, detail(), err
		}
		report(ops.Progress{Item: id, Stage: "suspending"})
		if err := s.Synapse.SetSuspended(ctx, id, true); err != nil {
			return res, detail(), err
		}
	}
	if u.Locked && len(joined) > 0 {
		report(ops.Progress{Item: id, Stage: "unlocking", Detail: "logged out first, to leave its rooms"})
		if err := pp.do(ctx, func(c *synapse.Client) error { return c.LogoutAll(ctx) }); err != nil {
			return res, detail(), fmt.Errorf("log out every session: %w", err)
		}
		if err := s.Synapse.SetLocked(ctx, id, false); err != nil {
			return res, detail(), err
		}
	}
	if err := save(StageLeaving); err != nil {
		return res, detail(), err
	}
	e.Failed = nil
	for i, room := range joined {
		report(ops.Progress{Item: room, Stage: "leaving", Done: i, Total: len(joined)})
		err := pp.do(ctx, func(c *synapse.Client) error { return c.LeaveRoom(ctx, room) })
		var se *synapse.Error
		switch {
		case err == nil:
			if !slices.Contains(e.Left, room) {
				e.Left = append(e.Left, room)
			}
			res.RoomsLeft++
			s.debug("users: disable left a room", "user", id, "room", room)
		case ctx.Err() != nil || synapse.IsUnreachable(err) || errors.As(err, &se) && se.Status >= 500:
			// Synapse is gone or failing: stop here, the journal says where.
			return res, detail(), fmt.Errorf("leave %s: %w; the account is suspended but not yet locked: run the same disable again to finish", room, err)
		default:
			if e.Failed == nil {
				e.Failed = map[string]string{}
			}
			e.Failed[room] = err.Error()
		}
		if err := save(StageLeaving); err != nil {
			return res, detail(), err
		}
	}
	report(ops.Progress{Item: id, Stage: "locking", Done: len(joined), Total: len(joined)})
	if err := save(StageLocking); err != nil {
		return res, detail(), err
	}
	if err := s.Synapse.SetLocked(ctx, id, true); err != nil {
		return res, detail(), err
	}
	report(ops.Progress{Item: id, Stage: "logging out"})
	if err := pp.do(ctx, func(c *synapse.Client) error { return c.LogoutAll(ctx) }); err != nil {
		return res, detail(), fmt.Errorf("log out every session: %w", err)
	}
	if e.WeSuspended {
		if err := save(StageRestoring); err != nil {
			return res, detail(), err
		}
		if err := s.Synapse.SetSuspended(ctx, id, false); err != nil {
			return res, detail(), err
		}
		e.WeSuspended = false
	}
	still, err := s.Synapse.UserJoinedRooms(ctx, id)
	if err != nil {
		return res, detail(), err
	}
	if len(still) > 0 {
		res.StillJoined = still
		if err := save(StageIncomplete); err != nil {
			return res, detail(), err
		}
		var why []string
		for _, r := range still {
			why = append(why, r+": "+e.Failed[r])
		}
		return res, detail(), fmt.Errorf("%s is locked and logged out, but still joined to %s (%s); run the same disable again to retry them",
			id, plural(len(still), "room"), strings.Join(why, "; "))
	}
	if err := save(StageDone); err != nil {
		return res, detail(), err
	}
	res.Summary = fmt.Sprintf("disabled %s: left %s, locked, every session logged out", id, plural(res.RoomsLeft, "room"))
	return res, detail(), nil
}

// applyEnable unlocks the account and lifts a suspension an unfinished
// disable left. Rooms are not rejoined.
func (s *Service) applyEnable(ctx context.Context, id string, report func(stage, detail string)) (*Result, any, error) {
	res := &Result{}
	u, err := s.Synapse.User(ctx, id)
	if err != nil {
		return res, nil, err
	}
	e, known := Entry{}, false
	if s.Journal != nil {
		e, known = s.Journal.Get(id)
	}
	if u.Locked {
		report("unlocking", "")
		if err := s.Synapse.SetLocked(ctx, id, false); err != nil {
			return res, nil, err
		}
	}
	if known && e.WeSuspended && e.Stage != StageEnabled && u.Suspended {
		report("lifting the suspension", "")
		if err := s.Synapse.SetSuspended(ctx, id, false); err != nil {
			return res, nil, err
		}
	}
	if known {
		e.Stage, e.WeSuspended, e.Updated = StageEnabled, false, s.now().UTC()
		if err := s.Journal.Set(e); err != nil {
			return res, nil, fmt.Errorf("record the enable of %s: %w", id, err)
		}
	}
	res.Summary = fmt.Sprintf("enabled %s: it can log in again; it rejoined no room", id)
	return res, map[string]int{"rooms_not_rejoined": len(e.Left)}, nil
}
