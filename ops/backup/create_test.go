package backup

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"synops/ops/config"
)

func TestCreateAndVerify(t *testing.T) {
	f := newFixture(t)
	res := f.create(t, CreateRequest{Verify: true})
	t.Logf("job log:\n%s", f.log.String())
	e := res.Entry
	if !e.Verified() || res.Verify == nil || !res.Verify.Passed {
		t.Fatalf("entry %s state %s (%s), verify %+v", e.ID, e.State, e.Problem, res.Verify)
	}
	m := e.Manifest
	t.Logf("manifest: %+v", m)
	for _, p := range m.Parts {
		t.Logf("part %s %s %d bytes rows=%v files=%d", p.Name, p.File, p.Size, p.Rows, p.Files)
	}
	t.Logf("verify: %+v", res.Verify)
	at, id, err := f.svc.Catalog.NewestVerified(ctxT(t, time.Minute))
	if err != nil || id != e.ID || at.IsZero() {
		t.Errorf("NewestVerified = %v %q %v, want %s", at, id, err, e.ID)
	}
	if got := databases(t, "synops_verify"); len(got) != 0 {
		t.Errorf("scratch databases left behind: %v", got)
	}
}

// Seed 004's format: plain SQL through gzip, which `gunzip | psql` restores
// without synops; verified the same way, through psql.
func TestSQLGzipFormat(t *testing.T) {
	f := newFixture(t)
	res := f.create(t, CreateRequest{Verify: true, Format: config.FormatSQLGzip, Media: config.MediaNone})
	p := res.Entry.Manifest.Part(PartSynapseDB)
	if !res.Entry.Verified() || p.Format != FormatSQLGzip || p.File != "synapse-db.sql.gz" {
		t.Fatalf("entry %s %s, part %+v", res.Entry.State, res.Entry.Problem, p)
	}
	out, err := exec.Command("gunzip", "-c", filepath.Join(res.Entry.Dir, p.File)).Output()
	if err != nil || !strings.Contains(string(out), "PostgreSQL database dump") || !strings.Contains(string(out), "CREATE TABLE public.events") {
		t.Errorf("gunzip of the dump: %v %q", err, out)
	}
	if !strings.Contains(f.log.String(), "psql --no-password") {
		t.Errorf("the verification did not restore through psql:\n%s", f.log.String())
	}
}
