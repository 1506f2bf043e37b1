package synapse

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Room is one entry of the admin room list. Text fields come from users of
// the homeserver and are not cleaned here. Synapse sends null for a room
// without a name, alias, creator, encryption and so on: those are "".
type Room struct {
	RoomID             string `json:"room_id"`
	Name               string `json:"name"`
	CanonicalAlias     string `json:"canonical_alias"`
	Version            string `json:"version"`
	Creator            string `json:"creator"`
	Encryption         string `json:"encryption"` // algorithm, "" when not encrypted
	JoinRules          string `json:"join_rules"`
	GuestAccess        string `json:"guest_access"`
	HistoryVisibility  string `json:"history_visibility"`
	RoomType           string `json:"room_type"` // "m.space" for a space
	JoinedMembers      int    `json:"joined_members"`
	JoinedLocalMembers int    `json:"joined_local_members"`
	StateEvents        int    `json:"state_events"`
	Federatable        bool   `json:"federatable"`
	Public             bool   `json:"public"` // published in the room directory, not the join rule
}

// RoomDetails is GET /_synapse/admin/v1/rooms/<room_id>. The member counts
// are 0 when Synapse has no statistics rows for the room yet (it sends null).
type RoomDetails struct {
	Room
	Topic              string `json:"topic"`
	Avatar             string `json:"avatar"` // mxc:// URI
	JoinedLocalDevices int    `json:"joined_local_devices"`
	Forgotten          bool   `json:"forgotten"`
	Tombstoned         bool   `json:"tombstoned"` // since Synapse 1.153
	ReplacementRoom    string `json:"replacement_room"`
}

// ListRoomsOptions filter and sort the room list.
type ListRoomsOptions struct {
	// OrderBy is a column Synapse sorts by (name, canonical_alias,
	// joined_members, joined_local_members, version, creator, encryption,
	// federatable, public, join_rules, guest_access, history_visibility,
	// state_events); "" means Synapse's default, "name".
	OrderBy string
	// Reverse sends dir=b. Name-like columns sort ascending by default; the
	// counts (joined_members, joined_local_members, version, state_events)
	// sort largest first, so Reverse puts the smallest first.
	Reverse bool
	// SearchTerm matches a substring of the lower-cased name, a substring of
	// the canonical alias's localpart, or the exact room ID. "" means no search.
	SearchTerm string
	// PublicRooms: true keeps only rooms in the room directory, false leaves
	// them out, nil keeps both. EmptyRooms likewise for rooms nobody is in.
	PublicRooms, EmptyRooms *bool
	// PageSize is the number of rooms per request: 0 means 100, at most 1000.
	PageSize int
}

// RoomPage is one page of the room list.
type RoomPage struct {
	Rooms     []Room
	Offset    int // the from this page was asked for
	Total     int // rooms matching the filter, all pages together
	NextBatch int // the from of the next page when HasMore
	HasMore   bool
}

// roomOrders are the order_by values Synapse accepts for the room list
// (RoomSortOrder in synapse/storage/databases/main/room.py). "alphabetical"
// and "size" are deprecated spellings of "name" and "joined_members".
var roomOrders = []string{
	"name", "canonical_alias", "joined_members", "joined_local_members", "version",
	"creator", "encryption", "federatable", "public", "join_rules", "guest_access",
	"history_visibility", "state_events", "alphabetical", "size",
}

const (
	defaultRoomPage = 100
	maxRoomPage     = 1000
	adminV1         = "/_synapse/admin/v1"
	adminV2         = "/_synapse/admin/v2"
)

func roomQuery(o ListRoomsOptions, from int) (url.Values, error) {
	if o.OrderBy != "" && !slices.Contains(roomOrders, o.OrderBy) {
		return nil, &ValidationError{What: "room order", Input: o.OrderBy,
			Why: "Synapse sorts rooms only by one of " + strings.Join(roomOrders, ", ")}
	}
	if o.PageSize < 0 || o.PageSize > maxRoomPage {
		return nil, &ValidationError{What: "page size", Input: strconv.Itoa(o.PageSize),
			Why: fmt.Sprintf("must be between 1 and %d (0 means %d)", maxRoomPage, defaultRoomPage)}
	}
	if from < 0 {
		return nil, &ValidationError{What: "room list offset", Input: strconv.Itoa(from), Why: "must not be negative"}
	}
	limit := o.PageSize
	if limit == 0 {
		limit = defaultRoomPage
	}
	q := url.Values{"from": {strconv.Itoa(from)}, "limit": {strconv.Itoa(limit)}}
	if o.OrderBy != "" {
		q.Set("order_by", o.OrderBy)
	}
	if o.Reverse {
		q.Set("dir", "b")
	}
	// Synapse answers 400 to an empty search_term, so "" is never sent.
	if o.SearchTerm != "" {
		q.Set("search_term", o.SearchTerm)
	}
	if o.PublicRooms != nil {
		q.Set("public_rooms", strconv.FormatBool(*o.PublicRooms))
	}
	if o.EmptyRooms != nil {
		q.Set("empty_rooms", strconv.FormatBool(*o.EmptyRooms))
	}
	return q, nil
}

// ListRoomsPage fetches one page of GET /_synapse/admin/v1/rooms starting at
// offset from. Only rooms Synapse has statistics rows for are listed; a room
// created a moment ago may be missing until its stats are written.
func (c *Client) ListRoomsPage(ctx context.Context, o ListRoomsOptions, from int) (*RoomPage, error) {
	q, err := roomQuery(o, from)
	if err != nil {
		return nil, err
	}
	var out struct {
		Rooms     []Room `json:"rooms"`
		Offset    int    `json:"offset"`
		Total     int    `json:"total_rooms"`
		NextBatch *int   `json:"next_batch"` // an int, not the docs' next_token
	}
	if err := c.do(ctx, request{method: http.MethodGet, path: adminV1 + "/rooms", query: q, auth: true, idempotent: true}, &out); err != nil {
		return nil, err
	}
	p := &RoomPage{Rooms: out.Rooms, Offset: out.Offset, Total: out.Total}
	if out.NextBatch != nil {
		p.NextBatch, p.HasMore = *out.NextBatch, true
	}
	return p, nil
}

// EachRoom walks every page of the room list and hands each page to fn; an
// error from fn stops the walk and is returned. total is the number of
// matching rooms the last page reported. The list is paged by offset: a room
// created or deleted during the walk can shift the pages, so a room may be
// seen twice or missed.
func (c *Client) EachRoom(ctx context.Context, o ListRoomsOptions, fn func([]Room) error) (total int, err error) {
	from := 0
	for {
		p, err := c.ListRoomsPage(ctx, o, from)
		if err != nil {
			return total, err
		}
		total = p.Total
		if len(p.Rooms) > 0 {
			if err := fn(p.Rooms); err != nil {
				return total, err
			}
		}
		if !p.HasMore {
			return total, nil
		}
		if p.NextBatch <= from {
			return total, fmt.Errorf("list rooms: synapse returned next_batch %d after from %d; stopping instead of looping", p.NextBatch, from)
		}
		from = p.NextBatch
	}
}

// AllRooms collects every page of the room list. A room that a shifting page
// repeats is kept once.
func (c *Client) AllRooms(ctx context.Context, o ListRoomsOptions) ([]Room, error) {
	return collect(func(fn func([]Room) error) error {
		_, err := c.EachRoom(ctx, o, fn)
		return err
	}, func(r *Room) string { return r.RoomID })
}

// collect gathers what a paged walk hands out, keeping the first of any item
// (by key) that a page shifted by a concurrent change repeats.
func collect[T any](walk func(fn func([]T) error) error, key func(*T) string) ([]T, error) {
	var all []T
	seen := map[string]bool{}
	err := walk(func(page []T) error {
		for i := range page {
			if k := key(&page[i]); !seen[k] {
				seen[k] = true
				all = append(all, page[i])
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return all, nil
}

func roomPath(version, roomID, suffix string) string {
	return version + "/rooms/" + pathSegment(roomID) + suffix
}

// Room fetches one room's details. An unknown room fails with ErrNotFound.
func (c *Client) Room(ctx context.Context, roomID string) (*RoomDetails, error) {
	if err := ValidateRoomID(roomID); err != nil {
		return nil, err
	}
	var d RoomDetails
	if err := c.adminGet(ctx, roomPath(adminV1, roomID, ""), nil, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// RoomMembers lists the users currently joined to the room, local and
// remote (not invited or left ones). An unknown room fails with ErrNotFound.
func (c *Client) RoomMembers(ctx context.Context, roomID string) ([]string, error) {
	if err := ValidateRoomID(roomID); err != nil {
		return nil, err
	}
	var out struct {
		Members []string `json:"members"`
	}
	if err := c.adminGet(ctx, roomPath(adminV1, roomID, "/members"), nil, &out); err != nil {
		return nil, err
	}
	return out.Members, nil
}

// Event is a Matrix event in the client format. StateKey is a plain string:
// "" is both the empty state key (m.room.create, m.room.name, …) and "not a
// state event"; every event RoomState returns is a state event.
type Event struct {
	Type           string          `json:"type"`
	StateKey       string          `json:"state_key"`
	Sender         string          `json:"sender"`
	EventID        string          `json:"event_id"`
	RoomID         string          `json:"room_id"`
	OriginServerTS int64           `json:"origin_server_ts"` // ms, the sender's server clock
	Content        json.RawMessage `json:"content"`
}

// RoomState returns the room's current state events, only those of
// eventType unless it is "". The filter is applied here as well, because
// Synapse before 1.123 ignores ?type and returns everything.
func (c *Client) RoomState(ctx context.Context, roomID, eventType string) ([]Event, error) {
	if err := ValidateRoomID(roomID); err != nil {
		return nil, err
	}
	var q url.Values
	if eventType != "" {
		q = url.Values{"type": {eventType}}
	}
	var out struct {
		State []Event `json:"state"`
	}
	if err := c.adminGet(ctx, roomPath(adminV1, roomID, "/state"), q, &out); err != nil {
		return nil, err
	}
	if eventType == "" {
		return out.State, nil
	}
	return slices.DeleteFunc(out.State, func(e Event) bool { return e.Type != eventType }), nil
}

// RoomCreatedAt is the origin_server_ts of the room's m.room.create event.
// Synapse keeps no creation time for rooms (there is no created_ts); for a
// room created on another server this is that server's clock.
func (c *Client) RoomCreatedAt(ctx context.Context, roomID string) (time.Time, error) {
	evs, err := c.RoomState(ctx, roomID, "m.room.create")
	if err != nil {
		return time.Time{}, err
	}
	if len(evs) > 0 && evs[0].OriginServerTS > 0 {
		return time.UnixMilli(evs[0].OriginServerTS), nil
	}
	// A room no local user is in any more has no current state here; its
	// timeline still starts with the create event.
	var out struct {
		Chunk []Event `json:"chunk"`
	}
	q := url.Values{"dir": {"f"}, "limit": {"1"}}
	if err := c.adminGet(ctx, roomPath(adminV1, roomID, "/messages"), q, &out); err != nil {
		return time.Time{}, err
	}
	if len(out.Chunk) == 0 || out.Chunk[0].Type != "m.room.create" || out.Chunk[0].OriginServerTS <= 0 {
		return time.Time{}, fmt.Errorf("creation time of %s: synapse has no m.room.create event for it", roomID)
	}
	return time.UnixMilli(out.Chunk[0].OriginServerTS), nil
}

// RoomNewestEvent is the newest event of type eventType in the room's
// timeline (nil when there is none), read with the admin messages API. It
// finds a room's name or alias when its current state is gone (no local
// member left) and the room list shows none.
func (c *Client) RoomNewestEvent(ctx context.Context, roomID, eventType string) (*Event, error) {
	if err := ValidateRoomID(roomID); err != nil {
		return nil, err
	}
	filter, err := json.Marshal(map[string][]string{"types": {eventType}})
	if err != nil {
		return nil, err
	}
	var out struct {
		Chunk []Event `json:"chunk"`
	}
	q := url.Values{"dir": {"b"}, "limit": {"1"}, "filter": {string(filter)}}
	if err := c.adminGet(ctx, roomPath(adminV1, roomID, "/messages"), q, &out); err != nil {
		return nil, err
	}
	if len(out.Chunk) == 0 {
		return nil, nil
	}
	return &out.Chunk[0], nil
}

// RoomLastEventAt is the origin_server_ts of the newest event in the room's
// timeline (state events count), read with the admin messages API, which
// needs no membership. A room without events gives the zero time.
func (c *Client) RoomLastEventAt(ctx context.Context, roomID string) (time.Time, error) {
	if err := ValidateRoomID(roomID); err != nil {
		return time.Time{}, err
	}
	q := url.Values{"dir": {"b"}, "limit": {"1"}}
	// An empty chunk does not mean the start of the room was reached; only a
	// missing end does. A few steps are enough to skip filtered events.
	for range 5 {
		var out struct {
			Chunk []Event `json:"chunk"`
			End   string  `json:"end"`
		}
		if err := c.adminGet(ctx, roomPath(adminV1, roomID, "/messages"), q, &out); err != nil {
			return time.Time{}, err
		}
		if len(out.Chunk) > 0 {
			return time.UnixMilli(out.Chunk[0].OriginServerTS), nil
		}
		if out.End == "" {
			break
		}
		q.Set("from", out.End)
	}
	return time.Time{}, nil
}

// BlockRoom adds the room to the block list (or takes it off), so that no
// local user can join it. The room does not have to be known to the server.
func (c *Client) BlockRoom(ctx context.Context, roomID string, block bool) error {
	if err := ValidateRoomID(roomID); err != nil {
		return err
	}
	// Setting the flag twice does no harm, so the PUT is retried like a read.
	return c.do(ctx, request{method: http.MethodPut, path: roomPath(adminV1, roomID, "/block"),
		body: map[string]bool{"block": block}, auth: true, idempotent: true}, nil)
}

// RoomBlocked reports whether the room is blocked and, when Synapse knows,
// by whom.
func (c *Client) RoomBlocked(ctx context.Context, roomID string) (blocked bool, by string, err error) {
	if err := ValidateRoomID(roomID); err != nil {
		return false, "", err
	}
	var out struct {
		Block  bool   `json:"block"`
		UserID string `json:"user_id"`
	}
	if err := c.adminGet(ctx, roomPath(adminV1, roomID, "/block"), nil, &out); err != nil {
		return false, "", err
	}
	return out.Block, out.UserID, nil
}

// DeleteRoomOptions shape a room deletion. The zero value kicks every local
// user, then purges the room from the database. The purge fails (the task
// ends "failed", the room stays) when a local user is joined again by then:
// one who could not be kicked, or who rejoined during the shutdown; Block
// stops the rejoining, ForcePurge purges regardless.
type DeleteRoomOptions struct {
	Block       bool // also put the room on the block list
	ForcePurge  bool // purge even with local users still joined
	KeepHistory bool // shut the room down but keep it in the database (purge: false)
	// NewRoomUserID, when set, is a local user who creates a new room; kicked
	// users are joined to it and local aliases moved to it. RoomName and
	// Message name that room and are its first message.
	NewRoomUserID, RoomName, Message string
}

// DeleteRoom starts an asynchronous deletion (DELETE /_synapse/admin/v2/rooms)
// and returns its delete ID; follow it with DeleteStatus or WaitDelete. It is
// never repeated on a 5xx or a lost connection, because a first attempt may
// already have scheduled the task: look with ScheduledTasks instead.
// Synapse refuses (HTTP 400) a second deletion of a room only while the first
// is active; one sent while the first is still scheduled is accepted and both
// run. An unknown but valid room ID is accepted and its task completes with
// nothing done.
func (c *Client) DeleteRoom(ctx context.Context, roomID string, o DeleteRoomOptions) (deleteID string, err error) {
	if err := ValidateRoomID(roomID); err != nil {
		return "", err
	}
	body, err := deleteBody(o)
	if err != nil {
		return "", err
	}
	var out struct {
		DeleteID string `json:"delete_id"`
	}
	if err := c.do(ctx, request{method: http.MethodDelete, path: roomPath(adminV2, roomID, ""), body: body, auth: true}, &out); err != nil {
		return "", err
	}
	if out.DeleteID == "" {
		return "", fmt.Errorf("delete room %s: synapse returned no delete_id", roomID)
	}
	return out.DeleteID, nil
}

// DeleteRoomNow deletes the room synchronously (DELETE
// /_synapse/admin/v1/rooms): the answer comes when Synapse has shut the
// room down and purged it. It costs Synapse less than DeleteRoom (no task
// to schedule, record and be asked about) and is not held to the 5 tasks
// Synapse runs at a time, but the request lasts as long as the deletion
// does, and an answer lost to a timeout or a dropped connection leaves no
// delete ID to follow: use it for small rooms only. Like DeleteRoom it is
// never repeated; Synapse goes on deleting after a client gave up waiting.
// An unknown but valid room ID is answered with an empty result.
func (c *Client) DeleteRoomNow(ctx context.Context, roomID string, o DeleteRoomOptions) (*ShutdownResult, error) {
	if err := ValidateRoomID(roomID); err != nil {
		return nil, err
	}
	body, err := deleteBody(o)
	if err != nil {
		return nil, err
	}
	var out ShutdownResult
	if err := c.do(ctx, request{method: http.MethodDelete, path: roomPath(adminV1, roomID, ""), body: body, auth: true}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// deleteBody is the JSON body both room deletions take.
func deleteBody(o DeleteRoomOptions) (map[string]any, error) {
	body := map[string]any{"block": o.Block, "purge": !o.KeepHistory, "force_purge": o.ForcePurge}
	if o.NewRoomUserID != "" {
		if err := ValidateUserID(o.NewRoomUserID); err != nil {
			return nil, err
		}
		body["new_room_user_id"] = o.NewRoomUserID
	}
	if o.RoomName != "" {
		body["room_name"] = o.RoomName
	}
	if o.Message != "" {
		body["message"] = o.Message
	}
	return body, nil
}

// ShutdownResult is what the shutdown step of a deletion did. LocalAliases
// lists the aliases moved to the new room, so it is empty without
// NewRoomUserID; the user who creates that room is kicked from the old one
// like everybody else.
type ShutdownResult struct {
	KickedUsers       []string `json:"kicked_users"`
	FailedToKickUsers []string `json:"failed_to_kick_users"`
	LocalAliases      []string `json:"local_aliases"`
	NewRoomID         string   `json:"new_room_id"`
}

// Delete task statuses. A task that is scheduled waits for a free slot in
// Synapse's task scheduler (5 at a time by default).
const (
	taskScheduled = "scheduled"
	taskActive    = "active"
	taskComplete  = "complete"
	taskFailed    = "failed"
	taskCancelled = "cancelled"
)

// DeleteStatus is the state of one room deletion task.
type DeleteStatus struct {
	DeleteID string `json:"delete_id"`
	RoomID   string `json:"room_id"`
	Status   string `json:"status"` // scheduled, active, complete, failed
	// Shutdown is nil until the shutdown step has recorded a result.
	Shutdown *ShutdownResult `json:"shutdown_room"`
	// Error is the reason of a failed task. The delete status endpoints do
	// not send it; it is read from the scheduled tasks API.
	Error string `json:"-"`
}

func validTaskID(what, id string) error {
	switch {
	case id == "":
		return &ValidationError{What: what, Input: id, Why: "it is empty"}
	case len(id) > maxIDLen:
		return &ValidationError{What: what, Input: id, Why: "longer than 255 bytes"}
	case strings.ContainsFunc(id, func(r rune) bool { return r < 0x21 || r == 0x7f || r == '/' }):
		return &ValidationError{What: what, Input: id, Why: "contains a space, control character or '/'"}
	}
	return nil
}

// DeleteStatus reads one deletion task by its delete ID; an unknown ID (or
// one older than the 7 days Synapse keeps finished tasks) fails with
// ErrNotFound. For a failed task, Error is filled in.
func (c *Client) DeleteStatus(ctx context.Context, deleteID string) (*DeleteStatus, error) {
	if err := validTaskID("delete ID", deleteID); err != nil {
		return nil, err
	}
	var st DeleteStatus
	if err := c.adminGet(ctx, adminV2+"/rooms/delete_status/"+pathSegment(deleteID), nil, &st); err != nil {
		return nil, err
	}
	if st.Status == taskFailed {
		if err := c.fillDeleteErrors(ctx, st.RoomID, []*DeleteStatus{&st}); err != nil {
			return nil, err
		}
	}
	return &st, nil
}

// DeleteStatusByRoom lists the room's deletion tasks that are active,
// complete or failed. Synapse leaves out tasks that are still scheduled, and
// answers 404 when there is nothing to list: that is an empty slice here.
func (c *Client) DeleteStatusByRoom(ctx context.Context, roomID string) ([]DeleteStatus, error) {
	if err := ValidateRoomID(roomID); err != nil {
		return nil, err
	}
	var out struct {
		Results []DeleteStatus `json:"results"`
	}
	err := c.adminGet(ctx, roomPath(adminV2, roomID, "/delete_status"), nil, &out)
	if errors.Is(err, ErrNotFound) {
		return []DeleteStatus{}, nil
	}
	if err != nil {
		return nil, err
	}
	var failed []*DeleteStatus
	for i := range out.Results {
		if out.Results[i].Status == taskFailed {
			failed = append(failed, &out.Results[i])
		}
	}
	if len(failed) > 0 {
		if err := c.fillDeleteErrors(ctx, roomID, failed); err != nil {
			return nil, err
		}
	}
	return out.Results, nil
}

func (c *Client) fillDeleteErrors(ctx context.Context, roomID string, sts []*DeleteStatus) error {
	tasks, err := c.ScheduledTasks(ctx, "", roomID, taskFailed)
	if err != nil {
		return fmt.Errorf("read why the deletion of %s failed: %w", roomID, err)
	}
	for _, st := range sts {
		for _, t := range tasks {
			if t.ID == st.DeleteID {
				st.Error = t.Error
			}
		}
		if st.Error == "" {
			st.Error = "synapse recorded no reason"
		}
	}
	return nil
}

// WaitDelete follows a deletion until it is complete or failed: it checks at
// once, then ever less often (see Poller) up to every poll (1s if poll <=
// 0), calling progress (if not nil) with every status read. A failed or
// cancelled task returns its status and an error with the reason.
func (c *Client) WaitDelete(ctx context.Context, deleteID string, poll time.Duration, progress func(DeleteStatus)) (*DeleteStatus, error) {
	if err := validTaskID("delete ID", deleteID); err != nil {
		return nil, err
	}
	return waitTask(ctx, poll, func() (*DeleteStatus, bool, error) {
		st, err := c.DeleteStatus(ctx, deleteID)
		if err != nil {
			return nil, false, err
		}
		if progress != nil {
			progress(*st)
		}
		switch st.Status {
		case taskComplete:
			return st, true, nil
		case taskFailed, taskCancelled:
			why := st.Error
			if why == "" {
				why = st.Status
			}
			return st, true, fmt.Errorf("delete room %s (delete_id %s) %s: %s", st.RoomID, deleteID, st.Status, printable(why))
		}
		return st, false, nil
	})
}

// PurgeHistoryOptions choose what history to purge: events before Before or
// before the event BeforeEventID, exactly one of them. Only remote users'
// events go unless DeleteLocalEvents. Synapse always keeps state events and
// the room's newest event.
type PurgeHistoryOptions struct {
	Before            time.Time
	BeforeEventID     string
	DeleteLocalEvents bool
}

// PurgeHistory starts an asynchronous purge of old events in the room and
// returns its purge ID; follow it with PurgeHistoryStatus or
// WaitPurgeHistory. It is never repeated on a 5xx or a lost connection. With
// Before, a room that has no event before that time fails with ErrNotFound.
func (c *Client) PurgeHistory(ctx context.Context, roomID string, o PurgeHistoryOptions) (purgeID string, err error) {
	if err := ValidateRoomID(roomID); err != nil {
		return "", err
	}
	body := map[string]any{"delete_local_events": o.DeleteLocalEvents}
	switch {
	case o.Before.IsZero() == (o.BeforeEventID == ""):
		return "", &ValidationError{What: "purge range", Input: fmt.Sprintf("before=%v event=%q", o.Before, o.BeforeEventID),
			Why: "give exactly one of a time and an event ID to purge up to"}
	case o.BeforeEventID != "":
		if err := validEventID(o.BeforeEventID); err != nil {
			return "", err
		}
		body["purge_up_to_event_id"] = o.BeforeEventID
	default:
		if o.Before.UnixMilli() <= 0 {
			return "", &ValidationError{What: "purge time", Input: o.Before.String(), Why: "must be after 1970"}
		}
		body["purge_up_to_ts"] = o.Before.UnixMilli()
	}
	var out struct {
		PurgeID string `json:"purge_id"`
	}
	if err := c.do(ctx, request{method: http.MethodPost, path: adminV1 + "/purge_history/" + pathSegment(roomID), body: body, auth: true}, &out); err != nil {
		return "", err
	}
	if out.PurgeID == "" {
		return "", fmt.Errorf("purge history of %s: synapse returned no purge_id", roomID)
	}
	return out.PurgeID, nil
}

func validEventID(id string) error {
	bad := func(why string) error { return &ValidationError{What: "event ID", Input: id, Why: why} }
	switch {
	case !strings.HasPrefix(id, "$") || len(id) < 2:
		return bad("must start with '$' (like $abc123)")
	case len(id) > maxIDLen:
		return bad("longer than 255 bytes")
	case strings.ContainsFunc(id, func(r rune) bool { return r < 0x21 || r == 0x7f }):
		return bad("contains a space or control character")
	}
	return nil
}

// PurgeHistoryStatus reads a purge: status is "active" (Synapse reports a
// purge still waiting for a slot as active too), "complete" or "failed", with
// errText set when Synapse recorded an error. An unknown ID fails with
// ErrNotFound.
func (c *Client) PurgeHistoryStatus(ctx context.Context, purgeID string) (status, errText string, err error) {
	if err := validTaskID("purge ID", purgeID); err != nil {
		return "", "", err
	}
	var out struct {
		Status string `json:"status"`
		Error  string `json:"error"`
	}
	if err := c.adminGet(ctx, adminV1+"/purge_history_status/"+pathSegment(purgeID), nil, &out); err != nil {
		return "", "", err
	}
	return out.Status, out.Error, nil
}

// WaitPurgeHistory follows a purge, on Poller's schedule up to every poll (1s
// if poll <= 0), until it is complete (nil) or failed (an error with
// Synapse's reason).
func (c *Client) WaitPurgeHistory(ctx context.Context, purgeID string, poll time.Duration) error {
	if err := validTaskID("purge ID", purgeID); err != nil {
		return err
	}
	_, err := waitTask(ctx, poll, func() (struct{}, bool, error) {
		status, why, err := c.PurgeHistoryStatus(ctx, purgeID)
		switch {
		case err != nil:
			return struct{}{}, false, err
		case status == taskComplete:
			return struct{}{}, true, nil
		case status == taskFailed || status == taskCancelled:
			if why == "" {
				why = "synapse recorded no reason"
			}
			return struct{}{}, true, fmt.Errorf("purge history (purge_id %s) %s: %s", purgeID, status, printable(why))
		}
		return struct{}{}, false, nil
	})
	return err
}

// RoomSize is a room's estimated share of the database.
type RoomSize struct {
	RoomID        string `json:"room_id"`
	EstimatedSize int64  `json:"estimated_size"` // bytes, from Postgres planner statistics
}

// LargestRooms returns the (at most 10) rooms that take the most space in
// the database, largest first. PostgreSQL only: on SQLite Synapse answers
// 400. Synapse estimates the sizes from the planner's most common room_id
// values of its event tables; recent versions write event_edges without
// room_id, so on a database they created the endpoint fails with HTTP 500
// (the error here says so).
func (c *Client) LargestRooms(ctx context.Context) ([]RoomSize, error) {
	var out struct {
		Rooms []RoomSize `json:"rooms"`
	}
	if err := c.adminGet(ctx, adminV1+"/statistics/database/rooms", nil, &out); err != nil {
		var se *Error
		if errors.As(err, &se) && se.Status == http.StatusInternalServerError {
			return nil, fmt.Errorf("%w (Synapse's size estimate breaks when the planner statistics hold no room_id values for one of its event tables: before ANALYZE has run, and on any database whose event_edges.room_id is empty, as recent Synapse versions leave it)", err)
		}
		return nil, err
	}
	return out.Rooms, nil
}

// ScheduledTask is one entry of Synapse's task scheduler: room deletions
// (action "shutdown_and_purge_room", "purge_room"), history purges
// ("purge_history"), user redactions. Finished tasks are kept 7 days.
type ScheduledTask struct {
	ID          string          `json:"id"`
	Action      string          `json:"action"`
	Status      string          `json:"status"`
	ResourceID  string          `json:"resource_id"` // the room ID for room tasks
	Error       string          `json:"error"`
	TimestampMS int64           `json:"timestamp_ms"` // last update (or when it is due), ms
	Result      json.RawMessage `json:"result"`       // nil when Synapse sent null
}

var taskStatuses = []string{taskScheduled, taskActive, taskComplete, taskFailed, taskCancelled}

// ScheduledTasks lists scheduler tasks; each non-empty argument filters.
func (c *Client) ScheduledTasks(ctx context.Context, action, resourceID, status string) ([]ScheduledTask, error) {
	q := url.Values{}
	if action != "" {
		q.Set("action_name", action)
	}
	if resourceID != "" {
		q.Set("resource_id", resourceID)
	}
	if status != "" {
		if !slices.Contains(taskStatuses, status) {
			return nil, &ValidationError{What: "task status", Input: status, Why: "must be one of " + strings.Join(taskStatuses, ", ")}
		}
		// Newer Synapse reads "status", older only "job_status"; both are sent.
		q.Set("status", status)
		q.Set("job_status", status)
	}
	var out struct {
		Tasks []ScheduledTask `json:"scheduled_tasks"`
	}
	if err := c.adminGet(ctx, adminV1+"/scheduled_tasks", q, &out); err != nil {
		return nil, err
	}
	for i := range out.Tasks {
		if string(out.Tasks[i].Result) == "null" {
			out.Tasks[i].Result = nil
		}
	}
	return out.Tasks, nil
}

// adminGet is an authenticated, retryable admin read.
func (c *Client) adminGet(ctx context.Context, path string, q url.Values, out any) error {
	return c.do(ctx, request{method: http.MethodGet, path: path, query: q, auth: true, idempotent: true}, out)
}
