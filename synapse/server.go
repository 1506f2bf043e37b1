package synapse

import (
	"context"
	"net/http"
	"strings"
)

// Health calls GET /health, which every HTTP listener serves without auth.
func (c *Client) Health(ctx context.Context) error {
	var raw []byte
	err := c.do(ctx, request{method: http.MethodGet, path: "/health", idempotent: true, rawOut: &raw}, nil)
	if err != nil {
		return err
	}
	if s := strings.TrimSpace(string(raw)); s != "OK" {
		return &Error{Method: http.MethodGet, Path: "/health", Status: 200, Message: "unexpected body " + quoteShort(s)}
	}
	return nil
}

// Versions is the answer of /_matrix/client/versions.
type Versions struct {
	Versions         []string        `json:"versions"`
	UnstableFeatures map[string]bool `json:"unstable_features"`
}

// ClientVersions calls /_matrix/client/versions. It sends no token: Synapse
// validates a token when one is present, and a health probe must not fail
// because of it.
func (c *Client) ClientVersions(ctx context.Context) (*Versions, error) {
	var v Versions
	err := c.do(ctx, request{method: http.MethodGet, path: "/_matrix/client/versions", idempotent: true}, &v)
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// ServerVersion returns Synapse's version string ("1.163.2"), without auth.
func (c *Client) ServerVersion(ctx context.Context) (string, error) {
	var v struct {
		ServerVersion string `json:"server_version"`
	}
	err := c.do(ctx, request{method: http.MethodGet, path: "/_synapse/admin/v1/server_version", idempotent: true}, &v)
	return v.ServerVersion, err
}

func quoteShort(s string) string {
	if len(s) > 60 {
		s = s[:60] + "…"
	}
	return "\"" + s + "\""
}
