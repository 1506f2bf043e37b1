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
	"sync"
	"time"
	"unicode/utf8"
)

// Client talks to one homeserver with one access token.
type Client struct {
	base       *url.URL
	token      Secret
	reload     *tokenReload // nil: the token is fixed
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

// pooled is the transport clients share: the console's health checks send
// five requests at once every two seconds, and the default transport keeps
// only two idle connections a host, so it dialled afresh on every refresh.
var pooled = func() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 16
	return t
}()

// New returns a client for baseURL (scheme, host and optional path prefix).
func New(baseURL string, token Secret, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("homeserver URL %q must look like http://127.0.0.1:8008 or https://matrix.example.org", RedactURL(baseURL))
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("homeserver URL %q must not carry credentials, a query or a fragment", RedactURL(baseURL))
	}
	c := &Client{
		base:       u,
		token:      token,
		hc:         &http.Client{Transport: pooled},
		timeout:    15 * time.Second,
		maxRetries: 3,
		maxWait:    10 * time.Second,
		backoff:    250 * time.Millisecond,
		userAgent:  "synops",
	}
	for _, o := range opts {
		o(c)
	}
	if c.reload != nil {
		c.reload.tok = token
	}
	// A copy, so the redirect rule below holds for a client the caller
	// passed too, without changing theirs.
	hc := *c.hc
	next := hc.CheckRedirect
	hc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if err := checkRedirect(req, via); err != nil {
			return err
		}
		if next != nil {
			return next(req, via)
		}
		return nil
	}
	c.hc = &hc
	return c, nil
}

// maxRedirects is how many same-origin redirects of a read are followed.
const maxRedirects = 5

// checkRedirect lets a read (GET, HEAD) follow a redirect within the origin
// it was sent to and refuses everything else. Go's own rule would carry the
// Authorization header to another port, from https down to http, and to a
// subdomain, and would send a DELETE or PUT again after a 307 or 308; the
// admin token is for one origin, and a change is never sent twice.
func checkRedirect(req *http.Request, via []*http.Request) error {
	first := via[0]
	e := &RedirectError{Method: first.Method, Path: first.URL.EscapedPath(), To: shownURL(req.URL)}
	if req.Response != nil {
		e.Status = req.Response.StatusCode
	}
	switch {
	case first.Method != http.MethodGet && first.Method != http.MethodHead:
		e.Why = "a request that changes something is never sent twice, and following would send it again; point homeserver_url at the server that answers without redirecting"
	case first.URL.Scheme == "https" && req.URL.Scheme != "https":
		e.Why = "it leads from https to http, where the admin token would travel unencrypted"
	case origin(req.URL) != origin(first.URL):
		e.Why = "it leads to another origin (scheme, host or port), and the admin token is only ever sent to homeserver_url's; if Synapse answers there, set homeserver_url to " + origin(req.URL)
	case len(via) > maxRedirects:
		e.Why = fmt.Sprintf("more than %d redirects", maxRedirects)
	default:
		return nil
	}
	return e
}

// origin is scheme://host:port with the scheme's default port spelled out.
func origin(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[strings.ToLower(u.Scheme)]
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Hostname()) + ":" + port
}

// shownURL is a redirect target as an error may show it: no user info, no
// query (either could carry a credential), no characters that drive a terminal.
func shownURL(u *url.URL) string {
	v := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	return printable(v.String())
}

// RedactURL is a URL as it may be shown (config check, error messages): its
// user info, a password or a token written as a user name, becomes
// "[redacted]", and so do query values whose name says they are a
// credential. The user info is taken to end at the last '@', so a password
// with an unescaped '#', '/' or '@' is hidden whole, not cut where a URL
// parser would cut it.
func RedactURL(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		if strings.Contains(s, "@") {
			return "(hidden: not a URL, and it has an '@')"
		}
		return printable(s)
	}
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		rest = "[redacted]@" + rest[at+1:]
	}
	out := scheme + "://" + rest
	if u, err := url.Parse(out); err == nil && u.RawQuery != "" {
		q, changed := u.Query(), false
		for k := range q {
			l := strings.ToLower(k)
			if strings.Contains(l, "token") || strings.Contains(l, "password") || strings.Contains(l, "secret") || strings.Contains(l, "key") {
				q[k], changed = []string{"[redacted]"}, true
			}
		}
		if changed {
			out = strings.TrimSuffix(out, u.RawQuery) + q.Encode()
		}
	}
	return printable(out)
}

// BaseURL is the homeserver URL the client talks to.
func (c *Client) BaseURL() string { return c.base.String() }

// Token is the client's access token (still a Secret).
func (c *Client) Token() Secret {
	if c.reload != nil {
		return c.reload.current()
	}
	return c.token
}

// WithToken returns a copy of the client that uses another token, fixed.
func (c *Client) WithToken(t Secret) *Client {
	cc := *c
	cc.token, cc.reload = t, nil
	return &cc
}

// WithTokenReload lets a long-lived client (the console's) follow its token
// source: when Synapse answers M_UNKNOWN_TOKEN, or when ReloadToken is
// called, load is asked for the token again, and a different one replaces
// the old for this client and every copy made with the same options. A reset
// or a rotation that writes synops' token file, here or from another shell,
// then does not leave the console talking with a dead token.
func WithTokenReload(load func(context.Context) (Secret, error)) Option {
	return func(c *Client) { c.reload = &tokenReload{load: load} }
}

type tokenReload struct {
	load func(context.Context) (Secret, error)
	mu   sync.Mutex
	tok  Secret
}

func (t *tokenReload) current() Secret {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.tok
}

// refresh loads the token again; it reports whether it changed from used.
func (t *tokenReload) refresh(ctx context.Context, used Secret) (bool, error) {
	tok, err := t.load(ctx)
	if err != nil {
		return false, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	changed := tok.Reveal() != used.Reveal()
	t.tok = tok
	return changed, nil
}

// ReloadToken reads the token from its source again (WithTokenReload); a
// client without a source keeps its token. It reports whether the token
// changed.
func (c *Client) ReloadToken(ctx context.Context) (bool, error) {
	if c.reload == nil {
		return false, nil
	}
	return c.reload.refresh(ctx, c.Token())
}

// rateLimited reports whether err is a 429 / M_LIMIT_EXCEEDED answer.
func rateLimited(err error) (*Error, bool) {
	var se *Error
	if errors.As(err, &se) && (se.Status == http.StatusTooManyRequests || se.Code == ErrLimitExceeded) {
		return se, true
	}
	return nil, false
}

// Trace holds callbacks that watch a client's requests, hung on a context
// as net/http/httptrace does, so that a caller who cares learns what the
// client otherwise handles quietly.
type Trace struct {
	// RateLimited is called for every 429 M_LIMIT_EXCEEDED answer (from
	// Synapse or a proxy in front of it), with the wait it asked for (0 if
	// none), before the client decides whether to wait and retry.
	RateLimited func(retryAfter time.Duration)
}

type traceKey struct{}

// WithTrace returns a copy of ctx whose requests report to t.
func WithTrace(ctx context.Context, t *Trace) context.Context {
	return context.WithValue(ctx, traceKey{}, t)
}

func traceOf(ctx context.Context) *Trace {
	t, _ := ctx.Value(traceKey{}).(*Trace)
	return t
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
	reloaded := false
	for attempt := 0; ; attempt++ {
		token := c.Token()
		err := c.once(ctx, r, body, out, token)
		if err == nil {
			return nil
		}
		// A token Synapse does not know was refused before anything was
		// done: with a token source, the request goes again, once, with
		// the token the source holds now, if that is another.
		if r.auth && c.reload != nil && !reloaded && errors.Is(err, ErrUnknownToken) {
			reloaded = true
			if changed, rerr := c.reload.refresh(ctx, token); rerr == nil && changed {
				attempt--
				continue
			}
		}
		if se, ok := rateLimited(err); ok {
			if t := traceOf(ctx); t != nil && t.RateLimited != nil {
				t.RateLimited(se.RetryAfter)
			}
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
	var re *RedirectError
	if errors.As(err, &re) {
		return 0, false // the same request gets the same redirect
	}
	if se, ok := rateLimited(err); ok {
		wait := se.RetryAfter
		if wait <= 0 {
			wait = delay
		}
		return wait, wait <= c.maxWait
	}
	var se *Error
	if errors.As(err, &se) {
		return delay, se.Status >= 500 && r.idempotent
	}
	// Transport errors: a refused connection is retried only for reads.
	return delay, r.idempotent && !errors.Is(err, context.Canceled)
}

func (c *Client) once(ctx context.Context, r request, body []byte, out any, token Secret) error {
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
		if token.IsZero() {
			return fmt.Errorf("%s %s: no admin token configured (set MATRIX_ADMIN_TOKEN or a token file in the profile)", r.method, r.path)
		}
		req.Header.Set("Authorization", "Bearer "+token.Reveal())
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		var re *RedirectError
		if errors.As(err, &re) {
			return re
		}
		// url.Error's message holds the URL; ours never carries a token.
		return fmt.Errorf("%s %s: %w", r.method, r.path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", r.method, r.path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return decodeError(r, resp, scrub(data, token))
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
		e.Message = capText(body.Error)
		e.RetryAfter = time.Duration(body.RetryAfterMS) * time.Millisecond
	} else {
		e.Message = capText(string(data))
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

// maxErrorText is how much of an error body an error message quotes: enough
// for Synapse's own messages, not a proxy's whole HTML page.
const maxErrorText = 300

// capText makes an error body fit a message: valid UTF-8, trimmed, at most
// maxErrorText bytes (cut on a character boundary, marked with "…").
func capText(s string) string {
	s = strings.TrimSpace(strings.ToValidUTF8(s, ""))
	if len(s) <= maxErrorText {
		return s
	}
	cut := maxErrorText
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// scrub replaces the token sent in an answer (a proxy that echoes the
// request, a debug page) before any of it can reach an error message. It
// runs before capText, so a cut cannot leave a part of the token behind.
func scrub(data []byte, token Secret) []byte {
	if token.IsZero() {
		return data
	}
	return bytes.ReplaceAll(data, []byte(token.Reveal()), []byte("[redacted]"))
}
