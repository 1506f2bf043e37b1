// Package synapse is a typed client for a Synapse homeserver: its admin API,
// the parts of the client API an operator needs, shared-secret registration and
// the health endpoints. It knows HTTP and Matrix only; it validates IDs and
// escapes them, and does exactly what it is told.
package synapse

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client talks to one homeserver with one access token.
type Client struct {
	base       *url.URL
	token      Secret
	hc         *http.Client
	timeout    time.Duration // per attempt
	maxRetries int
	maxWait    time.Duration // longest rate-limit wait worth sleeping through
	backoff    time.Duration // first backoff for 5xx and transport errors
	userAgent  string
}

// Option tunes a Client.
type Option func(*Client)

// WithTimeout sets the time limit of each attempt (default 15s).
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// WithRetries sets how many times a retryable request is retried (default 3).
func WithRetries(n int) Option { return func(c *Client) { c.maxRetries = n } }

// WithMaxRateLimitWait caps how long the client sleeps on M_LIMIT_EXCEEDED before
// giving up and returning the error to the caller (default 10s).
func WithMaxRateLimitWait(d time.Duration) Option { return func(c *Client) { c.maxWait = d } }

// WithHTTPClient replaces the http.Client (tests, custom transports).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithBackoff sets the first backoff delay for retries of 5xx answers.
func WithBackoff(d time.Duration) Option { return func(c *Client) { c.backoff = d } }

// New returns a client for baseURL (scheme, host and optional path prefix).
func New(baseURL string, token Secret, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("homeserver URL %q must look like http://127.0.0.1:8008 or https://matrix.example.org", baseURL)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("homeserver URL %q must not carry credentials, a query or a fragment", u.Redacted())
	}
	c := &Client{
		base:       u,
		token:      token,
		hc:         &http.Client{},
		timeout:    15 * time.Second,
		maxRetries: 3,
		maxWait:    10 * time.Second,
		backoff:    250 * time.Millisecond,
		userAgent:  "synops",
	}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// BaseURL is the homeserver URL the client talks to.
func (c *Client) BaseURL() string { return c.base.String() }

// Token is the client's access token (still a Secret).
func (c *Client) Token() Secret { return c.token }

// WithToken returns a copy of the client that uses another token.
func (c *Client) WithToken(t Secret) *Client {
	cc := *c
	cc.token = t
	return &cc
}

// request describes one call. path is already escaped.
type request struct {
	method     string
	path       string
	query      url.Values
	body       any
	auth       bool
	idempotent bool // safe to repeat after a 5xx or a lost connection
	rawOut     *[]byte
}

const maxBody = 64 << 20

// do sends r and decodes a 2xx JSON answer into out (unless out is nil).
func (c *Client) do(ctx context.Context, r request, out any) error {
	var body []byte
	if r.body != nil {
		var err error
		if body, err = json.Marshal(r.body); err != nil {
			return fmt.Errorf("%s %s: encode body: %w", r.method, r.path, err)
		}
	}
	delay := c.backoff
	for attempt := 0; ; attempt++ {
		err := c.once(ctx, r, body, out)
		if err == nil {
			return nil
		}
		if attempt >= c.maxRetries || ctx.Err() != nil {
			return err
		}
		wait, retry := c.retryAfter(r, err, delay)
		if !retry {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		delay *= 2
	}
}

// retryAfter decides whether err is worth another attempt and after how long.
// A 429 was rejected before Synapse did anything, so it is retried for every
// method; 5xx answers and transport failures only for idempotent requests.
func (c *Client) retryAfter(r request, err error, delay time.Duration) (time.Duration, bool) {
	var se *Error
	if errors.As(err, &se) {
		switch {
		case se.Status == http.StatusTooManyRequests || se.Code == ErrLimitExceeded:
			wait := se.RetryAfter
			if wait <= 0 {
				wait = delay
			}
			return wait, wait <= c.maxWait
		case se.Status >= 500 && r.idempotent:
			return delay, true
		}
		return 0, false
	}
	// Transport errors: a refused connection is retried only for reads.
	return delay, r.idempotent && !errors.Is(err, context.Canceled)
}

func (c *Client) once(ctx context.Context, r request, body []byte, out any) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	u := *c.base
	// r.path is already escaped (pathSegment); Path must hold the unescaped
	// form so that RawPath is accepted as its encoding and nothing is
	// escaped twice ("!" → "%21", never "%2521").
	unescaped, err := url.PathUnescape(r.path)
	if err != nil {
		return fmt.Errorf("%s %s: %w", r.method, r.path, err)
	}
	u.Path = c.base.Path + unescaped
	u.RawPath = c.base.EscapedPath() + r.path
	u.RawQuery = r.query.Encode()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), rd)
	if err != nil {
		return fmt.Errorf("%s %s: %w", r.method, r.path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", c.userAgent)
	if r.auth {
		if c.token.IsZero() {
			return fmt.Errorf("%s %s: no admin token configured (set MATRIX_ADMIN_TOKEN or a token file in the profile)", r.method, r.path)
		}
		req.Header.Set("Authorization", "Bearer "+c.token.Reveal())
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		// url.Error's message holds the URL; ours never carries a token.
		return fmt.Errorf("%s %s: %w", r.method, r.path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", r.method, r.path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return decodeError(r, resp, data)
	}
	if r.rawOut != nil {
		*r.rawOut = data
		return nil
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: synapse answered with something that is not the expected JSON: %w", r.method, r.path, err)
	}
	return nil
}

func decodeError(r request, resp *http.Response, data []byte) error {
	e := &Error{Method: r.method, Path: r.path, Status: resp.StatusCode}
	var body struct {
		Errcode      string `json:"errcode"`
		Error        string `json:"error"`
		RetryAfterMS int64  `json:"retry_after_ms"`
	}
	if json.Unmarshal(data, &body) == nil {
		e.Code = Errcode(body.Errcode)
		e.Message = body.Error
		e.RetryAfter = time.Duration(body.RetryAfterMS) * time.Millisecond
	} else {
		e.Message = strings.TrimSpace(string(bytes.ToValidUTF8(truncate(data, 200), nil)))
	}
	if e.RetryAfter == 0 {
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			e.RetryAfter = time.Duration(s) * time.Second
		}
	}
	if e.Status == http.StatusTooManyRequests && e.Code == "" {
		e.Code = ErrLimitExceeded
	}
	return e
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}
