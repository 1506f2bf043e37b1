package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"synops/ops"
	"synops/ops/config"
	"synops/ops/services"
	"synops/synapse"
	"synops/synapse/synapsetest"
)

// synctl is Synapse's own start/stop script, run from the test venv: the
// custom-command way of running Synapse, driving the bed's real process.
func synctlController(t *testing.T) *services.Controller {
	t.Helper()
	venv, err := synapsetest.FindVenv()
	if err != nil {
		t.Fatal(err)
	}
	py := filepath.Join(venv, "bin", "python")
	cfg := bed.Synapse.ConfigPath
	return &services.Controller{Services: config.Services{Kind: config.ServicesCustom,
		Start:  []string{py, "-m", "synapse._scripts.synctl", "start", cfg},
		Stop:   []string{py, "-m", "synapse._scripts.synctl", "stop", cfg},
		Status: []string{"pgrep", "-F", filepath.Join(bed.Synapse.Dir, "homeserver.pid")},
	}}
}

// handOverToSynctl stops the bed's Synapse and starts it with synctl, so
// the controller owns it; at the end the bed gets its Synapse back.
func handOverToSynctl(t *testing.T, ctl *services.Controller) {
	t.Helper()
	ctx := ctxT(t, 3*time.Minute)
	bed.Synapse.Stop()
	if err := ctl.Start(ctx, services.Synapse); err != nil {
		t.Fatalf("synctl start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if err := ctl.Stop(ctx, services.Synapse); err != nil {
			t.Errorf("synctl stop: %v", err)
		}
		if err := bed.Synapse.Restart(ctx); err != nil {
			t.Errorf("give the bed its Synapse back: %v", err)
		}
	})
	if err := waitFor(ctx, 2*time.Minute, "synapse", bed.Synapse.Client().Health); err != nil {
		t.Fatal(err)
	}
	if st, err := ctl.Status(ctx, services.Synapse); err != nil || !st.Running {
		t.Fatalf("status after synctl start: %+v, %v", st, err)
	}
}

// upload puts a file into the media repository as user and returns its
// media ID.
func upload(t *testing.T, token synapse.Secret, body string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, bed.Synapse.BaseURL+"/_matrix/media/v3/upload?filename=note.txt", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token.Reveal())
	req.Header.Set("Content-Type", "text/plain")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		ContentURI string `json:"content_uri"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("upload: HTTP %d %v", resp.StatusCode, err)
	}
	return out.ContentURI[strings.LastIndexByte(out.ContentURI, '/')+1:]
}

// download fetches a media ID; 404 is ("", false).
func download(t *testing.T, token synapse.Secret, mediaID string) (string, bool) {
	t.Helper()
	u := fmt.Sprintf("%s/_matrix/client/v1/media/download/%s/%s", bed.Synapse.BaseURL, url.PathEscape(bed.Synapse.ServerName), url.PathEscape(mediaID))
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Authorization", "Bearer "+token.Reveal())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	switch resp.StatusCode {
	case 200:
		return string(data), true
	case 404:
		return "", false
	}
	t.Fatalf("download %s: HTTP %d %s", mediaID, resp.StatusCode, data)
	return "", false
}

func roomIDs(t *testing.T) []string {
	t.Helper()
	rooms, err := bed.Synapse.Client().AllRooms(ctxT(t, time.Minute), synapse.ListRoomsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range rooms {
		ids = append(ids, r.RoomID)
	}
	slices.Sort(ids)
	return ids
}

func userExists(t *testing.T, id string) bool {
	t.Helper()
	_, err := bed.Synapse.Client().User(ctxT(t, time.Minute), id)
	if errors.Is(err, synapse.ErrNotFound) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}

// The round trip of the issue: create → verify → restore against the real
// Synapse and PostgreSQL. What was written after the backup is gone, what
// was there before is back, and the restored Synapse answers /health and
// the admin API with the same users and rooms. Synapse is stopped and
// started by the custom-command controller (synctl), the real process.
func TestCreateVerifyRestoreRoundTrip(t *testing.T) {
	ctx := ctxT(t, 10*time.Minute)
	ctl := synctlController(t)
	handOverToSynctl(t, ctl)
	s := bed.Synapse

	// Before the backup: a user, a room with messages, an upload.
	before, err := s.Register(ctx, "before-backup", false)
	if err != nil {
		t.Fatal(err)
	}
	beforeRoom, err := s.CreateRoom(ctx, synapsetest.RoomSpec{Name: "Before the backup", Members: []synapsetest.SeededUser{{UserID: before.UserID, Token: before.AccessToken}}, Messages: 3})
	if err != nil {
		t.Fatal(err)
	}
	beforeMedia := upload(t, before.AccessToken, "uploaded before the backup")
	uploadOneTimeKey(t, before.AccessToken, "AAAAAg")
	roomsAtBackup := roomIDs(t)

	f := newFixture(t)
	f.svc.Services = ctl
	res := f.create(t, CreateRequest{Verify: true})
	if !res.Entry.Verified() {
		t.Fatalf("backup not verified: %s %s\n%s", res.Entry.State, res.Entry.Problem, f.log.String())
	}
	if mp := res.Entry.Manifest.Part(PartMedia); mp == nil || mp.Files == 0 {
		t.Fatalf("media part %+v: want the upload in it", mp)
	}

	// After the backup: another user, room and upload.
	after, err := s.Register(ctx, "after-backup", false)
	if err != nil {
		t.Fatal(err)
	}
	afterRoom, err := s.CreateRoom(ctx, synapsetest.RoomSpec{Name: "After the backup", Messages: 2})
	if err != nil {
		t.Fatal(err)
	}
	afterMedia := upload(t, after.AccessToken, "uploaded after the backup")
	if !slices.Contains(roomIDs(t), afterRoom) {
		t.Fatal("the room made after the backup is not listed")
	}

	p, err := f.svc.PlanRestore(ctx, RestoreRequest{ID: res.Entry.ID, Media: true})
	if err != nil {
		t.Fatal(err)
	}
	plan := planText(p)
	t.Logf("plan:\n%s", plan)
	for _, want := range []string{"stop synapse (custom)", "safety backup", "template0", "restore backup " + res.Entry.ID, "verified", "everything written since the backup is lost", "wait for /health and the admin API"} {
		if !strings.Contains(plan, want) {
			t.Errorf("plan lacks %q", want)
		}
	}
	req := f.guard.Request(ctx, p)
	if req.NeedsWaiver() {
		t.Fatalf("a fresh verified backup exists, yet the restore asks for a waiver: %s", req.BackupNote)
	}
	if _, err := req.Approve("yes", time.Now()); !errors.Is(err, ops.ErrNotApproved) {
		t.Errorf("approving with the wrong phrase: %v", err)
	}
	ap, err := req.Approve(s.ServerName, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var stages []string
	rr, err := f.svc.ApplyRestore(ctx, p, ap, func(pr ops.Progress) { stages = append(stages, pr.Stage) })
	if err != nil {
		t.Fatalf("restore: %v\njob log:\n%s", err, f.log.String())
	}
	t.Logf("restore: %+v, stages %v", rr, stages)

	// The restored Synapse answers, with the users and rooms of the backup.
	if err := s.Client().Health(ctx); err != nil {
		t.Fatalf("/health after restore: %v", err)
	}
	if got := roomIDs(t); !slices.Equal(got, roomsAtBackup) {
		t.Errorf("rooms after restore:\n%v\nwant those at backup time:\n%v", got, roomsAtBackup)
	}
	if !slices.Contains(roomIDs(t), beforeRoom) || slices.Contains(roomIDs(t), afterRoom) {
		t.Errorf("want %s back and %s gone", beforeRoom, afterRoom)
	}
	if n := countOneTimeKeys(t); n != 0 {
		t.Errorf("%d one-time keys came back: the dump must leave their rows out", n)
	}
	if !userExists(t, before.UserID) {
		t.Errorf("%s, registered before the backup, is gone", before.UserID)
	}
	if userExists(t, after.UserID) {
		t.Errorf("%s, registered after the backup, survived the restore", after.UserID)
	}
	if body, ok := download(t, s.AdminToken, beforeMedia); !ok || body != "uploaded before the backup" {
		t.Errorf("media from before the backup: %q %v", body, ok)
	}
	if _, ok := download(t, s.AdminToken, afterMedia); ok {
		t.Errorf("media uploaded after the backup is still served")
	}
	// The database as it was is in the safety backup, and nothing else of it is left.
	safety, err := f.svc.Catalog.Get(ctx, rr.SafetyBackup)
	if err != nil || safety.Kind() != KindPreRestore || safety.State == Invalid {
		t.Fatalf("safety backup %s: %+v %v", rr.SafetyBackup, safety, err)
	}
	if got, was := safety.Manifest.Part(PartSynapseDB).Rows["users"], res.Entry.Manifest.Part(PartSynapseDB).Rows["users"]; got != was+1 {
		t.Errorf("safety backup has %d users, want the backup's %d plus the later one", got, was)
	}
	if got := databases(t, "_synops_old_"); len(got) != 0 {
		t.Errorf("the replaced database was not dropped: %v", got)
	}
	if len(rr.MediaAside) == 0 {
		t.Errorf("no media directory was kept aside")
	}
	for _, d := range rr.MediaAside {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("media kept aside at %s: %v", d, err)
		}
	}
	if a := auditActions(t, f.auditPath); !strings.Contains(a, "backup.restore start") || !strings.Contains(a, "backup.restore end ok") {
		t.Errorf("audit log:\n%s", a)
	}
}

func planText(p *ops.Plan) string {
	var b bytes.Buffer
	for _, s := range p.Steps {
		fmt.Fprintf(&b, "- %s [%s]\n", s.Title, s.Risk)
	}
	for _, l := range p.Impact {
		fmt.Fprintf(&b, "· %s\n", l)
	}
	return b.String()
}

// uploadOneTimeKey gives user's device a one-time key: a row in
// e2e_one_time_keys_json.
func uploadOneTimeKey(t *testing.T, token synapse.Secret, id string) {
	t.Helper()
	body := fmt.Sprintf(`{"one_time_keys":{"curve25519:%s":"dGhpcyBpcyBub3QgYSByZWFsIGtleSBidXQgaXQgaXMgZmluZQ"}}`, id)
	req, _ := http.NewRequest(http.MethodPost, bed.Synapse.BaseURL+"/_matrix/client/v3/keys/upload", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token.Reveal())
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		data, _ := io.ReadAll(resp.Body)
		t.Fatalf("keys/upload: HTTP %d %s", resp.StatusCode, data)
	}
}

func countOneTimeKeys(t *testing.T) int64 {
	t.Helper()
	ctx := ctxT(t, time.Minute)
	cn, err := pgx.Connect(ctx, bed.SynapseDB)
	if err != nil {
		t.Fatal(err)
	}
	defer cn.Close(ctx)
	var n int64
	if err := cn.QueryRow(ctx, "SELECT count(*) FROM "+oneTimeKeys).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A dump that carries one-time keys (one not made by synops) has them
// emptied by the restore: handed out a second time they would break
// encrypted sessions.
func TestRestoreEmptiesOneTimeKeysTheDumpHad(t *testing.T) {
	ctx := ctxT(t, 10*time.Minute)
	ctl := synctlController(t)
	handOverToSynctl(t, ctl)
	u, err := bed.Synapse.Register(ctx, "otk-holder", false)
	if err != nil {
		t.Fatal(err)
	}
	uploadOneTimeKey(t, u.AccessToken, "AAAAAQ")
	if n := countOneTimeKeys(t); n == 0 {
		t.Fatal("the upload left no one-time key")
	}
	f := newFixture(t)
	f.svc.Services, f.svc.keepOneTimeKeys = ctl, true
	res := f.create(t, CreateRequest{Verify: true, Media: config.MediaNone})
	if !res.Entry.Verified() || slices.Contains(res.Entry.Manifest.Part(PartSynapseDB).DataExcluded, oneTimeKeys) {
		t.Fatalf("backup with one-time keys: %+v", res.Entry)
	}
	p, err := f.svc.PlanRestore(ctx, RestoreRequest{ID: res.Entry.ID})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(planText(p), "empty "+oneTimeKeys) {
		t.Errorf("the plan does not say the one-time keys are emptied:\n%s", planText(p))
	}
	a, err := f.guard.Request(ctx, p).Approve(bed.Synapse.ServerName, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	rr, err := f.svc.ApplyRestore(ctx, p, a, nil)
	if err != nil {
		t.Fatalf("restore: %v\n%s", err, f.log.String())
	}
	if rr.OneTimeKeys == 0 || countOneTimeKeys(t) != 0 {
		t.Errorf("cleared %d, %d left; want all gone", rr.OneTimeKeys, countOneTimeKeys(t))
	}
}

// A restore is refused in read-only mode, without the typed server name,
// and without a fresh verified backup unless the waiver is given; a refused
// restore stops nothing and takes no safety backup.
func TestRestoreRefusals(t *testing.T) {
	ctx := ctxT(t, 5*time.Minute)
	f := newFixture(t)
	f.svc.Services = synctlController(t) // never run: every attempt is refused
	res := f.create(t, CreateRequest{Verify: true, Media: config.MediaNone})
	plan := func() *ops.Plan {
		p, err := f.svc.PlanRestore(ctx, RestoreRequest{ID: res.Entry.ID})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	refused := func(name string, err, want error) {
		t.Helper()
		if !errors.Is(err, want) {
			t.Errorf("%s: got %v, want %v", name, err, want)
		}
		if list, _ := f.svc.Catalog.List(ctx); len(list) != 1 {
			t.Errorf("%s: a refused restore added to the catalog: %d entries", name, len(list))
		}
		if err := bed.Synapse.Client().Health(ctx); err != nil {
			t.Errorf("%s: Synapse is down after a refused restore: %v", name, err)
		}
	}
	p := plan()
	_, err := f.svc.ApplyRestore(ctx, p, ops.Approval{}, nil)
	refused("no approval", err, ops.ErrNotApproved)

	f.guard.ReadOnly = true
	p = plan()
	a, _ := ops.Approve(p, bed.Synapse.ServerName, time.Now())
	_, err = f.svc.ApplyRestore(ctx, p, a, nil)
	refused("read-only", err, ops.ErrReadOnly)
	f.guard.ReadOnly = false

	f.guard.Now = func() time.Time { return time.Now().Add(2 * time.Hour) } // FreshWithin is 1h
	p = plan()
	req := f.guard.Request(ctx, p)
	if !req.NeedsWaiver() {
		t.Fatalf("a stale backup does not ask for the waiver: %s", req.BackupNote)
	}
	a, _ = ops.Approve(p, bed.Synapse.ServerName, time.Now())
	_, err = f.svc.ApplyRestore(ctx, p, a, nil)
	refused("stale backup", err, ops.ErrNoBackup)
}
