package synapse

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// RegistrationFlows asks the homeserver how a stranger could register: it
// POSTs an empty client registration without a token, which Synapse
// answers with 403 when registration is disabled and with 401 and the
// user-interactive flows otherwise. Nothing is registered (the request
// completes no stage), and it is sent once: the registration rate limiter
// counts every attempt. Each flow is its list of stages; a flow of only
// m.login.dummy is registration open to anyone.
func (c *Client) RegistrationFlows(ctx context.Context) (enabled bool, flows [][]string, err error) {
	const path = "/_matrix/client/v3/register"
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	u := *c.base
	u.Path = c.base.Path + path
	u.RawPath = ""
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader([]byte("{}")))
	if err != nil {
		return false, nil, fmt.Errorf("POST %s: %w", path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	resp, err := c.hc.Do(req)
	if err != nil {
		return false, nil, fmt.Errorf("POST %s: %w", path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return false, nil, fmt.Errorf("POST %s: read answer: %w", path, err)
	}
	switch resp.StatusCode {
	case http.StatusForbidden:
		return false, nil, nil
	case http.StatusUnauthorized:
	default:
		return false, nil, decodeError(request{method: http.MethodPost, path: path}, resp, data)
	}
	var body struct {
		Flows []struct {
			Stages []string `json:"stages"`
		} `json:"flows"`
	}
	if err := json.Unmarshal(data, &body); err != nil {
		return true, nil, fmt.Errorf("POST %s: the 401 answer is not the flows JSON: %w", path, err)
	}
	for _, f := range body.Flows {
		flows = append(flows, f.Stages)
	}
	return true, flows, nil
}
