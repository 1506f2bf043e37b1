package rooms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"synops/ops"
	"synops/ops/text"
	"synops/synapse"
)

// DeleteRequest asks for one room to be shut down and purged.
type DeleteRequest struct {
	RoomID string `json:"room_id"`
	Block  bool   `json:"block"` // also block the room ID from being joined again
	Force  bool   `json:"force"` // purge even if local users could not be kicked
}

// PlanDelete reads the room and says what deleting it does. It changes nothing.
func (s *Service) PlanDelete(ctx context.Context, req DeleteRequest) (*ops.Plan, *Impact, error) {
	if err := synapse.ValidateRoomID(req.RoomID); err != nil {
		return nil, nil, err
	}
	im, err := s.Inspect(ctx, req.RoomID)
	if err != nil {
		return nil, im, err
	}
	p := ops.NewPlan("rooms.delete", req.RoomID, s.Server, s.Environment, s.now())
	p.Steps = []ops.Step{{Title: fmt.Sprintf("kick %d local members and remove the room's aliases", len(im.LocalMembers)), Risk: ops.Irreversible},
		{Title: "purge the room's events and state from Synapse's database", Risk: ops.Irreversible}}
	if req.Block {
		p.Steps = append(p.Steps, ops.Step{Title: "block the room ID so it cannot be joined again", Risk: ops.Reversible})
	}
	if n := total(im.Refs); n > 0 && s.App != nil {
		p.Steps = append(p.Steps, ops.Step{Title: fmt.Sprintf("clear %d application references after Synapse confirms", n), Risk: ops.Destructive})
	}
	p.Impact = im.Lines(s.now())
	p.LosesData = true
	p.Params, _ = json.Marshal(req)
	return p, im, nil
}

// DeleteResult is what a finished deletion did.
type DeleteResult struct {
	DeleteID    string                  `json:"delete_id"`   // the background task; "" when Synchronous
	Synchronous bool                    `json:"synchronous"` // deleted by the synchronous v1 delete
	Shutdown    *synapse.ShutdownResult `json:"shutdown,omitempty"`
	RefsCleared int64                   `json:"refs_cleared"`
}

// ApplyDelete runs an approved delete plan: Synapse's asynchronous delete,
// polled to the end, then the app references in one transaction. If it is
// interrupted, the journal knows the delete ID and a later run finishes it.
func (s *Service) ApplyDelete(ctx context.Context, p *ops.Plan, a ops.Approval, progress func(ops.Progress)) (*DeleteResult, error) {
	var req DeleteRequest
	if p.Kind != "rooms.delete" || json.Unmarshal(p.Params, &req) != nil {
		return nil, errors.New("apply delete: not a room delete plan")
	}
	finish, err := s.Guard.Begin(ctx, p, a)
	if err != nil {
		return nil, err
	}
	res, err := s.deleteOne(ctx, req.RoomID, "", synapse.DeleteRoomOptions{Block: req.Block, ForcePurge: req.Force}, false, func(pr ops.Progress) {
		pr.Total, pr.Done = 1, 0
		if progress != nil {
			progress(pr)
		}
	})
	return res, errors.Join(err, finish(err, res))
}

// deleteOne deletes roomID (or resumes deleteID), waits, clears references.
// With sync, a room not yet asked about is deleted with the synchronous v1
// delete (see syncDelete); anything else goes through a background task
// followed to its end.
func (s *Service) deleteOne(ctx context.Context, roomID, name string, o synapse.DeleteRoomOptions, sync bool, progress func(ops.Progress)) (*DeleteResult, error) {
	report := func(stage, detail string) {
		if progress != nil {
			progress(ops.Progress{Item: roomID, Stage: stage, Detail: detail})
		}
	}
	res := &DeleteResult{}
	entry, known := Entry{}, false
	if s.Journal != nil {
		entry, known = s.Journal.Get(roomID)
	}
	switch {
	case known && entry.Stage == StageDeleting && entry.DeleteID != "":
		res.DeleteID = entry.DeleteID // resume: never ask Synapse twice
		report("deleting", "resuming delete "+entry.DeleteID)
	case known && entry.Stage == StageRefsPending:
		res.DeleteID = entry.DeleteID
	default:
		// A delete this room already has (sent by a run that lost the
		// answer, or by someone else) is followed, not sent again: Synapse
		// accepts a second one while the first is only scheduled.
		id, err := s.runningDelete(ctx, roomID)
		if err != nil {
			return res, fmt.Errorf("delete %s: %w", roomID, explain(err))
		}
		if id == "" && known && entry.Stage == StageRequested {
			// An earlier run asked and never heard back, and no task runs
			// now: if the room is gone, Synapse finished; clear references.
			// A synchronous delete may have been cut off between purging
			// the room's events and its state, and Synapse does not take it
			// up again: a background delete of the gone room finishes that.
			sync = false
			if _, err := s.Synapse.Room(ctx, roomID); errors.Is(err, synapse.ErrNotFound) && !entry.Sync {
				return s.finishRefs(ctx, roomID, name, res, report)
			}
		}
		if id == "" {
			if err := s.journal(Entry{RoomID: roomID, Name: name, Stage: StageRequested, Sync: sync}); err != nil {
				return res, err
			}
			if sync {
				done, err := s.syncDelete(ctx, roomID, o, entry, known, res, report)
				if done || err != nil {
					if err != nil {
						return res, err
					}
					return s.finishRefs(ctx, roomID, name, res, report)
				}
			}
			report("deleting", "asking Synapse to delete")
			id, err = s.Synapse.DeleteRoom(ctx, roomID, o)
			// Taken back only if no request about the room may have
			// arrived: not after a synchronous one whose answer was lost.
			if err != nil && synapse.NeverSent(err) && !sync {
				err = errors.Join(err, s.unrecord(roomID, entry, known))
			}
		}
		if err != nil {
			return res, fmt.Errorf("delete %s: %w", roomID, explain(err))
		}
		res.DeleteID = id
		if err := s.journal(Entry{RoomID: roomID, Name: name, Stage: StageDeleting, DeleteID: id}); err != nil {
			return res, err
		}
	}
	if !known || entry.Stage != StageRefsPending {
		if err := s.waitDeleted(ctx, roomID, name, o, res, report); err != nil {
			return res, err
		}
		if err := s.journal(Entry{RoomID: roomID, Name: name, Stage: StageRefsPending, DeleteID: res.DeleteID}); err != nil {
			return res, err
		}
	}
	return s.finishRefs(ctx, roomID, name, res, report)
}

// syncDelete deletes roomID with the synchronous v1 delete, its request
// already in the journal. done says Synapse answered that the room is
// gone. A request that provably never left is taken out of the journal
// again and returned as the error. Any other failure, an error answer or a
// lost one, returns neither: the caller asks for a background delete,
// which Synapse retries, can be followed, and does no harm if the first
// request is still at work (the purge waits for its lock, then finds
// nothing left).
func (s *Service) syncDelete(ctx context.Context, roomID string, o synapse.DeleteRoomOptions, entry Entry, known bool, res *DeleteResult, report func(stage, detail string)) (done bool, err error) {
	report("deleting", "asking Synapse to delete now")
	sr, err := s.Synapse.DeleteRoomNow(ctx, roomID, o)
	switch {
	case err == nil:
		res.Shutdown, res.Synchronous = sr, true
		return true, nil
	case synapse.NeverSent(err):
		return false, fmt.Errorf("delete %s: %w", roomID, errors.Join(explain(err), s.unrecord(roomID, entry, known)))
	case ctx.Err() != nil:
		return false, fmt.Errorf("delete %s: %w", roomID, err)
	}
	report("deleting", "the synchronous delete did not succeed ("+text.Clean(err.Error())+"): asking for a background delete")
	return false, nil
}

// unrecord takes back the journal entry of a delete request that never
// reached Synapse, so that no later run reports it as started.
func (s *Service) unrecord(roomID string, before Entry, known bool) error {
	if s.Journal == nil {
		return nil
	}
	if known {
		return s.Journal.Set(before)
	}
	return s.Journal.Remove(roomID)
}

// deleteRetryWait is the first pause before asking Synapse again to delete a
// room whose deletion it reported failed; each next pause is twice as long.
const (
	deleteRetryWait = time.Second
	deleteRetries   = 4
)

// waitDeleted follows res.DeleteID to its end. When Synapse reports the
// deletion failed and the room is still there, it asks again after a pause,
// a few times: right after a restart Synapse queues rooms for a sliding-sync
// recalculation, and deleting one still queued fails with a foreign key
// violation (element-hq/synapse#19822) until its background update has run,
// seconds later. A failed task changed what it could and holds nothing, so
// a new one is what the next run would send anyway.
func (s *Service) waitDeleted(ctx context.Context, roomID, name string, o synapse.DeleteRoomOptions, res *DeleteResult, report func(stage, detail string)) error {
	wait := deleteRetryWait
	for retry := 0; ; retry++ {
		st, err := s.Synapse.WaitDelete(ctx, res.DeleteID, s.poll(), func(st synapse.DeleteStatus) {
			report("deleting", "Synapse: "+st.Status)
		})
		if err == nil {
			res.Shutdown = st.Shutdown
			return nil
		}
		failed := st != nil && st.Status == "failed"
		if !failed || retry >= deleteRetries || ctx.Err() != nil {
			if failed {
				_ = s.journal(Entry{RoomID: roomID, Name: name, Stage: StageFailed, DeleteID: res.DeleteID, Error: err.Error()})
			}
			return fmt.Errorf("delete %s (delete %s): %w", roomID, res.DeleteID, err)
		}
		report("deleting", fmt.Sprintf("Synapse's delete %s failed (%s); asking again in %s", res.DeleteID, text.Clean(st.Error), wait))
		if err := sleep(ctx, wait); err != nil {
			return fmt.Errorf("delete %s (delete %s failed, not asked again): %w", roomID, res.DeleteID, err)
		}
		wait *= 2
		if _, err := s.Synapse.Room(ctx, roomID); errors.Is(err, synapse.ErrNotFound) {
			return nil // gone after all
		}
		if err := s.journal(Entry{RoomID: roomID, Name: name, Stage: StageRequested, DeleteID: res.DeleteID}); err != nil {
			return err
		}
		id, err := s.Synapse.DeleteRoom(ctx, roomID, o)
		if err != nil {
			return fmt.Errorf("delete %s (again, after delete %s failed): %w", roomID, res.DeleteID, explain(err))
		}
		res.DeleteID = id
		if err := s.journal(Entry{RoomID: roomID, Name: name, Stage: StageDeleting, DeleteID: id}); err != nil {
			return err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// finishRefs clears the app references of a room Synapse has deleted.
func (s *Service) finishRefs(ctx context.Context, roomID, name string, res *DeleteResult, report func(stage, detail string)) (*DeleteResult, error) {
	if s.App != nil {
		report("clearing references", "")
		n, err := s.App.Clear(ctx, roomID)
		if err != nil {
			_ = s.journal(Entry{RoomID: roomID, Name: name, Stage: StageRefsPending, DeleteID: res.DeleteID})
			return res, err
		}
		res.RefsCleared = n
	}
	report("done", "")
	return res, s.journal(Entry{RoomID: roomID, Name: name, Stage: StageDone, DeleteID: res.DeleteID})
}

func (s *Service) journal(e Entry) error {
	if s.Journal == nil {
		return nil
	}
	e.Updated = s.now().UTC()
	if err := s.Journal.Set(e); err != nil {
		return fmt.Errorf("record progress of %s: %w", e.RoomID, err)
	}
	return nil
}

// PlanBlock says what blocking (or unblocking) roomID does.
func (s *Service) PlanBlock(ctx context.Context, roomID string, block bool) (*ops.Plan, error) {
	if err := synapse.ValidateRoomID(roomID); err != nil {
		return nil, err
	}
	blocked, by, err := s.Synapse.RoomBlocked(ctx, roomID)
	if err != nil {
		return nil, fmt.Errorf("room %s: %w", roomID, explain(err))
	}
	verb := "block"
	if !block {
		verb = "unblock"
	}
	p := ops.NewPlan("rooms."+verb, roomID, s.Server, s.Environment, s.now())
	p.Steps = []ops.Step{{Title: verb + " " + roomID, Risk: ops.Reversible}}
	state := "not blocked"
	if blocked {
		state = "blocked"
		if by != "" {
			state += " by " + by
		}
	}
	p.Impact = []string{"now " + state}
	if d, err := s.Synapse.Room(ctx, roomID); err == nil {
		p.Impact = append(p.Impact, fmt.Sprintf("%s with %d joined members", text.Quote(d.Name), d.JoinedMembers))
	} else if errors.Is(err, synapse.ErrNotFound) {
		p.Impact = append(p.Impact, "this server does not know the room: blocking keeps it from ever joining it")
	}
	if block {
		p.Impact = append(p.Impact, "local users cannot join it; members already in it stay")
	}
	p.Params, _ = json.Marshal(map[string]any{"room_id": roomID, "block": block})
	return p, nil
}

// ApplyBlock runs an approved block/unblock plan.
func (s *Service) ApplyBlock(ctx context.Context, p *ops.Plan, a ops.Approval) error {
	var params struct {
		RoomID string `json:"room_id"`
		Block  bool   `json:"block"`
	}
	if (p.Kind != "rooms.block" && p.Kind != "rooms.unblock") || json.Unmarshal(p.Params, &params) != nil || params.RoomID == "" {
		return errors.New("apply block: not a block plan")
	}
	finish, err := s.Guard.Begin(ctx, p, a)
	if err != nil {
		return err
	}
	err = s.Synapse.BlockRoom(ctx, params.RoomID, params.Block)
	return errors.Join(err, finish(err, nil))
}

// PurgeHistoryRequest removes a room's events older than Before.
type PurgeHistoryRequest struct {
	RoomID            string    `json:"room_id"`
	Before            time.Time `json:"before"`
	DeleteLocalEvents bool      `json:"delete_local_events"`
}

// PlanPurgeHistory says what purging the room's history before a time does.
func (s *Service) PlanPurgeHistory(ctx context.Context, req PurgeHistoryRequest) (*ops.Plan, error) {
	if err := synapse.ValidateRoomID(req.RoomID); err != nil {
		return nil, err
	}
	if req.Before.IsZero() {
		return nil, errors.New("purge history: give a time to purge before (--before 2026-01-01 or --before 30d)")
	}
	if req.Before.After(s.now()) {
		return nil, fmt.Errorf("purge history: %s is in the future", req.Before.Format(time.RFC3339))
	}
	d, err := s.Synapse.Room(ctx, req.RoomID)
	if err != nil {
		return nil, fmt.Errorf("room %s: %w", req.RoomID, explain(err))
	}
	p := ops.NewPlan("rooms.purge_history", req.RoomID, s.Server, s.Environment, s.now())
	whose := "events sent by other servers' users"
	if req.DeleteLocalEvents {
		whose = "all events, this server's users' too"
	}
	p.Steps = []ops.Step{{Title: fmt.Sprintf("purge %s before %s", whose, req.Before.UTC().Format("2006-01-02 15:04 MST")), Risk: ops.Destructive}}
	p.Impact = []string{
		fmt.Sprintf("%s, %d joined members, %d state events", text.Quote(d.Name), d.JoinedMembers, d.StateEvents),
		"state events and the room's newest event are always kept",
		"run VACUUM FULL on the database afterwards to give the space back",
	}
	p.LosesData = true
	p.Params, _ = json.Marshal(req)
	return p, nil
}

// ApplyPurgeHistory runs an approved purge and waits for Synapse to finish.
func (s *Service) ApplyPurgeHistory(ctx context.Context, p *ops.Plan, a ops.Approval, progress func(ops.Progress)) error {
	var req PurgeHistoryRequest
	if p.Kind != "rooms.purge_history" || json.Unmarshal(p.Params, &req) != nil {
		return errors.New("apply purge history: not a purge-history plan")
	}
	finish, err := s.Guard.Begin(ctx, p, a)
	if err != nil {
		return err
	}
	id, err := s.Synapse.PurgeHistory(ctx, req.RoomID, synapse.PurgeHistoryOptions{Before: req.Before, DeleteLocalEvents: req.DeleteLocalEvents})
	if err == nil {
		if progress != nil {
			progress(ops.Progress{Item: req.RoomID, Stage: "purging", Total: 1, Detail: "purge " + id})
		}
		err = s.Synapse.WaitPurgeHistory(ctx, id, s.poll())
	}
	if err != nil {
		err = fmt.Errorf("purge history of %s: %w", req.RoomID, explain(err))
	}
	return errors.Join(err, finish(err, map[string]any{"purge_id": id}))
}

// runningDelete returns the ID of a scheduled or active delete task for
// roomID, or "" when there is none.
func (s *Service) runningDelete(ctx context.Context, roomID string) (string, error) {
	if s.SynapseDB != nil {
		if id, err := s.dbRunningDelete(ctx, roomID); err == nil {
			return id, nil
		}
	}
	tasks, err := s.Synapse.ScheduledTasks(ctx, shutdownAndPurgeAction, roomID, "")
	if err != nil {
		return "", err
	}
	for _, t := range tasks {
		if t.Status == "scheduled" || t.Status == "active" {
			return t.ID, nil
		}
	}
	return "", nil
}
