package health

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"syscall"
)

// diskCheck reports the free space of d's filesystem. Statfs ignores the
// context (a hung NFS mount blocks it); Run's overall deadline covers that.
func (c *Checker) diskCheck(d Disk) check {
	stub := Result{ID: "disk." + slug(d.Label), Group: "Disk", Name: d.Label}
	th := c.cfg.Thresholds
	return single(stub, Crit, func(context.Context) Result {
		r := stub
		if d.Path == "" {
			r.Detail = "not configured"
			return r
		}
		var st syscall.Statfs_t
		if err := syscall.Statfs(d.Path, &st); err != nil {
			r.Status = Warn
			if errors.Is(err, fs.ErrNotExist) {
				r.Detail = fmt.Sprintf("%s does not exist", d.Path)
				r.Hint = "create it, or correct the setting that names it"
			} else {
				r.Detail = fmt.Sprintf("cannot read the free space of %s: %v", d.Path, err)
			}
			return r
		}
		bsize := uint64(st.Bsize)
		total, free := float64(st.Blocks*bsize), float64(st.Bavail*bsize)
		if total <= 0 {
			r.Detail = d.Path + " is on a filesystem that reports no size"
			return r
		}
		pct := 100 * free / total
		r.setNum(pct, "%")
		r.Value = fmt.Sprintf("%s free of %s (%.0f%%) at %s", bytesIEC(free), bytesIEC(total), pct, d.Path)
		s, at := below(pct, th.DiskFreeWarnPct, th.DiskFreeCritPct)
		r.grade(s, at, r.Value, "under", func(v float64) string { return fmt.Sprintf("%.0f%% free", v) })
		if s != OK {
			r.Hint = "free space before PostgreSQL or Synapse fails to write: purge old media or history, prune backups, or grow the volume"
		}
		return r
	})
}
