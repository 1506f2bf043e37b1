package backup

import "testing"

// genDB is a generated Synapse database of n events on the bed's cluster.
func genDB(t testing.TB, n int) (string, int64) {
	t.Helper()
	return bed.GenerateSynapseDB(t, n)
}
