package synapse_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"synops/synapse"
	"synops/synapse/synapsetest"
)

// recorder is a reverse proxy to the real Synapse that notes every request
// it passes on and the Authorization header it carried. Were the client to
// follow a redirect to it with the token, Synapse would answer: the test
// would see the token arrive and the call succeed.
type recorder struct {
	mu   sync.Mutex
	seen []string // "METHOD path auth=<header>"
	auth int      // requests that carried an Authorization header
}

func (r *recorder) note(req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	a := req.Header.Get("Authorization")
	if a != "" {
		r.auth++
	}
	r.seen = append(r.seen, fmt.Sprintf("%s %s auth=%t", req.Method, req.URL.Path, a != ""))
}

func (r *recorder) report() (n, auth int, seen string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen), r.auth, strings.Join(r.seen, "; ")
}

func toSynapse(t *testing.T) *httputil.ReverseProxy {
	target, err := url.Parse(bed.Synapse.BaseURL)
	if err != nil {
		t.Fatal(err)
	}
	return httputil.NewSingleHostReverseProxy(target)
}

// dialAll sends every name to 127.0.0.1, so that tests can use host names
// (matrix.example.com, evil.matrix.example.com) for servers on loopback: a
// subdomain is a case Go's own redirect rule lets the token through to.
func dialAll(tr *http.Transport) *http.Transport {
	tr = tr.Clone()
	var d net.Dialer
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		return d.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
	}
	return tr
}

func portOf(t *testing.T, rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Port()
}

// TestRedirectsKeepTheToken: a front that answers 301, 302, 307 or 308 with
// a redirect to another port, to http from https, or to another host (a
// subdomain, on the same port) never gets the token to the place it points
// to, for a read or a delete; the client says why it stopped.
func TestRedirectsKeepTheToken(t *testing.T) {
	ctx := ctxT(t)
	rec := &recorder{}
	// The place redirects point to: records what arrives, passes it on.
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.note(r)
		toSynapse(t).ServeHTTP(w, r)
	}))
	t.Cleanup(target.Close)
	targetPort := portOf(t, target.URL)

	// front redirects a first request with status to where(r); a request
	// that arrives through the redirect (?hop=1) is recorded and passed on.
	front := func(status int, where func(r *http.Request) string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("hop") == "1" {
				rec.note(r)
				toSynapse(t).ServeHTTP(w, r)
				return
			}
			http.Redirect(w, r, where(r)+r.URL.Path+"?hop=1", status)
		})
	}
	room, err := bed.Synapse.CreateRoom(ctx, synapsetest.RoomSpec{Name: "redirect-target"})
	if err != nil {
		t.Fatal(err)
	}

	for _, status := range []int{301, 302, 307, 308} {
		plain := httptest.NewServer(nil)
		t.Cleanup(plain.Close)
		plainPort := portOf(t, plain.URL)
		tlsFront := httptest.NewTLSServer(nil)
		t.Cleanup(tlsFront.Close)

		cases := []struct {
			name    string
			srv     *httptest.Server
			base    string
			where   func(r *http.Request) string
			wantWhy string
		}{
			{"another port", plain, "http://matrix.example.com:" + plainPort,
				func(*http.Request) string { return "http://matrix.example.com:" + targetPort }, "another origin"},
			{"another host, same port", plain, "http://matrix.example.com:" + plainPort,
				func(*http.Request) string { return "http://evil.matrix.example.com:" + plainPort }, "another origin"},
			{"https to http", tlsFront, "https://example.com:" + portOf(t, tlsFront.URL),
				func(*http.Request) string { return "http://example.com:" + targetPort }, "from https to http"},
		}
		for _, tc := range cases {
			t.Run(fmt.Sprintf("%d %s", status, tc.name), func(t *testing.T) {
				tc.srv.Config.Handler = front(status, tc.where)
				tr := http.DefaultTransport.(*http.Transport)
				if tc.srv.TLS != nil {
					tr = tc.srv.Client().Transport.(*http.Transport)
				}
				c, err := synapse.New(tc.base, bed.Synapse.AdminToken, synapse.WithRetries(2), synapse.WithBackoff(time.Millisecond),
					synapse.WithHTTPClient(&http.Client{Transport: dialAll(tr)}))
				if err != nil {
					t.Fatal(err)
				}
				n0, auth0, _ := rec.report()

				_, err = c.Whoami(ctx)
				var re *synapse.RedirectError
				if !errors.As(err, &re) || re.Status != status || !strings.Contains(err.Error(), tc.wantWhy) {
					t.Errorf("GET through a %d: got %v, want a RedirectError saying %q", status, err, tc.wantWhy)
				}
				if synapse.IsUnreachable(err) {
					t.Errorf("a refused redirect counts as unreachable: %v", err)
				}
				_, err = c.DeleteRoom(ctx, room, synapse.DeleteRoomOptions{})
				if !errors.As(err, &re) {
					t.Errorf("DELETE through a %d: got %v, want a RedirectError", status, err)
				}
				if strings.Contains(fmt.Sprint(err), "hop=1") {
					t.Errorf("the error shows the redirect's query: %v", err)
				}
				n, auth, seen := rec.report()
				if auth != auth0 || n != n0 {
					t.Errorf("the redirect target got %d requests, %d with an Authorization header (%s); want none", n-n0, auth-auth0, seen)
				}
			})
		}
	}
	if _, err := bed.Synapse.Client().Room(ctx, room); err != nil {
		t.Errorf("the room the redirected deletes named: %v; want it still there", err)
	}
}

// TestRedirectedDeleteIsNotReplayed: a redirect of a DELETE to the very same
// URL is refused for every redirect status, so the delete reaches the server
// once. (Go itself sends a DELETE again after a 307 or 308, and turns it
// into a GET after a 301 or 302.)
func TestRedirectedDeleteIsNotReplayed(t *testing.T) {
	ctx := ctxT(t)
	room, err := bed.Synapse.CreateRoom(ctx, synapsetest.RoomSpec{Name: "redirect-delete"})
	if err != nil {
		t.Fatal(err)
	}
	for _, status := range []int{301, 302, 307, 308} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			var mu sync.Mutex
			var arrived []string
			// Redirects the first request to itself; anything after that is
			// passed to Synapse, which would delete the room.
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				arrived = append(arrived, r.Method+" "+r.URL.Path)
				first := len(arrived) == 1
				mu.Unlock()
				if first {
					http.Redirect(w, r, r.URL.Path, status)
					return
				}
				toSynapse(t).ServeHTTP(w, r)
			}))
			t.Cleanup(srv.Close)
			c, err := synapse.New(srv.URL, bed.Synapse.AdminToken, synapse.WithBackoff(time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.DeleteRoom(ctx, room, synapse.DeleteRoomOptions{})
			var re *synapse.RedirectError
			if !errors.As(err, &re) || re.Method != http.MethodDelete || !strings.Contains(err.Error(), "never sent twice") {
				t.Errorf("got %v, want a RedirectError saying a change is never sent twice", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(arrived) != 1 {
				t.Errorf("the server got %v; want the DELETE once and nothing after it", arrived)
			}
		})
	}
	if _, err := bed.Synapse.Client().Room(ctx, room); err != nil {
		t.Errorf("room after the redirected deletes: %v; want it still there", err)
	}
	tasks, err := bed.Synapse.Client().ScheduledTasks(ctx, "shutdown_and_purge_room", room, "")
	if err != nil || len(tasks) != 0 {
		t.Errorf("Synapse has delete tasks %+v (%v) for the room; want none", tasks, err)
	}
}

// A redirect within the origin, of a read, is followed with the token: a
// reverse proxy that adds a trailing slash must keep working.
func TestSameOriginRedirectOfAReadIsFollowed(t *testing.T) {
	ctx := ctxT(t)
	rec := &recorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("hop") != "1" {
			http.Redirect(w, r, r.URL.Path+"?hop=1", http.StatusTemporaryRedirect)
			return
		}
		rec.note(r)
		toSynapse(t).ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c, _ := synapse.New(srv.URL, bed.Synapse.AdminToken)
	w, err := c.Whoami(ctx)
	if err != nil || w.UserID != bed.Synapse.AdminUserID {
		t.Fatalf("whoami through a same-origin redirect: %+v, %v", w, err)
	}
	if n, auth, seen := rec.report(); n != 1 || auth != 1 {
		t.Errorf("after the redirect: %s; want one request with the token", seen)
	}
}

// An error body is quoted short and without the token, even when a proxy
// echoes the request's headers into it.
func TestErrorBodyCappedAndScrubbed(t *testing.T) {
	ctx := ctxT(t)
	tok := bed.Synapse.AdminToken.Reveal()
	for _, tc := range []struct {
		name        string
		contentType string
		body        func(auth string) string
	}{
		{"html", "text/html", func(auth string) string {
			return "<html><body><h1>502 Bad Gateway</h1><pre>Authorization: " + auth + "</pre>" + strings.Repeat("<p>padding</p>", 2000) + "</body></html>"
		}},
		{"json", "application/json", func(auth string) string {
			return fmt.Sprintf(`{"errcode":"M_UNKNOWN","error":"upstream said: %s %s"}`, auth, strings.Repeat("é", 3000))
		}},
		{"token cut by the cap", "text/plain", func(auth string) string {
			return strings.Repeat("x", 280) + auth
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.contentType)
				w.WriteHeader(http.StatusBadGateway)
				fmt.Fprint(w, tc.body(r.Header.Get("Authorization")))
			}))
			t.Cleanup(srv.Close)
			c, _ := synapse.New(srv.URL, bed.Synapse.AdminToken, synapse.WithRetries(0))
			_, err := c.Whoami(ctx)
			var se *synapse.Error
			if !errors.As(err, &se) || se.Status != http.StatusBadGateway {
				t.Fatalf("got %v, want the 502", err)
			}
			msg := err.Error()
			for i := 0; i+8 <= len(tok); i++ {
				if strings.Contains(msg, tok[i:i+8]) {
					t.Fatalf("the error shows part of the token (%q): %s", tok[i:i+8], msg)
				}
			}
			if len(se.Message) > 310 {
				t.Errorf("the error quotes %d bytes of the body, want a few hundred at most", len(se.Message))
			}
		})
	}
}
