package synapse_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"synops/synapse"
	"synops/synapse/synapsetest"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestHealthVersions(t *testing.T) {
	ctx := ctxT(t)
	c := bed.Synapse.Client()
	if err := c.Health(ctx); err != nil {
		t.Fatalf("health: %v", err)
	}
	v, err := c.ClientVersions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Versions) == 0 || !contains(v.Versions, "v1.1") {
		t.Errorf("got client versions %v, want a list containing v1.1", v.Versions)
	}
	sv, err := c.ServerVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sv, "1.") {
		t.Errorf("got server version %q, want 1.x", sv)
	}
	t.Logf("Synapse %s, client versions up to %s", sv, v.Versions[len(v.Versions)-1])
}

func TestWhoamiAdmin(t *testing.T) {
	ctx := ctxT(t)
	c := bed.Synapse.Client()
	w, err := c.Whoami(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if w.UserID != bed.Synapse.AdminUserID {
		t.Errorf("got whoami %s, want %s", w.UserID, bed.Synapse.AdminUserID)
	}
	u, err := c.User(ctx, w.UserID)
	if err != nil {
		t.Fatal(err)
	}
	if !u.Admin {
		t.Errorf("got admin=false for %s, want true", w.UserID)
	}
}

func TestWrongToken(t *testing.T) {
	ctx := ctxT(t)
	const bogus = "syt_bogus_token_that_does_not_exist_zzzz"
	c := bed.Synapse.Client().WithToken(synapse.NewSecret(bogus))
	_, err := c.Whoami(ctx)
	var se *synapse.Error
	if !errors.As(err, &se) || se.Status != 401 || !errors.Is(err, synapse.ErrUnknownToken) {
		t.Fatalf("got %v, want 401 M_UNKNOWN_TOKEN", err)
	}
	if strings.Contains(err.Error(), bogus) || strings.Contains(err.Error(), "zzzz") {
		t.Errorf("error %q shows the token", err)
	}
}

func TestNonAdminTokenForbidden(t *testing.T) {
	ctx := ctxT(t)
	r, err := bed.Synapse.Register(ctx, "plainbob", false)
	if err != nil {
		t.Fatal(err)
	}
	c := bed.Synapse.Client().WithToken(r.AccessToken)
	w, err := c.Whoami(ctx)
	if err != nil || w.UserID != "@plainbob:"+bed.Synapse.ServerName {
		t.Fatalf("got whoami %+v, %v; want @plainbob", w, err)
	}
	_, err = c.User(ctx, bed.Synapse.AdminUserID)
	var se *synapse.Error
	if !errors.As(err, &se) || se.Status != 403 || !errors.Is(err, synapse.ErrForbidden) {
		t.Fatalf("got %v, want 403 M_FORBIDDEN", err)
	}
}

func TestUnknownUser(t *testing.T) {
	_, err := bed.Synapse.Client().User(ctxT(t), "@nobody-here:"+bed.Synapse.ServerName)
	var se *synapse.Error
	if !errors.As(err, &se) || se.Status != 404 || !errors.Is(err, synapse.ErrNotFound) {
		t.Fatalf("got %v, want 404 M_NOT_FOUND", err)
	}
}

func TestLoginLogout(t *testing.T) {
	ctx := ctxT(t)
	if _, err := bed.Synapse.Register(ctx, "loginalice", false); err != nil {
		t.Fatal(err)
	}
	anon, _ := synapse.New(bed.Synapse.BaseURL, synapse.Secret{})
	res, err := anon.Login(ctx, "loginalice", synapsetest.Password("loginalice"), "SYNOPSTEST")
	if err != nil {
		t.Fatal(err)
	}
	if res.DeviceID != "SYNOPSTEST" || res.UserID != "@loginalice:"+bed.Synapse.ServerName {
		t.Errorf("got %s/%s, want @loginalice/SYNOPSTEST", res.UserID, res.DeviceID)
	}
	if fmt.Sprint(res) == "" || strings.Contains(fmt.Sprintf("%+v", res), res.AccessToken.Reveal()) {
		t.Errorf("printing a login result shows its token")
	}
	c := anon.WithToken(res.AccessToken)
	if _, err := c.Whoami(ctx); err != nil {
		t.Fatalf("fresh token: %v", err)
	}
	if err := c.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Whoami(ctx); !errors.Is(err, synapse.ErrUnknownToken) {
		t.Errorf("after logout got %v, want M_UNKNOWN_TOKEN", err)
	}
	_, err = anon.Login(ctx, "loginalice", synapse.NewSecret("wrong password"), "")
	if !errors.Is(err, synapse.ErrForbidden) {
		t.Errorf("wrong password: got %v, want M_FORBIDDEN", err)
	}
}

func TestSharedSecretRegistrationErrors(t *testing.T) {
	ctx := ctxT(t)
	anon, _ := synapse.New(bed.Synapse.BaseURL, synapse.Secret{})
	reg := synapse.Registration{Username: "regcarol", Password: synapse.NewSecret("pw-regcarol-long")}

	_, err := anon.RegisterWithSharedSecret(ctx, synapse.NewSecret("not the secret"), reg)
	var se *synapse.Error
	if !errors.As(err, &se) || se.Status != 403 {
		t.Fatalf("wrong secret: got %v, want HTTP 403 (HMAC incorrect)", err)
	}
	r, err := anon.RegisterWithSharedSecret(ctx, bed.Synapse.SharedSecret, reg)
	if err != nil {
		t.Fatal(err)
	}
	if r.UserID != "@regcarol:"+bed.Synapse.ServerName || r.AccessToken.IsZero() {
		t.Errorf("got %s token set=%v, want @regcarol with a token", r.UserID, !r.AccessToken.IsZero())
	}
	_, err = anon.RegisterWithSharedSecret(ctx, bed.Synapse.SharedSecret, reg)
	if !errors.Is(err, synapse.ErrUserInUse) {
		t.Errorf("second registration: got %v, want M_USER_IN_USE", err)
	}
	_, err = anon.RegisterWithSharedSecret(ctx, bed.Synapse.SharedSecret,
		synapse.Registration{Username: "_underscore", Password: synapse.NewSecret("x")})
	if !errors.Is(err, synapse.Errcode("M_INVALID_USERNAME")) {
		t.Errorf("invalid username: got %v, want M_INVALID_USERNAME", err)
	}
	// Mixed case: the MAC covers the name as sent, Synapse stores it lower-cased.
	r, err = anon.RegisterWithSharedSecret(ctx, bed.Synapse.SharedSecret,
		synapse.Registration{Username: "MixedDave", Password: synapse.NewSecret("pw-mixed-dave"), Admin: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.UserID != "@mixeddave:"+bed.Synapse.ServerName {
		t.Errorf("got %s, want @mixeddave", r.UserID)
	}
	u, err := bed.Synapse.Client().User(ctx, r.UserID)
	if err != nil || !u.Admin {
		t.Errorf("got %+v, %v; want an admin", u, err)
	}
}

func TestMalformedIDsSendNothing(t *testing.T) {
	ctx := ctxT(t)
	tr := &synapsetest.CountingTransport{}
	c := bed.Synapse.Client(synapse.WithHTTPClient(&http.Client{Transport: tr}))
	for _, id := range []string{"", "bob", "@bob", "@:example.org", "@bo b:example.org", "!room:example.org",
		"@bob:exa mple.org", "@bob:example.org:99999999", "@bob:[::1", "@bob:example.org/../x"} {
		_, err := c.User(ctx, id)
		var ve *synapse.ValidationError
		if !errors.As(err, &ve) {
			t.Errorf("User(%q): got %v, want a ValidationError", id, err)
		}
	}
	if n := tr.Count(); n != 0 {
		t.Errorf("got %d requests sent for malformed IDs, want 0", n)
	}
	if _, err := c.User(ctx, bed.Synapse.AdminUserID); err != nil || tr.Count() != 1 {
		t.Errorf("a valid ID: got err %v after %d requests, want 1 request", err, tr.Count())
	}
}

func TestRateLimitedLogin(t *testing.T) {
	ctx := ctxT(t)
	if _, err := bed.Synapse.Register(ctx, "limitedeve", false); err != nil {
		t.Fatal(err)
	}
	noRetry, _ := synapse.New(bed.Synapse.BaseURL, synapse.Secret{}, synapse.WithRetries(0))
	var limited *synapse.Error
	for i := 0; i < 6 && limited == nil; i++ {
		_, err := noRetry.Login(ctx, "limitedeve", synapse.NewSecret("wrong"), "")
		var se *synapse.Error
		if errors.As(err, &se) && errors.Is(err, synapse.ErrLimitExceeded) {
			limited = se
		}
	}
	if limited == nil {
		t.Fatal("six failed logins in a row were never rate-limited (rc_login.failed_attempts burst 2)")
	}
	if limited.Status != 429 || limited.RetryAfter <= 0 {
		t.Errorf("got status %d retry-after %s, want 429 with a positive retry-after", limited.Status, limited.RetryAfter)
	}
	// With retries, the client waits out retry_after_ms and gets the real answer.
	withRetry, _ := synapse.New(bed.Synapse.BaseURL, synapse.Secret{}, synapse.WithRetries(5), synapse.WithMaxRateLimitWait(5*time.Second))
	_, err := withRetry.Login(ctx, "limitedeve", synapsetest.Password("limitedeve"), "")
	if err != nil {
		t.Errorf("login after waiting out the limit: %v", err)
	}
	// A wait longer than the cap is not slept through: the caller gets the error at once.
	capped, _ := synapse.New(bed.Synapse.BaseURL, synapse.Secret{}, synapse.WithRetries(5), synapse.WithMaxRateLimitWait(time.Millisecond))
	start := time.Now()
	for i := 0; i < 4; i++ {
		_, err = capped.Login(ctx, "limitedeve", synapse.NewSecret("wrong"), "")
	}
	if !errors.Is(err, synapse.ErrLimitExceeded) {
		t.Errorf("got %v, want M_LIMIT_EXCEEDED returned to the caller", err)
	}
	if time.Since(start) > 20*time.Second {
		t.Errorf("capped client slept %s", time.Since(start))
	}
}

// A reverse proxy in front of the real Synapse that answers 502 to the first
// failures requests, as nginx does while Synapse restarts.
func flakyProxy(t *testing.T, failures int32) (*httptest.Server, *atomic.Int32) {
	target, _ := url.Parse(bed.Synapse.BaseURL)
	rp := httputil.NewSingleHostReverseProxy(target)
	var seen atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if seen.Add(1) <= failures {
			w.WriteHeader(http.StatusBadGateway)
			fmt.Fprint(w, "<html><body>502 Bad Gateway</body></html>")
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &seen
}

func TestRetry5xxIdempotentOnly(t *testing.T) {
	ctx := ctxT(t)
	srv, seen := flakyProxy(t, 2)
	c, _ := synapse.New(srv.URL, bed.Synapse.AdminToken, synapse.WithBackoff(10*time.Millisecond))
	if _, err := c.Whoami(ctx); err != nil {
		t.Fatalf("GET through two 502s: %v", err)
	}
	if n := seen.Load(); n != 3 {
		t.Errorf("got %d attempts, want 3", n)
	}

	srv2, seen2 := flakyProxy(t, 1)
	c2, _ := synapse.New(srv2.URL, synapse.Secret{}, synapse.WithBackoff(10*time.Millisecond))
	_, err := c2.Login(ctx, "nobody", synapse.NewSecret("x"), "")
	var se *synapse.Error
	if !errors.As(err, &se) || se.Status != 502 {
		t.Errorf("POST through a 502: got %v, want the 502 itself", err)
	}
	if n := seen2.Load(); n != 1 {
		t.Errorf("POST was sent %d times, want once (not idempotent)", n)
	}
}

func TestUnreachable(t *testing.T) {
	c, _ := synapse.New("http://127.0.0.1:1", synapse.Secret{}, synapse.WithRetries(0))
	err := c.Health(ctxT(t))
	if err == nil || !synapse.IsUnreachable(err) {
		t.Errorf("got %v, want an unreachable error", err)
	}
	if synapse.IsUnreachable(&synapse.Error{Status: 500}) {
		t.Error("an answer from Synapse counted as unreachable")
	}
}

// Only a connection that could not be opened proves a request was never
// received; one that timed out, or got an answer, may have been acted on.
func TestNeverSent(t *testing.T) {
	ctx := ctxT(t)
	down, _ := synapse.New("http://127.0.0.1:1", bed.Synapse.AdminToken, synapse.WithRetries(0))
	_, err := down.DeleteRoom(ctx, "!gone:"+bed.Synapse.ServerName, synapse.DeleteRoomOptions{})
	if err == nil || !synapse.NeverSent(err) {
		t.Errorf("DELETE to a closed port: got %v, want an error that proves it was never sent", err)
	}
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	c, _ := synapse.New(slow.URL, bed.Synapse.AdminToken, synapse.WithTimeout(200*time.Millisecond))
	_, err = c.DeleteRoom(ctx, "!slow:"+bed.Synapse.ServerName, synapse.DeleteRoomOptions{})
	if err == nil || synapse.NeverSent(err) {
		t.Errorf("DELETE that timed out: got %v, NeverSent %v; want an error that may have been received", err, synapse.NeverSent(err))
	}
	_, err = bed.Synapse.Client().Room(ctx, "!no-such-room-here:"+bed.Synapse.ServerName)
	if err == nil || synapse.NeverSent(err) {
		t.Errorf("a 404 from Synapse: got %v, NeverSent %v", err, synapse.NeverSent(err))
	}
}

func contains(xs []string, x string) bool {
	for _, s := range xs {
		if s == x {
			return true
		}
	}
	return false
}

// A read that times out is asked again after a backoff (a Synapse warming
// up after a restart answers late); a change that times out is not, since
// Synapse may have done it.
func TestTimeoutRetriedForReadsOnly(t *testing.T) {
	ctx := ctxT(t)
	target, _ := url.Parse(bed.Synapse.BaseURL)
	rp := httputil.NewSingleHostReverseProxy(target)
	var seen atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if seen.Add(1) <= 2 {
			select { // slower than the client's time limit
			case <-time.After(2 * time.Second):
			case <-r.Context().Done():
			}
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c, _ := synapse.New(srv.URL, bed.Synapse.AdminToken, synapse.WithTimeout(300*time.Millisecond), synapse.WithBackoff(10*time.Millisecond))
	if w, err := c.Whoami(ctx); err != nil || w.UserID != bed.Synapse.AdminUserID {
		t.Fatalf("GET through two timeouts: %+v, %v", w, err)
	}
	if n := seen.Load(); n != 3 {
		t.Errorf("got %d attempts, want 3", n)
	}

	seen.Store(0)
	room, err := bed.Synapse.CreateRoom(ctx, synapsetest.RoomSpec{Name: "timeout-delete"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.DeleteRoom(ctx, room, synapse.DeleteRoomOptions{})
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("DELETE that timed out: got %v, want the timeout", err)
	}
	if n := seen.Load(); n != 1 {
		t.Errorf("the DELETE was sent %d times, want once", n)
	}
}

// TestTokenReload: a client with a token source that meets M_UNKNOWN_TOKEN
// loads the token again and sends the request once more with the new one;
// a source that still holds the dead token gets no second try, and a copy
// with a token of its own never reloads.
func TestTokenReload(t *testing.T) {
	ctx := ctxT(t)
	if _, err := bed.Synapse.Register(ctx, "reloadbob", true); err != nil {
		t.Fatal(err)
	}
	anon, _ := synapse.New(bed.Synapse.BaseURL, synapse.Secret{})
	login := func(device string) synapse.Secret {
		res, err := anon.Login(ctx, "reloadbob", synapsetest.Password("reloadbob"), device)
		if err != nil {
			t.Fatal(err)
		}
		return res.AccessToken
	}
	dead, fresh := login("DEAD"), login("FRESH")
	if err := anon.WithToken(dead).Logout(ctx); err != nil {
		t.Fatal(err)
	}
	source, loads := dead, 0
	c, err := synapse.New(bed.Synapse.BaseURL, dead, synapse.WithTokenReload(func(context.Context) (synapse.Secret, error) {
		loads++
		return source, nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Whoami(ctx); !errors.Is(err, synapse.ErrUnknownToken) || loads != 1 {
		t.Fatalf("the source holds the dead token: got %v after %d loads, want M_UNKNOWN_TOKEN after 1", err, loads)
	}
	source = fresh
	w, err := c.Whoami(ctx)
	if err != nil || w.DeviceID != "FRESH" || loads != 2 {
		t.Fatalf("the source holds a live token: got %+v, %v after %d loads", w, err, loads)
	}
	if c.Token().Reveal() != fresh.Reveal() {
		t.Errorf("Token() is %s after the reload, want %s", c.Token().Hint(), fresh.Hint())
	}
	if _, err := c.WithToken(dead).Whoami(ctx); !errors.Is(err, synapse.ErrUnknownToken) || loads != 2 {
		t.Errorf("a copy with a token of its own: got %v after %d loads, want M_UNKNOWN_TOKEN and no load", err, loads)
	}
	// ReloadToken follows a source that changed while the old token works.
	source = login("THIRD")
	if changed, err := c.ReloadToken(ctx); err != nil || !changed {
		t.Fatalf("ReloadToken: %v, %v", changed, err)
	}
	if w, err := c.Whoami(ctx); err != nil || w.DeviceID != "THIRD" {
		t.Errorf("after ReloadToken: %+v, %v", w, err)
	}
}

// A caller that hangs a Trace on its context hears of every 429, including
// those the client waits out and retries.
func TestTraceSeesRateLimits(t *testing.T) {
	ctx := ctxT(t)
	if _, err := bed.Synapse.Register(ctx, "tracedfrank", false); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var waits []time.Duration
	ctx = synapse.WithTrace(ctx, &synapse.Trace{RateLimited: func(d time.Duration) {
		mu.Lock()
		waits = append(waits, d)
		mu.Unlock()
	}})
	c, _ := synapse.New(bed.Synapse.BaseURL, synapse.Secret{}, synapse.WithRetries(5), synapse.WithMaxRateLimitWait(5*time.Second))
	for i := 0; i < 4; i++ {
		_, _ = c.Login(ctx, "tracedfrank", synapse.NewSecret("wrong"), "")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(waits) == 0 {
		t.Fatal("four failed logins (rc_login.failed_attempts burst 2) reported no rate limit to the trace")
	}
	for _, d := range waits {
		if d <= 0 {
			t.Errorf("a rate limit reported a wait of %s, want Synapse's positive retry_after_ms", d)
		}
	}
}
