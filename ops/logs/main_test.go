package logs_test

import (
	"testing"

	"synops/ops/testbed"
)

var bed *testbed.Bed

func TestMain(m *testing.M) {
	testbed.Main(m, testbed.Options{}, func(b *testbed.Bed) { bed = b })
}
