package health

import "time"

// Thresholds say when a figure turns a check into a warning or a critical
// result. A figure above (for disk: below) a threshold takes that status; a
// zero threshold is switched off. Seed 004's monitoring list is the source
// of the defaults where it names one; the rest are conservative values for a
// single-box deployment, to be tuned per profile.
type Thresholds struct {
	// Endpoint: response time of /health, /_matrix/client/versions,
	// server_version and whoami. A healthy Synapse answers these in
	// milliseconds; seconds mean its reactor is starved. Default 1 s / 3 s.
	EndpointWarn, EndpointCrit time.Duration

	// SyncP95: 95th percentile of initial and full-state /sync response time
	// over the last interval (incremental syncs are long-polls and excluded).
	// Seed 004: "Sync latency … alert if > 5 seconds". Default 2 s / 5 s.
	SyncP95Warn, SyncP95Crit time.Duration

	// DBTxnAvg: average database transaction time over the last interval
	// (synapse_storage_transaction_time_*). Usually a few ms. Default 100 ms / 500 ms.
	DBTxnAvgWarn, DBTxnAvgCrit time.Duration

	// DBSchedWait: average time a transaction waited for a pooled connection
	// (synapse_storage_schedule_time). Synapse exports no pool-size gauge;
	// waiting is the pool's only signal ("database connection pool", seed
	// 004). Usually well under 1 ms. Default 50 ms / 500 ms.
	DBSchedWaitWarn, DBSchedWaitCrit time.Duration

	// FedPendingPDUs/EDUs: events and EDUs queued for sending to other
	// servers (seed 004: "federation lag"). Near zero when federation keeps
	// up. Default PDUs 100 / 1000, EDUs 1000 / 10000 (typing and receipts
	// make EDUs far more numerous).
	FedPendingPDUsWarn, FedPendingPDUsCrit float64
	FedPendingEDUsWarn, FedPendingEDUsCrit float64

	// RSS: resident memory of each Synapse process (seed 004: "Synapse can
	// be memory-intensive"). Default 2 GiB / 4 GiB; set them from the box's RAM.
	RSSWarn, RSSCrit float64 // bytes

	// PGConnectionsPct: client connections in use as a percentage of
	// max_connections (seed 004: "alert if near max connections"). Default 80 / 95.
	PGConnectionsWarnPct, PGConnectionsCritPct float64

	// PGLongestTxn: the oldest open transaction of any other session. Long
	// transactions hold back vacuum and can block Synapse. Default 5 min / 30 min.
	PGLongestTxnWarn, PGLongestTxnCrit time.Duration

	// PGWaitingLocks: lock requests not granted, across the cluster. A few
	// come and go; a pile means something blocks. Default 5 / 20.
	PGWaitingLocksWarn, PGWaitingLocksCrit float64

	// DiskFreePct: free space left to unprivileged users, as a percentage of
	// the filesystem. Below the threshold is bad. Default 15 / 5.
	DiskFreeWarnPct, DiskFreeCritPct float64

	// BackupAge: age of the newest verified backup. Default a day (a
	// nightly backup is late) / none: set the critical one to the
	// profile's backup.fresh_within, past which the destructive
	// operations need --without-backup.
	BackupAgeWarn, BackupAgeCrit time.Duration
}

// DefaultThresholds returns the defaults documented on Thresholds.
func DefaultThresholds() Thresholds {
	const gib = 1 << 30
	return Thresholds{
		EndpointWarn: time.Second, EndpointCrit: 3 * time.Second,
		SyncP95Warn: 2 * time.Second, SyncP95Crit: 5 * time.Second,
		DBTxnAvgWarn: 100 * time.Millisecond, DBTxnAvgCrit: 500 * time.Millisecond,
		DBSchedWaitWarn: 50 * time.Millisecond, DBSchedWaitCrit: 500 * time.Millisecond,
		FedPendingPDUsWarn: 100, FedPendingPDUsCrit: 1000,
		FedPendingEDUsWarn: 1000, FedPendingEDUsCrit: 10000,
		RSSWarn: 2 * gib, RSSCrit: 4 * gib,
		PGConnectionsWarnPct: 80, PGConnectionsCritPct: 95,
		PGLongestTxnWarn: 5 * time.Minute, PGLongestTxnCrit: 30 * time.Minute,
		PGWaitingLocksWarn: 5, PGWaitingLocksCrit: 20,
		DiskFreeWarnPct: 15, DiskFreeCritPct: 5,
		BackupAgeWarn: 24 * time.Hour,
	}
}

// above grades v against thresholds it must stay at or under; at reports
// the threshold crossed (0 when none).
func above(v, warn, crit float64) (s Status, at float64) {
	switch {
	case crit > 0 && v > crit:
		return Crit, crit
	case warn > 0 && v > warn:
		return Warn, warn
	}
	return OK, 0
}

// atLeast grades v against thresholds it must reach or exceed: warn at 80 %
// means 80 % itself warns.
func atLeast(v, warn, crit float64) (s Status, at float64) {
	switch {
	case crit > 0 && v >= crit:
		return Crit, crit
	case warn > 0 && v >= warn:
		return Warn, warn
	}
	return OK, 0
}

// below grades v against thresholds it must stay above (free disk space).
func below(v, warn, crit float64) (s Status, at float64) {
	switch {
	case crit > 0 && v < crit:
		return Crit, crit
	case warn > 0 && v < warn:
		return Warn, warn
	}
	return OK, 0
}

// level names a status as a threshold adjective.
func level(s Status) string {
	if s == Crit {
		return "critical"
	}
	return "warning"
}

// grade sets r's status from (s, at), and when it is not OK a Detail saying
// what was found and which threshold it crossed ("over", "under"), in the
// unit show formats.
func (r *Result) grade(s Status, at float64, what, rel string, show func(float64) string) {
	r.Status = s
	if s == OK {
		return
	}
	r.Detail = what + ": " + rel + " the " + level(s) + " threshold of " + show(at)
}
