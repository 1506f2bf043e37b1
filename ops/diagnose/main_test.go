package diagnose_test

import (
	"testing"

	"synops/ops/testbed"
)

var bed *testbed.Bed

func TestMain(m *testing.M) {
	testbed.Main(m, testbed.Options{Extra: map[string]any{
		// A written cache factor, so the finding cites a real value, not a default.
		"caches": map[string]any{"global_factor": 1.0},
	}}, func(b *testbed.Bed) { bed = b })
}
