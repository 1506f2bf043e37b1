package synapse

import (
	"context"
	"errors"
	"net/http"
)

// RoomDiagnosis is what the admin API tells about one room's health: its
// details, whether it is blocked, and its forward extremities. Text fields
// (Name) come from users of the homeserver and are not cleaned here.
type RoomDiagnosis struct {
	RoomID string
	// Known is false when Synapse has no such room (details answered 404); the
	// block status is still filled in, since a room can be blocked unseen.
	Known bool

	Name               string
	Version            string
	Creator            string
	JoinRules          string // "public", "invite", "knock", "restricted", …; "" when unknown
	GuestAccess        string
	HistoryVisibility  string
	Encryption         string
	RoomType           string
	Federatable        bool
	Public             bool // published in the room directory
	JoinedMembers      *int // nil when the statistics rows are missing
	JoinedLocalMembers *int
	StateEvents        int
	Forgotten          bool
	Tombstoned         bool
	ReplacementRoom    string

	Blocked   bool
	BlockedBy string // the admin who blocked it, when Synapse knows

	ForwardExtremities []RoomDiagExtremity
}

// RoomDiagExtremity is one forward extremity of a room.
type RoomDiagExtremity struct {
	EventID    string `json:"event_id"`
	StateGroup int64  `json:"state_group"`
	Depth      int64  `json:"depth"`
	ReceivedTS int64  `json:"received_ts"` // ms
}

// RoomDiagnosis reads GET /_synapse/admin/v1/rooms/<id>, …/block and
// …/forward_extremities. It only reads. An unknown room is not an error: the
// answer has Known false and the block status.
func (c *Client) RoomDiagnosis(ctx context.Context, roomID string) (*RoomDiagnosis, error) {
	if err := ValidateRoomID(roomID); err != nil {
		return nil, err
	}
	base := "/_synapse/admin/v1/rooms/" + pathSegment(roomID)
	get := func(path string, out any) error {
		return c.do(ctx, request{method: http.MethodGet, path: path, auth: true, idempotent: true}, out)
	}
	var details struct {
		Name               *string `json:"name"`
		Version            *string `json:"version"`
		Creator            *string `json:"creator"`
		JoinRules          *string `json:"join_rules"`
		GuestAccess        *string `json:"guest_access"`
		HistoryVisibility  *string `json:"history_visibility"`
		Encryption         *string `json:"encryption"`
		RoomType           *string `json:"room_type"`
		Federatable        bool    `json:"federatable"`
		Public             bool    `json:"public"`
		JoinedMembers      *int    `json:"joined_members"`
		JoinedLocalMembers *int    `json:"joined_local_members"`
		StateEvents        *int    `json:"state_events"`
		Forgotten          bool    `json:"forgotten"`
		Tombstoned         bool    `json:"tombstoned"`
		ReplacementRoom    *string `json:"replacement_room"`
	}
	d := &RoomDiagnosis{RoomID: roomID}
	switch err := get(base, &details); {
	case errors.Is(err, ErrNotFound):
	case err != nil:
		return nil, err
	default:
		d.Known = true
		d.Name, d.Version, d.Creator = diagStr(details.Name), diagStr(details.Version), diagStr(details.Creator)
		d.JoinRules, d.GuestAccess = diagStr(details.JoinRules), diagStr(details.GuestAccess)
		d.HistoryVisibility, d.Encryption, d.RoomType = diagStr(details.HistoryVisibility), diagStr(details.Encryption), diagStr(details.RoomType)
		d.Federatable, d.Public = details.Federatable, details.Public
		d.JoinedMembers, d.JoinedLocalMembers = details.JoinedMembers, details.JoinedLocalMembers
		if details.StateEvents != nil {
			d.StateEvents = *details.StateEvents
		}
		d.Forgotten, d.Tombstoned, d.ReplacementRoom = details.Forgotten, details.Tombstoned, diagStr(details.ReplacementRoom)
	}
	var block struct {
		Block  bool   `json:"block"`
		UserID string `json:"user_id"`
	}
	if err := get(base+"/block", &block); err != nil {
		return nil, err
	}
	d.Blocked, d.BlockedBy = block.Block, block.UserID
	if !d.Known {
		return d, nil
	}
	var fe struct {
		Count   int                 `json:"count"`
		Results []RoomDiagExtremity `json:"results"`
	}
	if err := get(base+"/forward_extremities", &fe); err != nil {
		return nil, err
	}
	d.ForwardExtremities = fe.Results
	return d, nil
}

func diagStr(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
