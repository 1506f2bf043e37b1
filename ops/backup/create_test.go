package backup

import (
	"testing"
	"time"
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
