package synapsetest

import (
	"strings"
	"testing"
)

func TestLoggedErrors(t *testing.T) {
	log := strings.Join([]string{
		"2026-11-23 12:55:58,710 - synapse.access - 643 - INFO - GET-4 - ok",
		"2026-11-23 12:55:58,711 - synapse.metrics - 650 - ERROR - - collection failed",
		"Traceback (most recent call last):",
		"  File \"x.py\", line 1, in <module>",
		"RuntimeError: dictionary changed size during iteration",
		"2026-11-23 12:55:58,712 - synapse.access - 643 - INFO - GET-5 - ok",
		"2026-11-23 12:55:58,713 - synapse.app - 650 - CRITICAL - - gave up",
	}, "\n")
	got := loggedErrors(log, 4000)
	for _, want := range []string{"collection failed", "RuntimeError: dictionary changed size", "gave up"} {
		if !strings.Contains(got, want) {
			t.Errorf("lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "INFO") {
		t.Errorf("carries INFO lines:\n%s", got)
	}
	if got := loggedErrors(log, 100); len(got) > 110 || !strings.HasSuffix(got, "…") {
		t.Errorf("limit 100: %d bytes %q", len(got), got)
	}
}
