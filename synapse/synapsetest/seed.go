package synapsetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"synops/synapse"
)

// SeededUser is an account created by SeedUsers, with its token.
type SeededUser struct {
	UserID string
	Token  synapse.Secret
}

// SeedUsers registers n users named <prefix>1..<prefix>n, several at a time.
func (s *Server) SeedUsers(ctx context.Context, prefix string, n int) ([]SeededUser, error) {
	out := make([]SeededUser, n)
	err := parallel(ctx, n, 8, func(i int) error {
		r, err := s.Register(ctx, fmt.Sprintf("%s%d", prefix, i+1), false)
		if err != nil {
			return err
		}
		out[i] = SeededUser{UserID: r.UserID, Token: r.AccessToken}
		return nil
	})
	return out, err
}

// RoomSpec describes a room to seed. Creator defaults to the admin.
type RoomSpec struct {
	Name      string
	Topic     string
	Alias     string // localpart only, e.g. "general"
	Public    bool   // published in the room directory
	Encrypted bool
	Space     bool
	Creator   *SeededUser
	Members   []SeededUser // invited and joined
	Messages  int          // text messages sent by the creator
}

// SeedRooms creates the rooms, several at a time, and returns their IDs in order.
func (s *Server) SeedRooms(ctx context.Context, specs []RoomSpec) ([]string, error) {
	ids := make([]string, len(specs))
	err := parallel(ctx, len(specs), 6, func(i int) error {
		id, err := s.CreateRoom(ctx, specs[i])
		ids[i] = id
		return err
	})
	return ids, err
}

// CreateRoom creates one room as described, through the client API.
func (s *Server) CreateRoom(ctx context.Context, r RoomSpec) (string, error) {
	token := s.AdminToken
	if r.Creator != nil {
		token = r.Creator.Token
	}
	body := map[string]any{"preset": "private_chat", "visibility": "private"}
	if r.Public {
		body["preset"], body["visibility"] = "public_chat", "public"
	}
	if r.Name != "" {
		body["name"] = r.Name
	}
	if r.Topic != "" {
		body["topic"] = r.Topic
	}
	if r.Alias != "" {
		body["room_alias_name"] = r.Alias
	}
	var initial []any
	if r.Encrypted {
		initial = append(initial, map[string]any{"type": "m.room.encryption", "state_key": "",
			"content": map[string]any{"algorithm": "m.megolm.v1.aes-sha2"}})
	}
	if len(initial) > 0 {
		body["initial_state"] = initial
	}
	if r.Space {
		body["creation_content"] = map[string]any{"type": "m.space"}
	}
	var created struct {
		RoomID string `json:"room_id"`
	}
	if err := s.call(ctx, token, http.MethodPost, "/_matrix/client/v3/createRoom", body, &created); err != nil {
		return "", fmt.Errorf("create room %q: %w", r.Name, err)
	}
	room := url.PathEscape(created.RoomID)
	for _, m := range r.Members {
		if err := s.call(ctx, token, http.MethodPost, "/_matrix/client/v3/rooms/"+room+"/invite",
			map[string]any{"user_id": m.UserID}, nil); err != nil {
			return created.RoomID, fmt.Errorf("invite %s: %w", m.UserID, err)
		}
		if err := s.call(ctx, m.Token, http.MethodPost, "/_matrix/client/v3/rooms/"+room+"/join", map[string]any{}, nil); err != nil {
			return created.RoomID, fmt.Errorf("join %s: %w", m.UserID, err)
		}
	}
	for i := 0; i < r.Messages; i++ {
		if err := s.SendText(ctx, token, created.RoomID, fmt.Sprintf("message %d in %s", i+1, r.Name)); err != nil {
			return created.RoomID, err
		}
	}
	return created.RoomID, nil
}

// SendText posts an m.text message as the token's owner.
func (s *Server) SendText(ctx context.Context, token synapse.Secret, roomID, text string) error {
	path := fmt.Sprintf("/_matrix/client/v3/rooms/%s/send/m.room.message/%s", url.PathEscape(roomID), randHex(8))
	return s.call(ctx, token, http.MethodPut, path, map[string]any{"msgtype": "m.text", "body": text}, nil)
}

// SendState sets a state event as the token's owner (any content: the test
// bed seeds what a hostile room member could).
func (s *Server) SendState(ctx context.Context, token synapse.Secret, roomID, eventType, stateKey string, content any) error {
	path := fmt.Sprintf("/_matrix/client/v3/rooms/%s/state/%s/%s", url.PathEscape(roomID), url.PathEscape(eventType), url.PathEscape(stateKey))
	return s.call(ctx, token, http.MethodPut, path, content, nil)
}

// SetDisplayName changes a user's display name (and, as Synapse does, their
// member events in the rooms they are in).
func (s *Server) SetDisplayName(ctx context.Context, u SeededUser, name string) error {
	path := fmt.Sprintf("/_matrix/client/v3/profile/%s/displayname", url.PathEscape(u.UserID))
	return s.call(ctx, u.Token, http.MethodPut, path, map[string]any{"displayname": name}, nil)
}

// call is a bare client-API request for seeding; the product's client lives in
// package synapse and has no business creating rooms.
func (s *Server) call(ctx context.Context, token synapse.Secret, method, path string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, s.BaseURL+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token.Reveal())
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, bytes.TrimSpace(data))
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// parallel runs fn(0..n-1), width at a time; the first error cancels the
// rest and is returned.
func parallel(ctx context.Context, n, width int, fn func(i int) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(width)
	for i := 0; i < n && ctx.Err() == nil; i++ {
		g.Go(func() error { return fn(i) })
	}
	return g.Wait()
}

// SeedRoomsWidth is SeedRooms with width rooms created at once. Synapse
// persists events on one core, so beyond about a dozen more width buys
// little; it mainly hides the latency of each createRoom.
func (s *Server) SeedRoomsWidth(ctx context.Context, specs []RoomSpec, width int) ([]string, error) {
	if width < 1 {
		width = 1
	}
	ids := make([]string, len(specs))
	err := parallel(ctx, len(specs), width, func(i int) error {
		id, err := s.CreateRoom(ctx, specs[i])
		ids[i] = id
		return err
	})
	return ids, err
}

// JoinRoom joins the token's owner to a room it may join (public, or invited).
func (s *Server) JoinRoom(ctx context.Context, token synapse.Secret, roomID string) error {
	return s.call(ctx, token, http.MethodPost, "/_matrix/client/v3/rooms/"+url.PathEscape(roomID)+"/join", map[string]any{}, nil)
}

// CountEvents counts the events of eventType ("" for all) in a room's
// timeline, walking the admin messages API from the start.
func (s *Server) CountEvents(ctx context.Context, roomID, eventType string) (int, error) {
	n, from := 0, ""
	for {
		q := url.Values{"dir": {"f"}, "limit": {"1000"}}
		if from != "" {
			q.Set("from", from)
		}
		var page struct {
			Chunk []struct {
				Type string `json:"type"`
			} `json:"chunk"`
			End string `json:"end"`
		}
		path := "/_synapse/admin/v1/rooms/" + url.PathEscape(roomID) + "/messages?" + q.Encode()
		if err := s.call(ctx, s.AdminToken, http.MethodGet, path, nil, &page); err != nil {
			return n, err
		}
		for _, e := range page.Chunk {
			if eventType == "" || e.Type == eventType {
				n++
			}
		}
		if page.End == "" || page.End == from {
			return n, nil
		}
		from = page.End
	}
}

// CountingTransport counts the requests that reach the network, for tests
// that check a malformed ID sends none.
type CountingTransport struct{ n atomic.Int64 }

// RoundTrip counts r and sends it with http.DefaultTransport.
func (c *CountingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

// Count is how many requests were sent.
func (c *CountingTransport) Count() int64 { return c.n.Load() }

// UploadMedia uploads data as the token's owner (client media API) and
// returns its mxc:// URI.
func (s *Server) UploadMedia(ctx context.Context, token synapse.Secret, name string, data []byte) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		s.BaseURL+"/_matrix/media/v3/upload?filename="+url.QueryEscape(name), bytes.NewReader(data))
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+token.Reveal())
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return "", fmt.Errorf("upload %s: HTTP %d: %s", name, resp.StatusCode, bytes.TrimSpace(body))
	}
	var out struct {
		ContentURI string `json:"content_uri"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return "", err
	}
	return out.ContentURI, nil
}

// Messages returns the events of eventType ("" for all) in a room's
// timeline, oldest first, read with the admin messages API.
func (s *Server) Messages(ctx context.Context, roomID, eventType string) ([]synapse.Event, error) {
	var out []synapse.Event
	from := ""
	for {
		q := url.Values{"dir": {"f"}, "limit": {"1000"}}
		if from != "" {
			q.Set("from", from)
		}
		var page struct {
			Chunk []synapse.Event `json:"chunk"`
			End   string          `json:"end"`
		}
		path := "/_synapse/admin/v1/rooms/" + url.PathEscape(roomID) + "/messages?" + q.Encode()
		if err := s.call(ctx, s.AdminToken, http.MethodGet, path, nil, &page); err != nil {
			return out, err
		}
		for _, e := range page.Chunk {
			if eventType == "" || e.Type == eventType {
				out = append(out, e)
			}
		}
		if page.End == "" || page.End == from {
			return out, nil
		}
		from = page.End
	}
}

// RegisterAppServiceUser registers localpart (which must start with the
// service's UserPrefix) as a user of the application service, the way a
// bridge creates its puppets.
func (s *Server) RegisterAppServiceUser(ctx context.Context, as AppService, localpart string) (string, error) {
	var out struct {
		UserID string `json:"user_id"`
	}
	err := s.call(ctx, as.ASToken, http.MethodPost, "/_matrix/client/v3/register",
		map[string]any{"type": "m.login.application_service", "username": localpart, "inhibit_login": true}, &out)
	if err != nil {
		return "", fmt.Errorf("register %s for %s: %w", localpart, as.ID, err)
	}
	return out.UserID, nil
}
