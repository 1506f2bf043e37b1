package users_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"synops/ops"
	"synops/ops/audit"
	"synops/ops/testbed"
	"synops/ops/users"
	"synops/synapse"
	"synops/synapse/synapsetest"
)

// One bed for the package: a real PostgreSQL and a real Synapse on it.
var bed *testbed.Bed

// bridge is an application service registered with the bed, so that a
// plan's impact on one of its users can be checked.
var bridge = synapsetest.AppService{ID: "synops-test-bridge", ASToken: synapse.NewSecret("as_" + randHex(16)),
	SenderLocalpart: "bridgebot", UserPrefix: "bridge_"}

func TestMain(m *testing.M) {
	testbed.Main(m, testbed.Options{Settle: true, AppServices: []synapsetest.AppService{bridge}}, func(b *testbed.Bed) { bed = b })
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// fixture is a users service wired to the bed the way cmd/synops wires it,
// with its own audit log, journal and debug log.
type fixture struct {
	svc         *users.Service
	guard       *ops.Guard
	auditPath   string
	journalPath string
	debugPath   string
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	dir := t.TempDir()
	f := &fixture{
		auditPath:   filepath.Join(dir, "audit.log"),
		journalPath: filepath.Join(dir, "users-journal.json"),
		debugPath:   filepath.Join(dir, "synops.log"),
	}
	log, err := audit.Open(f.auditPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	journal, err := users.OpenJournal(f.journalPath)
	if err != nil {
		t.Fatal(err)
	}
	dbg, err := os.OpenFile(f.debugPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dbg.Close() })
	f.guard = &ops.Guard{Audit: log, Profile: "test", FreshWithin: time.Hour}
	f.svc = &users.Service{
		Synapse:     bed.Synapse.Client(),
		Guard:       f.guard,
		Journal:     journal,
		Server:      bed.Synapse.ServerName,
		Environment: "development",
		Poll:        100 * time.Millisecond,
		PartWait:    time.Minute,
		Log:         slog.New(slog.NewTextHandler(dbg, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	return f
}

// approve approves p with its own target and accepts running without a
// backup (the bed has none).
func approve(t testing.TB, p *ops.Plan) ops.Approval {
	t.Helper()
	a, err := ops.Approve(p, p.Target, time.Now())
	if err != nil {
		t.Fatalf("approve %s: %v", p.Kind, err)
	}
	a.WithoutBackup = true
	return a
}

// plan plans req and fails the test on an error.
func (f *fixture) plan(t testing.TB, req users.Request) (*ops.Plan, *users.Detail) {
	t.Helper()
	p, d, err := f.svc.Plan(ctxT(t), req)
	if err != nil {
		t.Fatalf("plan %s of %s: %v", req.Action, req.UserID, err)
	}
	return p, d
}

// run plans and applies req with an approval made from the plan.
func (f *fixture) run(t testing.TB, req users.Request) *users.Result {
	t.Helper()
	p, _ := f.plan(t, req)
	res, err := f.svc.Apply(ctxT(t), p, approve(t, p), nil)
	if err != nil {
		t.Fatalf("apply %s of %s: %v", req.Action, req.UserID, err)
	}
	return res
}

// phases is the audit log's lines for one target, as "phase:outcome".
func (f *fixture) phases(t testing.TB, target string) []string {
	t.Helper()
	es, err := audit.Read(f.auditPath)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		if e.Target == target {
			out = append(out, e.Action+" "+e.Phase+":"+e.Outcome)
		}
	}
	return out
}

// files are the audit log, the debug log and the journal: where a secret
// must never be written.
func (f *fixture) files(t testing.TB) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, p := range []string{f.auditPath, f.debugPath, f.journalPath} {
		data, err := os.ReadFile(p)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		out[filepath.Base(p)] = data
	}
	return out
}

// noSecret fails if any of the fixture's files holds secret, or the admin token.
func (f *fixture) noSecret(t testing.TB, secrets ...synapse.Secret) {
	t.Helper()
	secrets = append(secrets, bed.Synapse.AdminToken)
	for name, data := range f.files(t) {
		for _, s := range secrets {
			if s.IsZero() {
				t.Fatal("noSecret: an empty secret proves nothing")
			}
			if bytes.Contains(data, []byte(s.Reveal())) {
				t.Errorf("%s holds a secret:\n%s", name, data)
			}
		}
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// account is a seeded user with its password's localpart.
type account struct {
	synapsetest.SeededUser
	local string
}

// newAccount registers a user named tag-<random>.
func newAccount(t testing.TB, tag string) account {
	t.Helper()
	local := tag + "-" + randHex(3)
	r, err := bed.Synapse.Register(ctxT(t), local, false)
	if err != nil {
		t.Fatalf("register %s: %v", local, err)
	}
	return account{SeededUser: synapsetest.SeededUser{UserID: r.UserID, Token: r.AccessToken}, local: local}
}

// joinRooms creates n rooms the account is joined to (the first one it
// creates itself, so it is that room's admin) and returns their IDs.
func joinRooms(t testing.TB, a account, n int) []string {
	t.Helper()
	specs := make([]synapsetest.RoomSpec, n)
	for i := range specs {
		specs[i] = synapsetest.RoomSpec{Name: fmt.Sprintf("%s room %d", a.local, i), Members: []synapsetest.SeededUser{a.SeededUser}}
	}
	if n > 0 {
		specs[0] = synapsetest.RoomSpec{Name: a.local + " own room", Creator: &a.SeededUser}
	}
	ids, err := bed.Synapse.SeedRooms(ctxT(t), specs)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// login logs the account in with its password on a new device.
func login(t testing.TB, a account, password synapse.Secret) (*synapse.LoginResult, error) {
	t.Helper()
	anon, err := synapse.New(bed.Synapse.BaseURL, synapse.Secret{}, synapse.WithRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	return anon.Login(ctxT(t), a.local, password, "")
}

func mustLogin(t testing.TB, a account) *synapse.LoginResult {
	t.Helper()
	r, err := login(t, a, synapsetest.Password(a.local))
	if err != nil {
		t.Fatalf("login %s: %v", a.UserID, err)
	}
	return r
}

// state is what the server says about an account, to compare before and
// after something that must change nothing.
type state struct {
	User    synapse.User
	Rooms   []string
	Devices []string
}

func readState(t testing.TB, userID string) state {
	t.Helper()
	ctx := ctxT(t)
	c := bed.Synapse.Client()
	u, err := c.User(ctx, userID)
	if err != nil {
		t.Fatalf("read %s: %v", userID, err)
	}
	rooms, err := c.UserJoinedRooms(ctx, userID)
	if err != nil {
		t.Fatal(err)
	}
	devs, err := c.UserDevices(ctx, userID)
	if err != nil {
		t.Fatal(err)
	}
	st := state{User: *u, Rooms: rooms}
	for _, d := range devs {
		st.Devices = append(st.Devices, d.DeviceID)
	}
	st.User.LastSeenTS = 0 // moves with every request
	slices.Sort(st.Rooms)
	slices.Sort(st.Devices)
	return st
}

func (s state) String() string {
	b, _ := json.Marshal(s)
	return string(b)
}

func stepTitles(p *ops.Plan) string {
	var out []string
	for _, s := range p.Steps {
		out = append(out, s.Title+" ["+s.Risk.String()+"]")
	}
	return strings.Join(out, "\n")
}
