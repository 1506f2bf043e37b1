package synapse

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
)

// Telling the users of a server something (a reset is coming) and asking
// how far its federation reaches: what the reset's pre-reset checklist needs.

// validTxnID keeps a transaction ID to what a path segment carries plainly.
func validTxnID(id string) error {
	if id == "" || len(id) > 200 {
		return &ValidationError{What: "transaction ID", Input: id, Why: "it must be 1 to 200 characters"}
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return &ValidationError{What: "transaction ID", Input: id, Why: "use letters, digits and -_. only"}
		}
	}
	return nil
}

// SendServerNotice sends a server notice (an m.text message in the user's
// "Server Notices" room) to a local user. The server must have
// server_notices configured in homeserver.yaml; otherwise Synapse answers
// 400 (M_UNKNOWN "Server notices are not enabled on this server"). txnID
// makes the request idempotent: Synapse sends one notice per transaction ID
// however often it is repeated, so it is safe to retry.
func (c *Client) SendServerNotice(ctx context.Context, userID, body, txnID string) (eventID string, err error) {
	if err := ValidateUserID(userID); err != nil {
		return "", err
	}
	if err := validTxnID(txnID); err != nil {
		return "", err
	}
	var out struct {
		EventID string `json:"event_id"`
	}
	req := request{method: http.MethodPut, path: adminV1 + "/send_server_notice/" + pathSegment(txnID), auth: true, idempotent: true,
		body: map[string]any{"user_id": userID, "content": map[string]any{"msgtype": "m.text", "body": body}}}
	if err := c.do(ctx, req, &out); err != nil {
		return "", err
	}
	return out.EventID, nil
}

// SendNotice posts an m.notice message to a room the token's owner is joined
// to. txnID makes it idempotent, as the client API defines.
func (c *Client) SendNotice(ctx context.Context, roomID, body, txnID string) (eventID string, err error) {
	if err := ValidateRoomID(roomID); err != nil {
		return "", err
	}
	if err := validTxnID(txnID); err != nil {
		return "", err
	}
	var out struct {
		EventID string `json:"event_id"`
	}
	path := "/_matrix/client/v3/rooms/" + pathSegment(roomID) + "/send/m.room.message/" + pathSegment(txnID)
	req := request{method: http.MethodPut, path: path, auth: true, idempotent: true,
		body: map[string]any{"msgtype": "m.notice", "body": body}}
	if err := c.do(ctx, req, &out); err != nil {
		return "", err
	}
	return out.EventID, nil
}

// ResolveAlias looks a room alias up in the room directory.
func (c *Client) ResolveAlias(ctx context.Context, alias string) (string, error) {
	if err := ValidateRoomAlias(alias); err != nil {
		return "", err
	}
	var out struct {
		RoomID string `json:"room_id"`
	}
	req := request{method: http.MethodGet, path: "/_matrix/client/v3/directory/room/" + pathSegment(alias), auth: true, idempotent: true}
	if err := c.do(ctx, req, &out); err != nil {
		return "", err
	}
	if out.RoomID == "" {
		return "", errors.New("resolve " + alias + ": synapse returned no room ID")
	}
	return out.RoomID, nil
}

// Destinations is the first page of the servers this one has federated
// with (GET /_synapse/admin/v1/federation/destinations) and how many there
// are in all.
type Destinations struct {
	Total int
	Names []string // at most the first page, by name
}

// FederationDestinations lists the remote servers Synapse knows of: a
// server that never federated has none.
func (c *Client) FederationDestinations(ctx context.Context, limit int) (*Destinations, error) {
	if limit <= 0 {
		limit = 10
	}
	var out struct {
		Destinations []struct {
			Destination string `json:"destination"`
		} `json:"destinations"`
		Total int `json:"total"`
	}
	if err := c.adminGet(ctx, adminV1+"/federation/destinations", url.Values{"limit": {strconv.Itoa(limit)}}, &out); err != nil {
		return nil, err
	}
	d := &Destinations{Total: out.Total}
	for _, x := range out.Destinations {
		d.Names = append(d.Names, x.Destination)
	}
	return d, nil
}
