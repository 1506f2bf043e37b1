package synapse

import (
	"context"
	"net/http"
	"strings"
)

// The account calls token rotation needs: deactivating the old admin and
// removing a device. They are the same functions, word for word, as the
// users branch's synapse/users.go, which holds the whole users API; when the
// two meet, that file wins.

func userPath(version, userID, suffix string) string {
	return version + "/users/" + pathSegment(userID) + suffix
}

// DeactivateUser deactivates an account: its devices, tokens, password,
// pushers, 3PIDs, account data and server-side key backup are removed, and
// Synapse then parts it from every room in the background. With erase, its
// display name and avatar go too and it is marked GDPR-erased (its messages
// stay unless redacted). Remote users: HTTP 400; unknown: ErrNotFound. Never
// retried.
func (c *Client) DeactivateUser(ctx context.Context, userID string, erase bool) error {
	if err := ValidateUserID(userID); err != nil {
		return err
	}
	return c.do(ctx, request{method: http.MethodPost, path: adminV1 + "/deactivate/" + pathSegment(userID),
		body: map[string]bool{"erase": erase}, auth: true}, nil)
}

func validDeviceID(id string) error {
	switch {
	case id == "":
		return &ValidationError{What: "device ID", Input: id, Why: "it is empty"}
	case len(id) > 512:
		return &ValidationError{What: "device ID", Input: id, Why: "longer than 512 bytes"}
	case strings.ContainsFunc(id, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return &ValidationError{What: "device ID", Input: id, Why: "contains a control character"}
	}
	return nil
}

// DeleteDevice deletes one device of the account.
func (c *Client) DeleteDevice(ctx context.Context, userID, deviceID string) error {
	if err := ValidateUserID(userID); err != nil {
		return err
	}
	if err := validDeviceID(deviceID); err != nil {
		return err
	}
	return c.do(ctx, request{method: http.MethodDelete, path: userPath(adminV2, userID, "/devices/"+pathSegment(deviceID)),
		body: struct{}{}, auth: true, idempotent: true}, nil)
}
