package tokens

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"synops/ops"
	"synops/ops/audit"
	"synops/ops/config"
	"synops/synapse"
	"synops/synapse/synapsetest"
)

// TestRotateAndFinish is the whole rotation on the real Synapse: the new
// token works as an admin's, is in every file (atomically replaced, mode
// 0600 at most, the rest of the env file kept, the old file backed up) and
// was what the application's check saw; the old token works until the
// final step and is rejected after it; no token is in the audit log or the
// history.
func TestRotateAndFinish(t *testing.T) {
	f := newFixture(t, "rot_old_ok", true)
	ctx := context.Background()
	envInode := inode(t, f.envFile)

	p, rot, err := f.rotate(RotateRequest{NewAdmin: "rot_new_ok"}, nil)
	if err != nil {
		t.Fatalf("ApplyRotate: %v\nprogress:\n%s", err, strings.Join(f.progress, "\n"))
	}
	newAdmin := "@rot_new_ok:" + bed.Synapse.ServerName

	// The plan named what the issue asks for.
	plan := strings.Join(append(stepTitles(p), p.Impact...), "\n")
	for _, want := range []string{
		"admin in use: " + f.oldAdmin, f.old.Hint(), "days old", "new admin: " + newAdmin,
		"env file " + f.envFile + " (MATRIX_ADMIN_TOKEN)", "file " + f.secret, "synops' own token file",
		"command " + os.Args[0] + " …", "redeploy: " + os.Args[0], "$MATRIX_ADMIN_TOKEN",
		".synops-bak-", "synops tokens finish", "typing " + f.oldAdmin,
	} {
		if !strings.Contains(plan, want) {
			t.Errorf("the plan does not say %q:\n%s", want, plan)
		}
	}
	if p.Target != bed.Synapse.ServerName {
		t.Errorf("plan target = %q, want the server name", p.Target)
	}

	// The new token, read from the file the application reads, is an admin's.
	newTok := synapse.NewSecret(strings.TrimSpace(read(t, f.secret)))
	works(t, newTok, newAdmin)
	if rot.NewAdmin != newAdmin || rot.Phase != Rotated || rot.NewHint != newTok.Hint() {
		t.Errorf("rotation = %+v", rot)
	}
	// Every place holds it.
	if got := strings.TrimSpace(read(t, f.own)); got != newTok.Reveal() {
		t.Errorf("synops' own token file holds %s, want the new token", synapse.NewSecret(got).Hint())
	}
	if got := read(t, filepath.Join(f.dir, "store.secret")); strings.TrimSpace(got) != newTok.Reveal() {
		t.Errorf("the store command got %s on stdin, want the new token", synapse.NewSecret(got).Hint())
	}
	wantEnv := fmt.Sprintf(envBefore, newTok.Reveal())
	if got := read(t, f.envFile); got != wantEnv {
		t.Errorf("env file =\n%q\nwant every other line kept, export and quotes and CRLF too:\n%q", got, wantEnv)
	}
	for _, file := range []string{f.envFile, f.secret, f.own} {
		if mode := mustStat(t, file).Mode().Perm(); mode&0o177 != 0 {
			t.Errorf("%s has mode %04o, want 0600 at most", file, mode)
		}
	}
	if mode := mustStat(t, f.envFile).Mode().Perm(); mode != 0o600 {
		t.Errorf("env file mode %04o, want its 0640 capped to 0600", mode)
	}
	// Replaced by a rename, not rewritten in place: a reader saw the old
	// file or the new one, never half of one.
	if inode(t, f.envFile) == envInode {
		t.Error("the env file kept its inode: it was rewritten in place, not replaced atomically")
	}
	backups, _ := filepath.Glob(f.envFile + ".synops-bak-*")
	if len(backups) != 1 {
		t.Fatalf("env file backups: %v, want one", backups)
	}
	if !strings.Contains(plan, backups[0]) {
		t.Errorf("the backup %s is not the one the plan named", backups[0])
	}
	if got := read(t, backups[0]); got != fmt.Sprintf(envBefore, f.old.Reveal()) {
		t.Errorf("the backup does not hold the previous env file")
	}
	if mode := mustStat(t, backups[0]).Mode().Perm(); mode != 0o600 {
		t.Errorf("backup mode %04o, want 0600", mode)
	}

	// The application's check ran with the new token and saw an admin; the
	// redeploy ran after the env file was written and did not inherit
	// synops' own (old) token.
	check := read(t, filepath.Join(f.dir, "check.log"))
	if want := "check token=" + hash(newTok.Reveal()) + " user=" + newAdmin; !strings.Contains(check, want) {
		t.Errorf("check.log = %q, want %q", check, want)
	}
	redeploy := read(t, filepath.Join(f.dir, "redeploy.log"))
	if want := "redeploy inherited-token=false env-file=" + hash(wantEnv); !strings.Contains(redeploy, want) {
		t.Errorf("redeploy.log = %q, want %q", redeploy, want)
	}

	// Until the final step the old token still works.
	works(t, f.old, f.oldAdmin)

	// No second rotation while this one is open: its old token would stay
	// valid with nothing left to log it out.
	if _, err := f.svc.PlanRotate(ctx, RotateRequest{NewAdmin: "rot_new_ok2"}); err == nil || !strings.Contains(err.Error(), "synops tokens finish") {
		t.Errorf("a second rotation before finishing: %v, want a refusal", err)
	}
	// Finish refuses while synops itself holds the old token.
	if _, err := f.svc.PlanFinish(ctx, FinishRequest{DeactivateOld: true}); err == nil || !strings.Contains(err.Error(), "synops itself still uses") {
		t.Fatalf("PlanFinish with synops on the old token: %v, want a refusal", err)
	}
	// synops started again reads the new token from its file.
	f.svc = f.service(newTok, f.svc.Config)
	fp, err := f.svc.PlanFinish(ctx, FinishRequest{DeactivateOld: true})
	if err != nil {
		t.Fatalf("PlanFinish: %v", err)
	}
	if fp.Target != f.oldAdmin || fp.Risk() != ops.Irreversible {
		t.Errorf("finish plan: target %q risk %s, want %s and irreversible", fp.Target, fp.Risk(), f.oldAdmin)
	}
	if _, err := ops.Approve(fp, bed.Synapse.ServerName, time.Now()); err == nil {
		t.Error("the finish plan was approved with the server name; it needs the old admin's ID")
	}
	a, err := ops.Approve(fp, f.oldAdmin, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	res, err := f.svc.ApplyFinish(ctx, fp, a, f.onProgress)
	if err != nil {
		t.Fatalf("ApplyFinish: %v", err)
	}
	if !res.LoggedOut || res.Deactivated != f.oldAdmin {
		t.Errorf("finish result %+v", res)
	}
	rejected(t, f.old)
	works(t, newTok, newAdmin)
	if !deactivated(t, f.oldAdmin) {
		t.Errorf("%s is not deactivated", f.oldAdmin)
	}
	if deactivated(t, newAdmin) {
		t.Errorf("the new admin %s was deactivated", newAdmin)
	}
	latest, err := f.svc.History.Latest(bed.Synapse.ServerName)
	if err != nil || latest.ID != rot.ID || latest.Phase != Finished || latest.KeptOld != "" {
		t.Errorf("history: %+v, %v", latest, err)
	}
	if _, err := os.Stat(rot.KeptOld); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the kept old token %s is still there (%v)", rot.KeptOld, err)
	}
	// The age is now known exactly, from the record.
	if age := f.svc.Age(ctx); age.Status != AgeOK || age.Bound != "" || !strings.Contains(age.Source, "rotated by synops") {
		t.Errorf("age after rotation = %+v", age)
	}

	// Nothing a person or a log reader sees holds a token.
	entries, err := audit.Read(f.auditPath)
	if err != nil {
		t.Fatal(err)
	}
	if !hasEntry(entries, KindRotate, "end", "ok") || !hasEntry(entries, KindFinish, "end", "ok") {
		t.Errorf("audit log lacks the rotate and finish end lines: %+v", entries)
	}
	f.debug.Info("finish", "plan", fp, "result", res, "status", must(f.svc.Status(ctx)))
	noSecrets(t, []synapse.Secret{f.old, newTok}, []string{f.auditPath, f.history, f.debugPath, filepath.Join(f.dir, "check.log"), filepath.Join(f.dir, "redeploy.log")},
		strings.Join(f.progress, "\n"), strings.Join(stepTitles(p), "\n"), strings.Join(p.Impact, "\n"), string(p.Params))
}

// TestRotateFailures injects a real failure at each step after the new admin
// exists and checks that the old token stays valid and in place (every file
// byte for byte as before), the new admin is removed, and the error says
// what happened.
func TestRotateFailures(t *testing.T) {
	tests := []struct {
		name     string
		step     string // the step that fails
		inject   func(t *testing.T, f *fixture, p *ops.Plan)
		checkRan bool // the check saw the new token before failing
	}{
		{"state directory unwritable: the old token cannot be kept", "keep the old token", func(t *testing.T, f *fixture, _ *ops.Plan) {
			kept := filepath.Join(f.dir, "state", "tokens")
			if err := os.MkdirAll(kept, 0o700); err != nil {
				t.Fatal(err)
			}
			unwritable(t, kept)
		}, false},
		{"registration refused: the shared secret changed", "create the new admin's token", func(t *testing.T, f *fixture, _ *ops.Plan) {
			f.svc.SharedSecret = synapse.NewSecret("not-the-secret-in-homeserver-yaml")
		}, false},
		{"env file directory unwritable", "write the new token to env file", func(t *testing.T, f *fixture, _ *ops.Plan) {
			unwritable(t, filepath.Dir(f.envFile))
		}, false},
		{"secret file directory unwritable after the env file was written", "write the new token to file", func(t *testing.T, f *fixture, _ *ops.Plan) {
			unwritable(t, filepath.Dir(f.secret))
		}, false},
		{"store command fails", "write the new token to command", func(t *testing.T, f *fixture, _ *ops.Plan) {
			write(t, filepath.Join(f.dir, "store.fail-once"), "", 0o600)
		}, false},
		{"redeploy fails", "redeploy", func(t *testing.T, f *fixture, _ *ops.Plan) {
			write(t, filepath.Join(f.dir, "redeploy.fail-once"), "", 0o600)
		}, false},
		{"check exits 1", "the application's check", func(t *testing.T, f *fixture, _ *ops.Plan) {
			write(t, filepath.Join(f.dir, "check.fail"), "", 0o600)
		}, true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, fmt.Sprintf("rot_old_f%d", i), true)
			before := snapshot(t, f)
			newLocal := fmt.Sprintf("rot_new_f%d", i)
			ctx := context.Background()
			p, err := f.svc.PlanRotate(ctx, RotateRequest{NewAdmin: newLocal})
			if err != nil {
				t.Fatal(err)
			}
			tt.inject(t, f, p)
			a, _ := ops.Approve(p, bed.Synapse.ServerName, time.Now())
			rot, err := f.svc.ApplyRotate(ctx, p, a, f.onProgress)
			f.debug.Error("rotate", "plan", p, "rotation", rot, "err", err)
			var se *StepError
			if !errors.As(err, &se) {
				t.Fatalf("ApplyRotate = %v, want a *StepError", err)
			}
			t.Logf("error: %v", err)
			if !strings.HasPrefix(se.Step, tt.step) || !se.RolledBack {
				t.Errorf("failed step %q rolled back %v, want %q rolled back", se.Step, se.RolledBack, tt.step)
			}
			if !strings.Contains(err.Error(), "rolled back: the old token "+f.old.Hint()+" is in use and valid") {
				t.Errorf("the error does not say the old token is in use: %v", err)
			}
			works(t, f.old, f.oldAdmin)
			if after := snapshot(t, f); after != before {
				t.Errorf("the files changed:\nbefore %s\nafter  %s", before, after)
			}
			newAdmin := "@" + newLocal + ":" + bed.Synapse.ServerName
			if _, err := bed.Synapse.Client().User(ctx, newAdmin); errors.Is(err, synapse.ErrNotFound) {
				if se.Step != "keep the old token" && se.Step != "create the new admin's token" {
					t.Errorf("the new admin %s was never created, yet the failure was at %q", newAdmin, se.Step)
				}
			} else if !deactivated(t, newAdmin) {
				t.Errorf("the new admin %s is still active after the rollback", newAdmin)
			}
			if rot.Phase != RolledBack || rot.KeptOld != "" {
				t.Errorf("rotation phase %s kept %q, want rolled back with no kept token", rot.Phase, rot.KeptOld)
			}
			left, _ := filepath.Glob(filepath.Join(f.dir, "*", "*.synops-*"))
			if len(left) > 0 {
				t.Errorf("left behind: %v", left)
			}
			check, _ := os.ReadFile(filepath.Join(f.dir, "check.log"))
			if got := strings.Contains(string(check), "check token="); got != tt.checkRan {
				t.Errorf("the check ran: %v, want %v (%s)", got, tt.checkRan, check)
			}
			if tt.checkRan && !strings.Contains(err.Error(), "check failed for token [redacted]") {
				t.Errorf("the error does not show the check's stderr with its token scrubbed: %v", err)
			}
			// The plan is not left to a second Apply.
			if _, err := f.svc.PlanFinish(ctx, FinishRequest{}); !errors.Is(err, ErrNoRotation) {
				t.Errorf("PlanFinish after a rollback = %v, want ErrNoRotation", err)
			}
			entries, _ := audit.Read(f.auditPath)
			if !hasEntry(entries, KindRotate, "end", "failed") {
				t.Errorf("no failed end line in the audit log: %+v", entries)
			}
			noSecrets(t, []synapse.Secret{f.old}, []string{f.auditPath, f.history, f.debugPath}, err.Error(), strings.Join(f.progress, "\n"))
			if tt.checkRan {
				// The check saw the new token: its hash is in check.log.
				// Nothing else may hold it, even scrubbed of its prefix.
				logged, _ := os.ReadFile(f.debugPath)
				if strings.Contains(string(logged), "check failed for token syt_") {
					t.Error("the debug log holds the check's stderr with the token")
				}
			}
		})
	}
}

// TestRotateSynapseStopsMidway stops the real Synapse once the new admin is
// registered: the verification fails, the new admin cannot be removed, and
// nothing was written. After Synapse is back the old token still works, and
// Rollback removes the new admin with the kept old token.
func TestRotateSynapseStopsMidway(t *testing.T) {
	f := newFixture(t, "rot_old_down", false)
	before := snapshot(t, f)
	stopped := false
	_, rot, err := f.rotate(RotateRequest{NewAdmin: "rot_new_down"}, func(p ops.Progress) {
		f.onProgress(p)
		if p.Item == "verify the new token" && p.Stage == "running" && !stopped {
			stopped = true
			bed.Synapse.Stop()
		}
	})
	restart := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if err := bed.Synapse.Restart(ctx); err != nil {
			t.Fatalf("restart Synapse: %v", err)
		}
	}
	if !stopped {
		t.Fatalf("the verify step never ran: %v", err)
	}
	restart()
	var se *StepError
	if !errors.As(err, &se) || se.RolledBack || se.Step != "verify the new token" {
		t.Fatalf("ApplyRotate = %v, want an incomplete rollback at the verification", err)
	}
	if !strings.Contains(err.Error(), "synops tokens rollback") {
		t.Errorf("the error does not say how to finish the rollback: %v", err)
	}
	if rot.Phase != RollbackIncomplete {
		t.Errorf("phase %s, want %s", rot.Phase, RollbackIncomplete)
	}
	works(t, f.old, f.oldAdmin)
	if after := snapshot(t, f); after != before {
		t.Errorf("the files changed:\nbefore %s\nafter  %s", before, after)
	}
	newAdmin := "@rot_new_down:" + bed.Synapse.ServerName
	if deactivated(t, newAdmin) {
		t.Fatalf("%s is already deactivated: the test did not stop Synapse in time", newAdmin)
	}
	// Status tells what to do; Rollback does it.
	st, err := f.svc.Status(context.Background())
	if err != nil || !strings.Contains(st.Next, "synops tokens rollback") {
		t.Errorf("status next = %q, %v", st.Next, err)
	}
	rp, err := f.svc.PlanRollback(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rp.Target != newAdmin {
		t.Errorf("rollback target %q, want the new admin %s", rp.Target, newAdmin)
	}
	a, _ := ops.Approve(rp, newAdmin, time.Now())
	if _, err := f.svc.ApplyRollback(context.Background(), rp, a, nil); err != nil {
		t.Fatalf("ApplyRollback: %v", err)
	}
	if !deactivated(t, newAdmin) {
		t.Errorf("%s is still active after the rollback", newAdmin)
	}
	works(t, f.old, f.oldAdmin)
	latest, _ := f.svc.History.Latest(bed.Synapse.ServerName)
	if latest.Phase != RolledBack {
		t.Errorf("phase %s after the rollback", latest.Phase)
	}
}

// TestRollbackAfterSuccess undoes a rotation that worked, before Finish:
// the old token back in every file, the redeploy run again, the new admin
// deactivated.
func TestRollbackAfterSuccess(t *testing.T) {
	f := newFixture(t, "rot_old_rb", true)
	before := snapshot(t, f)
	_, rot, err := f.rotate(RotateRequest{NewAdmin: "rot_new_rb"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p, err := f.svc.PlanRollback(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := ops.Approve(p, rot.NewAdmin, time.Now())
	if _, err := f.svc.ApplyRollback(ctx, p, a, nil); err != nil {
		t.Fatalf("ApplyRollback: %v", err)
	}
	if after := snapshot(t, f); after != before {
		t.Errorf("the files are not as before:\nbefore %s\nafter  %s", before, after)
	}
	if got := strings.TrimSpace(read(t, filepath.Join(f.dir, "store.secret"))); got != f.old.Reveal() {
		t.Errorf("the store command was not given the old token back")
	}
	if n := strings.Count(read(t, filepath.Join(f.dir, "redeploy.log")), "redeploy"); n != 2 {
		t.Errorf("redeploy ran %d times, want 2 (rotation and rollback)", n)
	}
	works(t, f.old, f.oldAdmin)
	if !deactivated(t, rot.NewAdmin) {
		t.Errorf("%s is still active", rot.NewAdmin)
	}
}

// TestRotateByLogin: without the shared secret, an existing admin logs in
// on a new device; finish logs the old device out and refuses to
// deactivate the admin now in use.
func TestRotateByLogin(t *testing.T) {
	f := newFixture(t, "rot_login", false)
	f.svc.SharedSecret = synapse.Secret{}
	ctx := context.Background()
	if _, err := f.svc.PlanRotate(ctx, RotateRequest{}); err == nil || !strings.Contains(err.Error(), "--login-as") {
		t.Fatalf("PlanRotate without a secret or a login = %v, want advice", err)
	}
	p, rot, err := f.rotate(RotateRequest{LoginAs: f.oldAdmin, Password: synapsetest.Password("rot_login")}, nil)
	if err != nil {
		t.Fatalf("ApplyRotate: %v", err)
	}
	if !strings.Contains(strings.Join(stepTitles(p), "\n"), "log in as "+f.oldAdmin+" on a new device SYNOPS_") {
		t.Errorf("steps: %v", stepTitles(p))
	}
	if strings.Contains(string(p.Params), "pw-rot_login") {
		t.Error("the plan carries the password")
	}
	newTok := synapse.NewSecret(strings.TrimSpace(read(t, f.own)))
	works(t, newTok, f.oldAdmin)
	works(t, f.old, f.oldAdmin)
	if rot.NewDevice == "" || rot.NewDevice == rot.OldDevice {
		t.Errorf("new device %q, old %q", rot.NewDevice, rot.OldDevice)
	}
	f.svc = f.service(newTok, f.svc.Config)
	if _, err := f.svc.PlanFinish(ctx, FinishRequest{DeactivateOld: true}); err == nil || !strings.Contains(err.Error(), "admin now in use") {
		t.Fatalf("PlanFinish deactivating the admin in use = %v, want a refusal", err)
	}
	fp, err := f.svc.PlanFinish(ctx, FinishRequest{})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := ops.Approve(fp, f.oldAdmin, time.Now())
	if _, err := f.svc.ApplyFinish(ctx, fp, a, nil); err != nil {
		t.Fatal(err)
	}
	rejected(t, f.old)
	works(t, newTok, f.oldAdmin)
}

// TestDefaultAdminName: admin_<year>_<month>, and the next free one when taken.
func TestDefaultAdminName(t *testing.T) {
	f := newFixture(t, "rot_name", false)
	f.svc.Now = func() time.Time { return time.Date(2031, 7, 3, 0, 0, 0, 0, time.UTC) }
	p, err := f.svc.PlanRotate(context.Background(), RotateRequest{})
	if err != nil {
		t.Fatal(err)
	}
	rp, _ := Params(p)
	if want := "@admin_2031_07:" + bed.Synapse.ServerName; rp.NewAdmin != want {
		t.Errorf("new admin %s, want %s", rp.NewAdmin, want)
	}
	if _, err := bed.Synapse.Register(context.Background(), "admin_2031_07", false); err != nil {
		t.Fatal(err)
	}
	p, err = f.svc.PlanRotate(context.Background(), RotateRequest{})
	if err != nil {
		t.Fatal(err)
	}
	rp, _ = Params(p)
	if want := "@admin_2031_07_2:" + bed.Synapse.ServerName; rp.NewAdmin != want {
		t.Errorf("new admin %s once the first is taken, want %s", rp.NewAdmin, want)
	}
	if _, err := f.svc.PlanRotate(context.Background(), RotateRequest{NewAdmin: "admin_2031_07"}); err == nil || !strings.Contains(err.Error(), "exists already") {
		t.Errorf("asking for a taken name = %v", err)
	}
}

// TestPlanRefusesNowhere: with no file or command to write to, the new
// token would be lost when synops exits.
func TestPlanRefusesNowhere(t *testing.T) {
	f := newFixture(t, "rot_nowhere", false)
	f.svc.Own = config.TokenSource{Env: "MATRIX_ADMIN_TOKEN"}
	f.svc.Config.WriteTo = nil
	if _, err := f.svc.PlanRotate(context.Background(), RotateRequest{NewAdmin: "rot_nowhere_new"}); err == nil || !strings.Contains(err.Error(), "nowhere to write the new token") {
		t.Fatalf("PlanRotate = %v, want a refusal", err)
	}
}

// TestPlanRefusesUnwritableTarget: a target synops cannot write stops the
// plan, before anything is created.
func TestPlanRefusesUnwritableTarget(t *testing.T) {
	f := newFixture(t, "rot_plan_ro", false)
	unwritable(t, filepath.Dir(f.secret))
	_, err := f.svc.PlanRotate(context.Background(), RotateRequest{NewAdmin: "rot_never"})
	if err == nil || !strings.Contains(err.Error(), "cannot create files in "+filepath.Dir(f.secret)) {
		t.Fatalf("PlanRotate = %v, want a refusal naming the directory", err)
	}
	if _, err := bed.Synapse.Client().User(context.Background(), "@rot_never:"+bed.Synapse.ServerName); !errors.Is(err, synapse.ErrNotFound) {
		t.Errorf("the new admin exists after a refused plan: %v", err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func stepTitles(p *ops.Plan) []string {
	out := make([]string, len(p.Steps))
	for i, s := range p.Steps {
		out[i] = s.Title
	}
	return out
}

func hasEntry(entries []audit.Entry, action, phase, outcome string) bool {
	for _, e := range entries {
		if e.Action == action && e.Phase == phase && e.Outcome == outcome {
			return true
		}
	}
	return false
}

func mustStat(t *testing.T, p string) os.FileInfo {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi
}

func inode(t *testing.T, p string) uint64 {
	return mustStat(t, p).Sys().(*syscall.Stat_t).Ino
}

// snapshot is every file of the application and synops with its mode.
func snapshot(t *testing.T, f *fixture) string {
	t.Helper()
	var b strings.Builder
	for _, p := range []string{f.envFile, f.secret, f.own} {
		fmt.Fprintf(&b, "%s %04o %s; ", filepath.Base(p), mustStat(t, p).Mode().Perm(), hash(read(t, p)))
	}
	return b.String()
}
