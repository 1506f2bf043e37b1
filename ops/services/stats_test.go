package services_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"synops/ops/config"
	"synops/ops/services"
	"synops/ops/services/servicestest"
)

// What docker compose stats --no-stream --format json prints (one object a line).
const composeStatsOut = `{"BlockIO":"12.3MB / 4.1kB","CPUPerc":"12.50%","Container":"4f2a","ID":"4f2a","MemPerc":"6.03%","MemUsage":"473.4MiB / 7.667GiB","Name":"matrix-synapse-1","NetIO":"1.2MB / 800kB","PIDs":"42"}
`

func TestReadStatsCompose(t *testing.T) {
	stub := servicestest.Install(t, "docker", "cat <<'JSON'\n"+composeStatsOut+"JSON")
	s := config.Services{Kind: config.ServicesCompose, ComposeFile: "/srv/dc.yml", SynapseService: "synapse"}
	st, err := services.ReadStats(ctxT(t, 10*time.Second), services.Exec{}, s)
	if err != nil {
		t.Fatal(err)
	}
	wantArgs := []string{"compose", "-f", "/srv/dc.yml", "stats", "--no-stream", "--format", "json", "synapse"}
	if calls := stub.Calls(t); len(calls) != 1 || !reflect.DeepEqual(calls[0], wantArgs) {
		t.Errorf("docker got %q, want %q", calls, wantArgs)
	}
	if !st.HasMemory || st.MemoryBytes != mib(473.4) {
		t.Errorf("got memory %d (%v), want 473.4 MiB", st.MemoryBytes, st.HasMemory)
	}
	if st.MemoryLimitBytes != gib(7.667) {
		t.Errorf("got limit %d, want 7.667 GiB", st.MemoryLimitBytes)
	}
	if !st.HasCPUPercent || st.CPUPercent != 12.5 || st.MemoryPercent != 6.03 || st.Containers != 1 {
		t.Errorf("got %+v", st)
	}
}

func TestReadStatsComposeFails(t *testing.T) {
	servicestest.Install(t, "docker", `echo "no such service: synapse" >&2; exit 1`)
	_, err := services.ReadStats(ctxT(t, 10*time.Second), services.Exec{}, config.Services{Kind: config.ServicesCompose, ComposeProject: "p"})
	var ee *services.ExitError
	if !errors.As(err, &ee) || ee.Code != 1 || ee.Stderr != "no such service: synapse" {
		t.Errorf("got %v, want exit status 1 with the stderr", err)
	}
}

func TestReadStatsSystemd(t *testing.T) {
	stub := servicestest.Install(t, "systemctl", `printf 'MemoryCurrent=524288000\nCPUUsageNSec=91500000000\nActiveState=active\nMainPID=1234\n'`)
	st, err := services.ReadStats(ctxT(t, 10*time.Second), services.Exec{}, config.Services{Kind: config.ServicesSystemd, SynapseUnit: "matrix-synapse"})
	if err != nil {
		t.Fatal(err)
	}
	want := services.Stats{Source: "systemctl show", MemoryBytes: 524288000, HasMemory: true, CPUSeconds: 91.5, HasCPUSeconds: true, State: "active", PID: 1234}
	if st != want {
		t.Errorf("got %+v, want %+v", st, want)
	}
	if calls := stub.Calls(t); len(calls) != 1 || calls[0][1] != "matrix-synapse" {
		t.Errorf("systemctl got %q", calls)
	}
}

func TestParseStats(t *testing.T) {
	st, err := services.ParseStats(config.ServicesSystemd, []byte("MemoryCurrent=[not set]\nCPUUsageNSec=18446744073709551615\nActiveState=inactive\nMainPID=0\n"))
	if err != nil || st.HasMemory || st.HasCPUSeconds || st.State != "inactive" {
		t.Errorf("no accounting: got %+v, %v", st, err)
	}
	if _, err := services.ParseStats(config.ServicesSystemd, nil); err == nil {
		t.Error("empty systemctl output: got no error")
	}
	if _, err := services.ParseStats(config.ServicesCompose, []byte("")); err == nil {
		t.Error("no containers: got no error")
	}
	if _, err := services.ParseStats(config.ServicesCompose, []byte("NAME CPU\n")); err == nil {
		t.Error("table output: got no error")
	}
	two := composeStatsOut + `{"CPUPerc":"2.5%","MemUsage":"26.6MiB / 7.667GiB","MemPerc":"0.3%","Name":"matrix-synapse-2"}` + "\n"
	st, err = services.ParseStats(config.ServicesCompose, []byte(two))
	if err != nil || st.Containers != 2 || st.CPUPercent != 15 || st.MemoryBytes != mib(473.4)+mib(26.6) {
		t.Errorf("two replicas: got %+v, %v", st, err)
	}
	if _, err := services.ParseStats(config.ServicesCustom, nil); !errors.Is(err, services.ErrNoStats) {
		t.Errorf("custom: got %v, want ErrNoStats", err)
	}
}

func mib(f float64) uint64 { return uint64(f * (1 << 20)) }
func gib(f float64) uint64 { return uint64(f * (1 << 30)) }
