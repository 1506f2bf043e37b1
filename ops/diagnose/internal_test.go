package diagnose

import (
	"testing"
)

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
