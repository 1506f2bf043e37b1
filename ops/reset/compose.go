package reset

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"synops/ops/services"
)

// composeVolumes is what the compose path removes: reset.volumes, the
// volumes an unfinished reset recorded, or the named volumes the Synapse
// and PostgreSQL containers mount (seed 000's matrix_synapse_data and
// matrix_postgres_data), with where each is mounted.
func (s *Service) composeVolumes(ctx context.Context, st *State) ([]volume, error) {
	if len(s.Config.Volumes) > 0 {
		var out []volume
		for _, v := range s.Config.Volumes {
			out = append(out, volume{Name: v})
		}
		return out, nil
	}
	if st != nil && st.Unfinished() && len(st.Volumes) > 0 {
		var out []volume
		for _, v := range st.Volumes {
			out = append(out, volume{Name: v})
		}
		return out, nil
	}
	ctl := s.controller()
	base, err := ctl.ComposeBase(ctx)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []volume
	for _, u := range []services.Unit{services.Synapse, services.Postgres} {
		svc := ctl.ServiceName(u)
		ids, err := ctl.Exec.Run(ctx, cat(base, "ps", "-a", "-q", svc))
		if err != nil {
			return nil, fmt.Errorf("find the %s container: %w", svc, err)
		}
		if len(strings.Fields(string(ids))) == 0 {
			return nil, fmt.Errorf("no %s container to read its volumes from", svc)
		}
		mounts, err := ctl.Exec.Run(ctx, cat([]string{"docker", "inspect", "--format",
			`{{range .Mounts}}{{if eq .Type "volume"}}{{.Name}}={{.Destination}} {{end}}{{end}}`}, strings.Fields(string(ids))...))
		if err != nil {
			return nil, fmt.Errorf("read the volumes of %s: %w", svc, err)
		}
		for _, m := range strings.Fields(string(mounts)) {
			name, dest, _ := strings.Cut(m, "=")
			if !seen[name] {
				seen[name] = true
				out = append(out, volume{Name: name, Dest: dest, Service: svc})
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the %s and %s containers mount no named volume: nothing to remove", ctl.ServiceName(services.Synapse), ctl.ServiceName(services.Postgres))
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
