package synapse

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"net/http"
)

// Registration is a request to create an account with the homeserver's
// registration shared secret (what register_new_matrix_user does).
type Registration struct {
	Username    string // localpart; Synapse lower-cases it
	Password    Secret
	Admin       bool
	UserType    string // optional: "bot", "support"
	DisplayName string
}

// Registered is the new account and its first access token.
type Registered struct {
	UserID      string
	DeviceID    string
	AccessToken Secret
}

// RegisterWithSharedSecret fetches a nonce and registers r, signed with secret.
// It is never retried: the nonce is single-use.
func (c *Client) RegisterWithSharedSecret(ctx context.Context, secret Secret, r Registration) (*Registered, error) {
	if r.Username == "" {
		return nil, &ValidationError{What: "username", Input: r.Username, Why: "it is empty"}
	}
	if r.Password.IsZero() {
		return nil, &ValidationError{What: "password", Input: "", Why: "it is empty"}
	}
	if secret.IsZero() {
		return nil, &ValidationError{What: "registration shared secret", Input: "", Why: "it is not configured (registration_shared_secret in homeserver.yaml)"}
	}
	var nonce struct {
		Nonce string `json:"nonce"`
	}
	const path = "/_synapse/admin/v1/register"
	if err := c.do(ctx, request{method: http.MethodGet, path: path, idempotent: true}, &nonce); err != nil {
		return nil, err
	}
	body := map[string]any{
		"nonce":    nonce.Nonce,
		"username": r.Username,
		"password": r.Password.Reveal(),
		"admin":    r.Admin,
		"mac":      registrationMAC(secret, nonce.Nonce, r),
	}
	if r.UserType != "" {
		body["user_type"] = r.UserType
	}
	if r.DisplayName != "" {
		body["displayname"] = r.DisplayName
	}
	var out struct {
		UserID      string `json:"user_id"`
		DeviceID    string `json:"device_id"`
		AccessToken string `json:"access_token"`
	}
	// maxRetries 0 for this call: copy the client so a 429 is not retried with a spent nonce.
	once := *c
	once.maxRetries = 0
	if err := once.do(ctx, request{method: http.MethodPost, path: path, body: body}, &out); err != nil {
		return nil, err
	}
	return &Registered{UserID: out.UserID, DeviceID: out.DeviceID, AccessToken: NewSecret(out.AccessToken)}, nil
}

// registrationMAC is HMAC-SHA1 over nonce, username, password and the admin flag
// (and the user type when set), NUL-separated, keyed with the shared secret.
func registrationMAC(secret Secret, nonce string, r Registration) string {
	h := hmac.New(sha1.New, []byte(secret.Reveal()))
	admin := "notadmin"
	if r.Admin {
		admin = "admin"
	}
	h.Write([]byte(nonce + "\x00" + r.Username + "\x00" + r.Password.Reveal() + "\x00" + admin))
	if r.UserType != "" {
		h.Write([]byte("\x00" + r.UserType))
	}
	return hex.EncodeToString(h.Sum(nil))
}
