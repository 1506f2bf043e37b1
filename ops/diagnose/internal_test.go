package diagnose

import (
	"strings"
	"testing"
)

func TestParseMetrics(t *testing.T) {
	page := `# HELP process_resident_memory_bytes Resident memory size in bytes.
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 1.2345e+08
process_cpu_seconds_total 12.5
synapse_http_server_response_time_seconds_sum{code="200",method="GET",servlet="SyncRestServlet",tag="sync_v2:initial_sync",server_name="a"} 30.0
synapse_http_server_response_time_seconds_sum{code="200",method="GET",servlet="SyncRestServlet",tag="sync_v2:incremental_sync",server_name="a"} 900.0
synapse_http_server_response_time_seconds_count{code="200",method="GET",servlet="SyncRestServlet",tag="sync_v2:initial_sync",server_name="a"} 3
synapse_other{x="a \"quoted\", b\\c"} 7
broken{x="unterminated} 1
`
	names := map[string]bool{"process_resident_memory_bytes": true, "process_cpu_seconds_total": true,
		"synapse_http_server_response_time_seconds_sum": true, "synapse_other": true, "broken": true}
	s, err := parseMetrics(strings.NewReader(page), names)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := s.sum("process_resident_memory_bytes", nil); !ok || v != 123450000 {
		t.Errorf("got %v %v", v, ok)
	}
	initial := func(l map[string]string) bool {
		return l["servlet"] == "SyncRestServlet" && !strings.Contains(l["tag"], "incremental")
	}
	if v, _ := s.sum("synapse_http_server_response_time_seconds_sum", initial); v != 30 {
		t.Errorf("got initial sync sum %v, want 30", v)
	}
	if _, ok := s.sum("synapse_http_server_response_time_seconds_count", nil); ok {
		t.Error("a name not asked for was kept")
	}
	if _, ok := s.sum("synapse_other", func(l map[string]string) bool { return l["x"] == `a "quoted", b\c` }); !ok {
		t.Errorf("escaped label not read: %+v", s.samples)
	}
	if _, ok := s.sum("broken", nil); ok {
		t.Error("a broken line was read")
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[any]int64{"10K": 10240, "2M": 2 << 20, 500: 500, "1G": 1 << 30, "7": 7} {
		if got, ok := parseSize(in); !ok || got != want {
			t.Errorf("parseSize(%v) = %d, %v; want %d", in, got, ok, want)
		}
	}
	if _, ok := parseSize("lots"); ok {
		t.Error("parseSize(lots) succeeded")
	}
}

func TestIsLoopback(t *testing.T) {
	for u, want := range map[string]bool{
		"http://127.0.0.1:9000/_synapse/metrics": true, "http://localhost:9000/": true, "http://[::1]:9000/": true,
		"http://10.0.0.5:9000/": false, "http://synapse:9000/": false,
	} {
		if isLoopback(u) != want {
			t.Errorf("isLoopback(%s) = %v", u, !want)
		}
	}
}
