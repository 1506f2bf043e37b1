package rooms_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"synops/ops"
	"synops/ops/audit"
	"synops/ops/rooms"
	"synops/ops/testbed"
	"synops/synapse"
	"synops/synapse/synapsetest"
)

// One bed for the package: a real PostgreSQL, a real Synapse on it and the
// OpenMeet-style application database.
var bed *testbed.Bed

func TestMain(m *testing.M) {
	testbed.Main(m, testbed.Options{Settle: true}, func(b *testbed.Bed) { bed = b })
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// fixture is a room service wired to the bed the way cmd/synops wires it,
// with its own audit log and journal so tests do not see each other's runs.
type fixture struct {
	svc       *rooms.Service
	guard     *ops.Guard
	auditPath string
	app       *pgxpool.Pool
	synDB     *pgxpool.Pool
}

func newFixture(t testing.TB, opts ...synapse.Option) *fixture {
	t.Helper()
	ctx := ctxT(t)
	app, err := pgxpool.New(ctx, bed.AppDB)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(app.Close)
	synDB, err := pgxpool.New(ctx, bed.SynapseDB)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(synDB.Close)
	dir := t.TempDir()
	auditPath := filepath.Join(dir, "audit.log")
	log, err := audit.Open(auditPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	journal, err := rooms.OpenJournal(filepath.Join(dir, "rooms-journal.json"))
	if err != nil {
		t.Fatal(err)
	}
	g := &ops.Guard{Audit: log, Profile: "test", FreshWithin: time.Hour}
	svc := &rooms.Service{
		Synapse:     bed.Synapse.Client(opts...),
		SynapseDB:   synDB,
		App:         &rooms.AppRefs{Pool: app, SQL: rooms.DefaultRefSQL()},
		Guard:       g,
		Journal:     journal,
		Server:      bed.Synapse.ServerName,
		Environment: "development",
		Poll:        100 * time.Millisecond,
	}
	return &fixture{svc: svc, guard: g, auditPath: auditPath, app: app, synDB: synDB}
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

// auditEntries reads the fixture's audit log.
func (f *fixture) auditEntries(t testing.TB) []audit.Entry {
	t.Helper()
	es, err := audit.Read(f.auditPath)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// auditFor returns the entries of one plan.
func (f *fixture) auditFor(t testing.TB, planID string) []audit.Entry {
	var out []audit.Entry
	for _, e := range f.auditEntries(t) {
		if e.PlanID == planID {
			out = append(out, e)
		}
	}
	return out
}

// noSecretInAudit fails if the audit log holds the admin token or the
// registration secret.
func (f *fixture) noSecretInAudit(t testing.TB) {
	t.Helper()
	data, err := os.ReadFile(f.auditPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []synapse.Secret{bed.Synapse.AdminToken, bed.Synapse.SharedSecret} {
		if bytes.Contains(data, []byte(s.Reveal())) {
			t.Errorf("the audit log holds a secret:\n%s", data)
		}
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// prefix is a room-name prefix no other test uses.
func prefix(tag string) string { return tag + "-" + randHex(3) + "-" }

// seed creates rooms named prefix+"00", prefix+"01", … and waits until the
// admin room list shows them all.
func seed(t testing.TB, prefix string, n int, mod func(i int, s *synapsetest.RoomSpec)) []string {
	t.Helper()
	ctx := ctxT(t)
	specs := make([]synapsetest.RoomSpec, n)
	for i := range specs {
		specs[i] = synapsetest.RoomSpec{Name: fmt.Sprintf("%s%02d", prefix, i)}
		if mod != nil {
			mod(i, &specs[i])
		}
	}
	ids, err := bed.Synapse.SeedRooms(ctx, specs)
	if err != nil {
		t.Fatalf("seed rooms: %v", err)
	}
	waitListed(t, ids, nil)
	return ids
}

// waitListed waits until every room in ids is in the admin room list (which
// only shows rooms Synapse has statistics for) and, if ok is given, until ok
// holds for each.
func waitListed(t testing.TB, ids []string, ok func(synapse.Room) bool) {
	t.Helper()
	ctx := ctxT(t)
	cl := bed.Synapse.Client()
	deadline := time.Now().Add(30 * time.Second)
	for {
		all, err := cl.AllRooms(ctx, synapse.ListRoomsOptions{PageSize: 1000})
		if err != nil {
			t.Fatal(err)
		}
		byID := map[string]synapse.Room{}
		for _, r := range all {
			byID[r.RoomID] = r
		}
		var missing []string
		for _, id := range ids {
			r, found := byID[id]
			if !found || (ok != nil && !ok(r)) {
				missing = append(missing, id)
			}
		}
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("rooms not (yet) listed as wanted after 30s: %v", missing)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// leave makes the token's owner leave the room (client API).
func leave(t testing.TB, token synapse.Secret, roomID string) {
	t.Helper()
	ctx := ctxT(t)
	u := bed.Synapse.BaseURL + "/_matrix/client/v3/rooms/" + url.PathEscape(roomID) + "/leave"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token.Reveal())
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("leave %s: %v", roomID, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var body json.RawMessage
		_ = json.NewDecoder(resp.Body).Decode(&body)
		t.Fatalf("leave %s: HTTP %d %s", roomID, resp.StatusCode, body)
	}
}

// addRefs gives roomID one "events" row and one "chatRooms" row in the
// application database, as OpenMeet does for an event's chat.
func (f *fixture) addRefs(t testing.TB, roomID string) (slug string) {
	t.Helper()
	ctx := ctxT(t)
	slug = "ev-" + randHex(6)
	var id int
	if err := f.app.QueryRow(ctx, `INSERT INTO "events" ("slug","name","startDate","endDate","matrixRoomId")
		VALUES ($1,$2,now() - interval '40 days',now() - interval '39 days',$3) RETURNING "id"`,
		slug, "Event "+slug, roomID).Scan(&id); err != nil {
		t.Fatal(err)
	}
	if _, err := f.app.Exec(ctx, `INSERT INTO "chatRooms" ("name","matrixRoomId","eventId") VALUES ($1,$2,$3)`,
		"chat "+slug, roomID, id); err != nil {
		t.Fatal(err)
	}
	return slug
}

// refs counts the rows that point at roomID: events, chatRooms.
func (f *fixture) refs(t testing.TB, roomID string) (events, chats int) {
	t.Helper()
	ctx := ctxT(t)
	if err := f.app.QueryRow(ctx, `SELECT count(*) FROM "events" WHERE "matrixRoomId" = $1`, roomID).Scan(&events); err != nil {
		t.Fatal(err)
	}
	if err := f.app.QueryRow(ctx, `SELECT count(*) FROM "chatRooms" WHERE "matrixRoomId" = $1`, roomID).Scan(&chats); err != nil {
		t.Fatal(err)
	}
	return events, chats
}

// roomExists asks Synapse; an unexpected error fails the test.
func roomExists(t testing.TB, roomID string) bool {
	t.Helper()
	_, err := bed.Synapse.Client().Room(ctxT(t), roomID)
	switch {
	case err == nil:
		return true
	case errors.Is(err, synapse.ErrNotFound):
		return false
	}
	t.Fatalf("room %s: %v", roomID, err)
	return false
}

func candidateIDs(cs []rooms.Candidate) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.RoomID
	}
	slices.Sort(out)
	return out
}

func sorted(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

// fixedClock returns a Now that always answers t, so the cut-off does not
// move while a test runs.
func fixedClock(at time.Time) func() time.Time { return func() time.Time { return at } }
