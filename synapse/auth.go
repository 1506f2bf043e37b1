package synapse

import (
	"context"
	"fmt"
	"net/http"
)

// Whoami is the owner of the client's token.
type Whoami struct {
	UserID   string `json:"user_id"`
	DeviceID string `json:"device_id,omitempty"`
	IsGuest  bool   `json:"is_guest"`
}

// Whoami asks whose token this is. A revoked or unknown token fails with
// ErrUnknownToken.
func (c *Client) Whoami(ctx context.Context) (*Whoami, error) {
	var w Whoami
	err := c.do(ctx, request{method: http.MethodGet, path: "/_matrix/client/v3/account/whoami", auth: true, idempotent: true}, &w)
	if err != nil {
		return nil, err
	}
	return &w, nil
}

// LoginResult is a fresh session. AccessToken is a Secret.
type LoginResult struct {
	UserID      string
	DeviceID    string
	AccessToken Secret
}

// Login performs m.login.password. user is a localpart or a full user ID.
// deviceID may be empty to let Synapse choose one.
func (c *Client) Login(ctx context.Context, user string, password Secret, deviceID string) (*LoginResult, error) {
	if user == "" {
		return nil, &ValidationError{What: "user", Input: user, Why: "it is empty"}
	}
	if user[0] == '@' {
		if err := ValidateUserID(user); err != nil {
			return nil, err
		}
	}
	body := map[string]any{
		"type":       "m.login.password",
		"identifier": map[string]string{"type": "m.id.user", "user": user},
		"password":   password.Reveal(),
	}
	if deviceID != "" {
		body["device_id"] = deviceID
	}
	var out struct {
		UserID      string `json:"user_id"`
		DeviceID    string `json:"device_id"`
		AccessToken string `json:"access_token"`
	}
	if err := c.do(ctx, request{method: http.MethodPost, path: "/_matrix/client/v3/login", body: body}, &out); err != nil {
		return nil, err
	}
	if out.AccessToken == "" {
		return nil, fmt.Errorf("login as %s: synapse returned no access token", user)
	}
	return &LoginResult{UserID: out.UserID, DeviceID: out.DeviceID, AccessToken: NewSecret(out.AccessToken)}, nil
}

// Logout revokes the client's own token (and its device's other tokens).
func (c *Client) Logout(ctx context.Context) error {
	return c.do(ctx, request{method: http.MethodPost, path: "/_matrix/client/v3/logout", body: struct{}{}, auth: true}, nil)
}
