package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"synops/ops"
	"synops/ops/config"
)

// killChild kills this process's child named comm (a direct child: Exec
// starts programs in their own group but as our children).
func killChild(t testing.TB, comm string) bool {
	t.Helper()
	procs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range procs {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		s := string(data)
		open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || close < 0 || s[open+1:close] != comm {
			continue
		}
		fields := strings.Fields(s[close+2:])
		if ppid, _ := strconv.Atoi(fields[1]); ppid != os.Getpid() {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		if err := syscall.Kill(pid, syscall.SIGKILL); err == nil {
			return true
		}
	}
	return false
}

// entries is the catalog as a list of IDs, and whatever else the backup
// directory holds (a partial entry, an unpacked dump).
func entries(t testing.TB, c *Catalog) (ids []string, other []string) {
	t.Helper()
	list, err := c.List(ctxT(t, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range list {
		ids = append(ids, e.ID)
	}
	des, _ := os.ReadDir(c.Dir)
	for _, de := range des {
		if !ValidID(de.Name()) {
			other = append(other, de.Name())
		}
	}
	return ids, other
}

// mustStillVerify restore-tests each earlier entry again.
func mustStillVerify(t *testing.T, f *fixture, ids ...string) {
	t.Helper()
	for _, id := range ids {
		res, err := f.verify(t, id)
		if err != nil || !res.Passed {
			t.Errorf("earlier backup %s no longer verifies: %v\n%s", id, err, f.log.String())
		}
	}
}

func TestDumpKilledMidwayLeavesNoEntry(t *testing.T) {
	f := newFixture(t)
	f.svc.AppDB = config.DSN{}
	earlier := f.create(t, CreateRequest{Verify: true}).Entry

	// A database big enough that pg_dump is still writing when it dies.
	dsn, size := genDB(t, 120000)
	t.Logf("generated database: %s", textBytes(size))
	f.svc.SynapseDB = config.NewDSN(dsn)
	ctx := ctxT(t, 5*time.Minute)
	p, err := f.svc.PlanCreate(ctx, CreateRequest{Media: config.MediaNone})
	if err != nil {
		t.Fatal(err)
	}
	killed := false
	var at int64
	_, err = f.svc.ApplyCreate(ctx, p, ops.Approval{}, func(pr ops.Progress) {
		if pr.Item == PartSynapseDB && pr.Stage == "dumping" && pr.Bytes > 1<<20 && !killed {
			killed, at = killChild(t, "pg_dump"), pr.Bytes
		}
	})
	if !killed {
		t.Fatal("pg_dump was not found to kill")
	}
	t.Logf("killed pg_dump after %s; error: %v", textBytes(at), err)
	var ee interface{ Error() string }
	if err == nil || !errors.As(err, &ee) || !strings.Contains(err.Error(), "pg_dump") {
		t.Fatalf("got %v, want the killed pg_dump's failure", err)
	}
	ids, other := entries(t, f.svc.Catalog)
	if len(ids) != 1 || ids[0] != earlier.ID || len(other) != 0 {
		t.Errorf("catalog %v, other files %v; want only %s", ids, other, earlier.ID)
	}
	if a := auditActions(t, f.auditPath); !strings.Contains(a, "backup.create end failed") {
		t.Errorf("audit log does not record the failure:\n%s", a)
	}
	f.svc.SynapseDB = config.NewDSN(bed.SynapseDB)
	mustStillVerify(t, f, earlier.ID)
}

// mountSmall mounts a tmpfs of size bytes at a new directory.
func mountSmall(t *testing.T, size int) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d,mode=0700", size), "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount a small tmpfs for the disk-full test (needs root, as make test runs in CI): %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", dir).Run() })
	return dir
}

// fill writes a file until the filesystem is full, then frees leave bytes.
func fill(t *testing.T, dir string, leave int64) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	var n int64
	for {
		m, err := f.Write(buf)
		n += int64(m)
		if errors.Is(err, syscall.ENOSPC) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Truncate(max(n-leave, 0)); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDiskFullLeavesNoEntry(t *testing.T) {
	f := newFixture(t)
	dir := mountSmall(t, 16<<20)
	f.svc.Catalog.Dir = filepath.Join(dir, "backups")
	earlier := f.create(t, CreateRequest{Verify: true}).Entry
	t.Logf("earlier backup: %s", textBytes(earlier.Size()))

	filler := fill(t, dir, 24<<10) // less than one dump
	ctx := ctxT(t, 5*time.Minute)
	p, err := f.svc.PlanCreate(ctx, CreateRequest{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.ApplyCreate(ctx, p, ops.Approval{}, nil)
	t.Logf("error: %v", err)
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "is full") || !strings.Contains(err.Error(), "earlier backups are untouched") {
		t.Fatalf("got %v, want ENOSPC said plainly", err)
	}
	ids, other := entries(t, f.svc.Catalog)
	if len(ids) != 1 || ids[0] != earlier.ID || len(other) != 0 {
		t.Errorf("catalog %v, other files %v; want only %s", ids, other, earlier.ID)
	}
	// The operator frees space; the earlier backup verifies as before.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	mustStillVerify(t, f, earlier.ID)
}

// One byte changed in the dump: the catalog stops counting the backup, and
// its verification fails on the checksum before any restore starts.
func TestAlteredDumpFailsVerificationBeforeRestore(t *testing.T) {
	f := newFixture(t)
	e := f.create(t, CreateRequest{Verify: true}).Entry
	path := filepath.Join(e.Dir, e.Manifest.Part(PartSynapseDB).File)
	flipByte(t, path, e.Manifest.Part(PartSynapseDB).Size/2)

	ctx := ctxT(t, time.Minute)
	if _, id, err := f.svc.Catalog.NewestVerified(ctx); err != nil || id != "" {
		t.Errorf("NewestVerified = %q, %v after the dump changed; want none", id, err)
	}
	if ok, note := f.guard.BackupState(ctx, &ops.Plan{LosesData: true}); ok {
		t.Errorf("the gate is open with an altered dump: %s", note)
	}
	logBefore := len(f.log.String())
	res, err := f.verify(t, e.ID)
	if !errors.Is(err, ErrVerifyFailed) || res == nil || res.Passed {
		t.Fatalf("got %+v, %v; want a failed verification", res, err)
	}
	if !strings.Contains(err.Error(), "does not match its checksum") {
		t.Errorf("error %q should say the checksum is wrong", err)
	}
	if after := f.log.String()[logBefore:]; strings.Contains(after, "pg_restore") || strings.Contains(after, "psql") {
		t.Errorf("a restore ran for an altered dump:\n%s", after)
	}
	if got := databases(t, "synops_verify"); len(got) != 0 {
		t.Errorf("scratch databases: %v", got)
	}
	got, err := f.svc.Catalog.Get(ctx, e.ID)
	if err != nil || got.Manifest.Verification.State != Failed || got.State != Invalid {
		t.Errorf("entry after: state %s, manifest %s (%v); want the failure recorded", got.State, got.Manifest.Verification.State, err)
	}
	f.svc.Services = synctlController(t)
	if _, err := f.svc.PlanRestore(ctx, RestoreRequest{ID: e.ID}); err == nil || !strings.Contains(err.Error(), "not trusted") {
		t.Error("a restore from the altered backup was planned")
	}
}

func flipByte(t *testing.T, path string, at int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, at); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x01
	if _, err := f.WriteAt(b, at); err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, f)
}

// Synapse's background updates drop their work tables while a dump may be
// starting: pg_dump then fails to lock a table its snapshot still lists.
// The backup takes a new snapshot and succeeds.
func TestDumpRetriesWhenATableGoesAway(t *testing.T) {
	ctx := ctxT(t, 3*time.Minute)
	cn, err := pgx.Connect(ctx, bed.SynapseDB)
	if err != nil {
		t.Fatal(err)
	}
	defer cn.Close(ctx)
	if _, err := cn.Exec(ctx, "CREATE TABLE _temp_synops_going (x int)"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = cn.Exec(context.Background(), "DROP TABLE IF EXISTS _temp_synops_going") })
	tx, err := cn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE _temp_synops_going IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t)
	f.svc.AppDB = config.DSN{}
	done := make(chan error, 1)
	go func() {
		p, err := f.svc.PlanCreate(ctx, CreateRequest{Media: config.MediaNone})
		if err == nil {
			_, err = f.svc.ApplyCreate(ctx, p, ops.Approval{}, nil)
		}
		done <- err
	}()
	// Once the backup waits for the table, it goes, as a background update's would.
	watch, err := pgx.Connect(ctx, bed.SynapseDB)
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close(ctx)
	deadline := time.Now().Add(time.Minute)
	for {
		var waiting int
		if err := watch.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()").Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the backup never waited for the locked table")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := tx.Exec(ctx, "DROP TABLE _temp_synops_going"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("backup: %v\n%s", err, f.log.String())
	}
	if !strings.Contains(f.log.String(), "dumping "+bed.SynapseName+" again") {
		t.Errorf("the job log does not show the second attempt:\n%s", f.log.String())
	}
	ids, other := entries(t, f.svc.Catalog)
	if len(ids) != 1 || len(other) != 0 {
		t.Errorf("catalog %v, other %v; want the one backup", ids, other)
	}
}
