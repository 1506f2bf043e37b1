package synapse_test

import (
	"testing"

	"synops/ops/testbed"
)

var bed *testbed.Bed

func TestMain(m *testing.M) {
	relaxed := map[string]any{"per_second": 10000, "burst_count": 10000}
	testbed.Main(m, testbed.Options{Extra: map[string]any{
		// Failed logins are limited per account, tightly, so the rate-limit
		// test meets a real M_LIMIT_EXCEEDED; everything else stays relaxed.
		"rc_login": map[string]any{"address": relaxed, "account": relaxed,
			"failed_attempts": map[string]any{"per_second": 1, "burst_count": 2}},
	}}, func(b *testbed.Bed) { bed = b })
}
