package diagnose

import (
	"testing"
)

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
