package users

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"synops/ops"
	"synops/synapse"
)

// Action is one change to an account; it is also the plan's Kind.
type Action string

const (
	Deactivate    Action = "users.deactivate"
	Erase         Action = "users.erase" // deactivate and GDPR-erase
	Suspend       Action = "users.suspend"
	Unsuspend     Action = "users.unsuspend"
	Lock          Action = "users.lock"
	Unlock        Action = "users.unlock"
	ResetPassword Action = "users.reset_password"
	GrantAdmin    Action = "users.grant_admin"
	RevokeAdmin   Action = "users.revoke_admin"
	Disable       Action = "users.disable" // seed 004: leave every room, lock, log out every session
	Enable        Action = "users.enable"
	LoginAs       Action = "users.login_as"
	RedactEvents  Action = "users.redact_events"
)

// Actions lists every action, for menus and help.
var Actions = []Action{Disable, Enable, Lock, Unlock, Suspend, Unsuspend, ResetPassword,
	GrantAdmin, RevokeAdmin, LoginAs, RedactEvents, Deactivate, Erase}

// Verb is the action in a few words: "disable access", "revoke admin".
func (a Action) Verb() string {
	switch a {
	case Deactivate:
		return "deactivate"
	case Erase:
		return "deactivate and erase"
	case Suspend:
		return "suspend"
	case Unsuspend:
		return "lift the suspension of"
	case Lock:
		return "lock"
	case Unlock:
		return "unlock"
	case ResetPassword:
		return "reset the password of"
	case GrantAdmin:
		return "grant admin to"
	case RevokeAdmin:
		return "revoke admin from"
	case Disable:
		return "disable access of"
	case Enable:
		return "enable access of"
	case LoginAs:
		return "log in as"
	case RedactEvents:
		return "redact the messages of"
	}
	return string(a)
}

// Request asks for one change to one account.
type Request struct {
	Action Action `json:"action"`
	UserID string `json:"user_id"`
	// ResetPassword: Password is the operator's typed password (never in a
	// plan, a log or a file); zero means synops generates one and shows it
	// once. KeepDevices keeps the account's sessions (default: log out).
	Password    synapse.Secret `json:"-"`
	KeepDevices bool           `json:"keep_devices,omitempty"`
	// LoginAs: how long the token works (0 means DefaultLoginValidity).
	ValidFor time.Duration `json:"valid_for,omitempty"`
	// Erase: also redact the account's messages. RedactEvents: Rooms limits
	// the redaction to these rooms (default: every room it has been in).
	Redact bool     `json:"redact,omitempty"`
	Rooms  []string `json:"rooms,omitempty"`
	Reason string   `json:"reason,omitempty"`
}

// DefaultLoginValidity is how long a login-as token works unless asked.
const DefaultLoginValidity = time.Hour

// maxLoginValidity keeps a forgotten login-as token from living for ever.
const maxLoginValidity = 7 * 24 * time.Hour

// redactLimit is how many of an account's newest messages per room one
// redaction reaches (Synapse's default is 1000).
const redactLimit = 10000

// MinPasswordLen is the shortest typed password accepted.
const MinPasswordLen = 12

// The refusals, checked with errors.Is. Each is logged as refused.
var (
	ErrOwnAccount  = errors.New("it is the account synops' admin token belongs to")
	ErrLastAdmin   = errors.New("it is the last remaining admin")
	ErrDeactivated = errors.New("it is deactivated")
	// ErrNothingToDo is not a refusal: the account is already as asked.
	ErrNothingToDo = ops.ErrNothingToDo
)

// selfForbidden are the actions that would lock synops out of the server
// (or that Synapse refuses for the token's own account).
var selfForbidden = []Action{Deactivate, Erase, Lock, Disable, Suspend, RevokeAdmin, LoginAs}

// onlyActive are the actions that make no sense on a deactivated account.
var onlyActive = []Action{Suspend, Unsuspend, Lock, Unlock, ResetPassword, GrantAdmin, Disable, Enable, LoginAs}

// params is what a plan carries to Apply: the request and what the plan
// decided from the server's state.
type params struct {
	Request
	PasswordTyped bool     `json:"password_typed,omitempty"`
	RedactRooms   []string `json:"redact_rooms,omitempty"`
}

func (r Request) check() error {
	if !slices.Contains(Actions, r.Action) {
		return fmt.Errorf("unknown user action %q", r.Action)
	}
	if err := synapse.ValidateUserID(r.UserID); err != nil {
		return err
	}
	if r.ValidFor < 0 || r.ValidFor > maxLoginValidity {
		return fmt.Errorf("a login-as token may work for up to %s, not %s", maxLoginValidity, r.ValidFor)
	}
	if !r.Password.IsZero() {
		if err := CheckPassword(r.Password); err != nil {
			return err
		}
	}
	for _, id := range r.Rooms {
		if err := synapse.ValidateRoomID(id); err != nil {
			return err
		}
	}
	return nil
}

// CheckPassword says whether a typed password is acceptable.
func CheckPassword(pw synapse.Secret) error {
	v := pw.Reveal()
	switch {
	case len([]rune(v)) < MinPasswordLen:
		return fmt.Errorf("the password is too short: type at least %d characters, or let synops generate one", MinPasswordLen)
	case len(v) > 512:
		return errors.New("the password is longer than Synapse accepts (512 bytes)")
	case strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return errors.New("the password contains a control character")
	}
	return nil
}

// plural is "1 room", "2 rooms".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// GeneratePassword is a fresh password with at least 128 random bits.
func GeneratePassword() synapse.Secret { return synapse.NewSecret(rand.Text()) }

// Plan reads the account and says what the change will do. It changes
// nothing. A refused change (the token's own account, the last admin, a
// deactivated account) is written to the audit log as refused; an account
// already as asked gives ErrNothingToDo.
func (s *Service) Plan(ctx context.Context, req Request) (*ops.Plan, *Detail, error) {
	if err := req.check(); err != nil {
		return nil, nil, err
	}
	d, err := s.Inspect(ctx, req.UserID)
	if err != nil {
		return nil, d, err
	}
	now := s.now()
	p := ops.NewPlan(string(req.Action), req.UserID, s.Server, s.Environment, now)
	p.Impact = d.Lines(now)
	if err := s.refusal(ctx, req, d.User, d.Self); err != nil {
		return nil, d, s.Guard.Refuse(p, err)
	}
	if err := nothingToDo(req, d); err != nil {
		return nil, d, err
	}
	pr := params{Request: req, PasswordTyped: !req.Password.IsZero()}
	u := d.User
	step := func(risk ops.Risk, format string, args ...any) {
		p.Steps = append(p.Steps, ops.Step{Title: fmt.Sprintf(format, args...), Risk: risk})
	}
	note := func(format string, args ...any) { p.Impact = append(p.Impact, fmt.Sprintf(format, args...)) }
	switch req.Action {
	case Deactivate, Erase:
		step(ops.Destructive, "deactivate %s: remove its %s and every access token, its password, e-mail addresses and phone numbers, pushers, account data and server-side key backup", u.Name, plural(len(d.Devices), "device"))
		if req.Action == Erase {
			step(ops.Irreversible, "erase it (GDPR): remove its display name and avatar and mark it erased")
		}
		step(ops.Irreversible, "part it from its %s (Synapse does it in the background; synops waits)", plural(len(d.Rooms), "room"))
		if req.Redact {
			rooms, err := s.everRooms(ctx, u.Name)
			if err != nil {
				return nil, d, err
			}
			pr.RedactRooms = rooms
			step(ops.Irreversible, "redact up to %d of its messages per room in the %s it has been in", redactLimit, plural(len(rooms), "room"))
		}
		note("it cannot log in again; reactivating it needs a new password and it rejoins no room")
		if req.Action == Erase && !req.Redact {
			note("its messages stay readable in the rooms (add the redaction to remove them)")
		}
		p.LosesData = true
	case Suspend:
		step(ops.Reversible, "suspend %s: it can still log in, read and leave rooms, but not join, invite or send messages", u.Name)
	case Unsuspend:
		step(ops.Reversible, "lift the suspension of %s", u.Name)
	case Lock:
		step(ops.Reversible, "lock %s: no login succeeds and every request with one of its %s' tokens is refused; devices and rooms stay", u.Name, plural(len(d.Devices), "device"))
	case Unlock:
		step(ops.Reversible, "unlock %s", u.Name)
	case ResetPassword:
		if pr.PasswordTyped {
			step(ops.Destructive, "replace the password of %s with the one typed", u.Name)
		} else {
			step(ops.Destructive, "replace the password of %s with one synops generates and shows once (it is stored nowhere)", u.Name)
		}
		if req.KeepDevices {
			note("its %s stay logged in", plural(len(d.Devices), "device"))
		} else {
			step(ops.Destructive, "log out its %s (their end-to-end keys go with them unless backed up)", plural(len(d.Devices), "device"))
		}
		if d.Self {
			note("synops' own token keeps working (Synapse spares the caller's session)")
		}
	case GrantAdmin:
		step(ops.Reversible, "make %s a server admin: it can then do everything synops does", u.Name)
	case RevokeAdmin:
		step(ops.Reversible, "revoke the server admin flag of %s", u.Name)
	case Disable:
		s.planDisable(p, d, step, note)
	case Enable:
		s.planEnable(d, step, note)
	case LoginAs:
		valid := req.ValidFor
		if valid == 0 {
			valid = DefaultLoginValidity
		}
		pr.ValidFor = valid
		step(ops.Reversible, "issue an access token that acts as %s for %s from approval; shown once, stored nowhere", u.Name, valid)
		note("whoever holds the token acts as %s until it expires: messages it sends are the account's", u.Name)
	case RedactEvents:
		rooms := req.Rooms
		if len(rooms) == 0 {
			var err error
			if rooms, err = s.everRooms(ctx, u.Name); err != nil {
				return nil, d, err
			}
		}
		if len(rooms) == 0 {
			return nil, d, fmt.Errorf("%w: %s has never been in a room", ErrNothingToDo, u.Name)
		}
		pr.RedactRooms = rooms
		step(ops.Irreversible, "redact up to %d of its messages per room in %s, as the account itself (Synapse's redaction job)", redactLimit, plural(len(rooms), "room"))
		note("other servers in those rooms receive the redactions too")
		p.LosesData = true
	}
	p.Params, _ = json.Marshal(pr)
	if pr.PasswordTyped {
		s.typedMu.Lock()
		if s.typed == nil {
			s.typed = map[string]synapse.Secret{}
		}
		s.typed[p.ID] = req.Password
		s.typedMu.Unlock()
	}
	return p, d, nil
}

// everRooms lists every room the account has a membership in (joined, left,
// banned, invited): the rooms its messages can be in.
func (s *Service) everRooms(ctx context.Context, userID string) ([]string, error) {
	ms, err := s.Synapse.UserMemberships(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("rooms of %s: %w", userID, explain(err))
	}
	return slices.Sorted(maps.Keys(ms)), nil
}

// refusal applies the rules no approval overrides.
func (s *Service) refusal(ctx context.Context, req Request, u *synapse.User, self bool) error {
	if req.Action == RevokeAdmin && u.Admin {
		n, err := s.otherAdmins(ctx, u.Name)
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("refusing to revoke admin from %s: %w on this server (deactivated and locked admins do not count); make another account admin first",
				u.Name, ErrLastAdmin)
		}
	}
	if self && slices.Contains(selfForbidden, req.Action) {
		return fmt.Errorf("refusing to %s %s: %w, and synops would shut itself out (use another admin's token for this)",
			req.Action.Verb(), u.Name, ErrOwnAccount)
	}
	if u.Deactivated && slices.Contains(onlyActive, req.Action) {
		return fmt.Errorf("refusing to %s %s: %w", req.Action.Verb(), u.Name, ErrDeactivated)
	}
	return nil
}

// otherAdmins counts the active, unlocked server admins other than userID.
func (s *Service) otherAdmins(ctx context.Context, userID string) (int, error) {
	admins, err := s.Synapse.AllUsers(ctx, synapse.ListUsersOptions{Admins: ptr(true), Deactivated: ptr(false), IncludeLocked: true, PageSize: 1000})
	if err != nil {
		return 0, fmt.Errorf("count the server admins: %w", explain(err))
	}
	n := 0
	for _, a := range admins {
		if a.Admin && !a.Deactivated && !a.Locked && a.Name != userID {
			n++
		}
	}
	return n, nil
}

func nothingToDo(req Request, d *Detail) error {
	u := d.User
	already := func(cond bool, state string) error {
		if cond {
			return fmt.Errorf("%w: %s is %s", ErrNothingToDo, u.Name, state)
		}
		return nil
	}
	switch req.Action {
	case Deactivate:
		return already(u.Deactivated, "already deactivated (deactivate --erase erases it)")
	case Erase:
		return already(u.Erased, "already erased")
	case Suspend:
		return already(u.Suspended, "already suspended")
	case Unsuspend:
		return already(!u.Suspended, "not suspended")
	case Lock:
		return already(u.Locked, "already locked")
	case Unlock:
		return already(!u.Locked, "not locked")
	case GrantAdmin:
		return already(u.Admin, "already a server admin")
	case RevokeAdmin:
		return already(!u.Admin, "not a server admin")
	case Disable:
		unfinished := d.Disable != nil && d.Disable.Unfinished()
		return already(u.Locked && len(d.Rooms) == 0 && len(d.Devices) == 0 && !unfinished, "already disabled (locked, in no room, no device)")
	case Enable:
		suspendedByDisable := d.Disable != nil && d.Disable.WeSuspended && d.Disable.Stage != StageEnabled && u.Suspended
		return already(!u.Locked && !suspendedByDisable, "not disabled (not locked)")
	}
	return nil
}

// Result is what an applied change did. Password and Token are shown to
// the operator once and never written anywhere; their JSON is "[redacted]".
type Result struct {
	Summary    string         `json:"summary"`
	Password   synapse.Secret `json:"-"` // reset-password: the generated one
	Token      synapse.Secret `json:"-"` // login-as
	ValidUntil time.Time      `json:"valid_until,omitzero"`
	// Deactivation: rooms Synapse had not parted the account from when
	// synops stopped waiting; disable: rooms it could not leave.
	StillJoined []string `json:"still_joined,omitempty"`
	// RoomsLeft counts the rooms a disable made the account leave.
	RoomsLeft int `json:"rooms_left,omitempty"`
	// Redaction: the job and the events it could not redact.
	RedactID         string            `json:"redact_id,omitempty"`
	FailedRedactions map[string]string `json:"failed_redactions,omitempty"`
}

// Apply runs an approved plan. It checks the rules again against the
// server as it is now (an admin revoked since the plan, the account
// deactivated), then passes the guard (read-only mode, the approval, the
// backup rule for a deactivation or erase), which writes the audit log's
// start and end lines; neither holds a password or token.
func (s *Service) Apply(ctx context.Context, p *ops.Plan, a ops.Approval, progress func(ops.Progress)) (*Result, error) {
	var pr params
	if p == nil || json.Unmarshal(p.Params, &pr) != nil || string(pr.Action) != p.Kind || pr.UserID != p.Target {
		return nil, errors.New("apply: not a users plan")
	}
	report := func(stage, detail string) {
		if progress != nil {
			progress(ops.Progress{Item: pr.UserID, Stage: stage, Detail: detail})
		}
	}
	u, err := s.Synapse.User(ctx, pr.UserID)
	if err != nil {
		return nil, fmt.Errorf("user %s: %w", pr.UserID, explain(err))
	}
	self, err := s.Self(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.refusal(ctx, pr.Request, u, u.Name == self); err != nil {
		return nil, s.Guard.Refuse(p, err)
	}
	if pr.PasswordTyped {
		s.typedMu.Lock()
		pw, ok := s.typed[p.ID]
		s.typedMu.Unlock()
		if !ok {
			return nil, s.Guard.Refuse(p, errors.New("the typed password of this plan is no longer held (synops keeps it in memory only, for the plan it was typed for): plan the reset again"))
		}
		pr.Password = pw
	}
	finish, err := s.Guard.Begin(ctx, p, a)
	if err != nil {
		return nil, err
	}
	if pr.PasswordTyped {
		s.typedMu.Lock()
		delete(s.typed, p.ID)
		s.typedMu.Unlock()
	}
	s.debug("users: apply", "action", pr.Action, "user", pr.UserID, "plan", p.ID)
	res, detail, err := s.apply(ctx, p, pr, report, progress)
	if err != nil {
		err = fmt.Errorf("%s %s: %w", pr.Action.Verb(), pr.UserID, explain(err))
	}
	s.debug("users: applied", "action", pr.Action, "user", pr.UserID, "plan", p.ID, "err", err)
	// The change happened (or failed) whether or not its end line could be
	// written; a lost record is said, not dropped.
	err = errors.Join(err, finish(err, detail))
	if err == nil {
		report("done", res.Summary)
	}
	return res, err
}

// apply does the work of one action; detail is what the audit log's end
// line records (IDs and counts, never a secret).
func (s *Service) apply(ctx context.Context, p *ops.Plan, pr params, report func(stage, detail string), progress func(ops.Progress)) (*Result, any, error) {
	id := pr.UserID
	res := &Result{}
	set := func(err error, format string, args ...any) (*Result, any, error) {
		if err != nil {
			return res, nil, err
		}
		res.Summary = fmt.Sprintf(format, args...)
		return res, nil, nil
	}
	switch pr.Action {
	case Deactivate, Erase:
		return s.applyDeactivate(ctx, pr, report)
	case Suspend, Unsuspend:
		report("suspending", "")
		return set(s.Synapse.SetSuspended(ctx, id, pr.Action == Suspend), "%sed %s", strings.TrimPrefix(string(pr.Action), "users."), id)
	case Lock, Unlock:
		report("locking", "")
		verb := "locked"
		if pr.Action == Unlock {
			verb = "unlocked"
		}
		return set(s.Synapse.SetLocked(ctx, id, pr.Action == Lock), "%s %s", verb, id)
	case GrantAdmin, RevokeAdmin:
		report("setting the admin flag", "")
		verb := "granted admin to"
		if pr.Action == RevokeAdmin {
			verb = "revoked admin from"
		}
		return set(s.Synapse.SetAdmin(ctx, id, pr.Action == GrantAdmin), "%s %s", verb, id)
	case ResetPassword:
		pw, generated := pr.Password, pr.Password.IsZero()
		if generated {
			pw = GeneratePassword()
		}
		report("setting the password", "")
		if err := s.Synapse.ResetPassword(ctx, id, pw, !pr.KeepDevices); err != nil {
			return res, nil, err
		}
		if generated {
			res.Password = pw
		}
		res.Summary = "new password set for " + id
		if !pr.KeepDevices {
			res.Summary += "; its devices were logged out"
		}
		return res, map[string]bool{"generated": generated, "logout_devices": !pr.KeepDevices}, nil
	case LoginAs:
		until := time.Now().Add(pr.ValidFor).Truncate(time.Second)
		report("issuing a token", "")
		tok, err := s.Synapse.LoginAs(ctx, id, until)
		if err != nil {
			return res, nil, err
		}
		res.Token, res.ValidUntil = tok, until
		res.Summary = fmt.Sprintf("access token acting as %s, valid until %s", id, until.UTC().Format(time.RFC3339))
		return res, map[string]string{"valid_until": until.UTC().Format(time.RFC3339)}, nil
	case RedactEvents:
		if err := s.redact(ctx, id, pr.RedactRooms, pr.Reason, res, report); err != nil {
			return res, nil, err
		}
		res.Summary = fmt.Sprintf("redacted the messages of %s in %s", id, plural(len(pr.RedactRooms), "room"))
		if n := len(res.FailedRedactions); n > 0 {
			res.Summary += fmt.Sprintf("; %d could not be redacted", n)
		}
		return res, map[string]any{"redact_id": res.RedactID, "rooms": len(pr.RedactRooms), "failed": len(res.FailedRedactions)}, nil
	case Disable:
		return s.applyDisable(ctx, p, id, progress)
	case Enable:
		return s.applyEnable(ctx, id, report)
	}
	return res, nil, fmt.Errorf("unknown user action %q", pr.Action)
}

// applyDeactivate deactivates (and erases), waits until Synapse has parted
// the account from its rooms, then redacts its messages if asked. The
// redaction comes last so the account is shut out first; Synapse's job
// still redacts in rooms it has left, as the account.
func (s *Service) applyDeactivate(ctx context.Context, pr params, report func(stage, detail string)) (*Result, any, error) {
	id, erase := pr.UserID, pr.Action == Erase
	res := &Result{}
	rooms := pr.RedactRooms
	if pr.Redact {
		// Rooms joined since the plan count too.
		now, err := s.everRooms(ctx, id)
		if err != nil {
			return res, nil, err
		}
		for _, r := range now {
			if !slices.Contains(rooms, r) {
				rooms = append(rooms, r)
			}
		}
	}
	report("deactivating", "")
	if err := s.Synapse.DeactivateUser(ctx, id, erase); err != nil {
		return res, nil, err
	}
	still, err := s.waitParted(ctx, id, report)
	if err != nil {
		return res, nil, err
	}
	res.StillJoined = still
	detail := map[string]any{"erase": erase, "still_joined": len(still)}
	if pr.Redact {
		if err := s.redact(ctx, id, rooms, "account erased", res, report); err != nil {
			return res, detail, err
		}
		detail["redact_id"], detail["redact_rooms"], detail["redact_failed"] = res.RedactID, len(rooms), len(res.FailedRedactions)
	}
	res.Summary = "deactivated " + id
	if erase {
		res.Summary = "deactivated and erased " + id
	}
	if pr.Redact {
		res.Summary += fmt.Sprintf("; its messages in %s redacted", plural(len(rooms), "room"))
		if n := len(res.FailedRedactions); n > 0 {
			res.Summary += fmt.Sprintf(" (%d could not be)", n)
		}
	}
	if len(still) > 0 {
		res.Summary += fmt.Sprintf("; Synapse is still parting it from %s in the background", plural(len(still), "room"))
	}
	return res, detail, nil
}

// waitParted polls the account's rooms until Synapse's background parting
// is done or PartWait passes; it returns the rooms still joined then.
func (s *Service) waitParted(ctx context.Context, id string, report func(stage, detail string)) ([]string, error) {
	deadline := time.Now().Add(s.partWait())
	for {
		joined, err := s.Synapse.UserJoinedRooms(ctx, id)
		if err != nil {
			return nil, err
		}
		if len(joined) == 0 || time.Now().After(deadline) {
			return joined, nil
		}
		report("parting", fmt.Sprintf("Synapse is parting it from %s", plural(len(joined), "room")))
		select {
		case <-ctx.Done():
			return joined, ctx.Err()
		case <-time.After(s.poll()):
		}
	}
}

// redact runs Synapse's redaction job over rooms and follows it to the end.
func (s *Service) redact(ctx context.Context, id string, rooms []string, reason string, res *Result, report func(stage, detail string)) error {
	if len(rooms) == 0 {
		return nil
	}
	report("redacting", plural(len(rooms), "room"))
	rid, err := s.Synapse.RedactUserEvents(ctx, id, synapse.RedactOptions{Rooms: rooms, Reason: reason, Limit: redactLimit})
	if err != nil {
		return err
	}
	res.RedactID = rid
	st, err := s.Synapse.WaitRedact(ctx, rid, s.poll(), func(st synapse.RedactStatus) {
		report("redacting", "Synapse: "+st.Status)
	})
	if st != nil {
		res.FailedRedactions = st.FailedRedactions
	}
	return err
}
