package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

const day = 24 * time.Hour

// ParseDuration parses a Go duration ("12h", "90m") or whole days, alone or
// followed by a Go duration ("30d", "1d12h"). Negative durations are refused:
// every synops duration is an age or an interval.
func ParseDuration(s string) (time.Duration, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return 0, fmt.Errorf("empty duration: want a Go duration like 12h or 90m, or whole days like 30d")
	}
	if strings.HasPrefix(in, "-") {
		return 0, fmt.Errorf("duration %q is negative: want 0 or more, e.g. 12h or 30d", s)
	}
	invalid := func() error {
		return fmt.Errorf("invalid duration %q: want a Go duration like 12h or 90m, or whole days like 30d", s)
	}
	var d time.Duration
	rest := in
	// Go's units (ns us µs ms s m h) have no "d", so the first "d" ends the days.
	if i := strings.IndexByte(in, 'd'); i >= 0 {
		n, err := strconv.ParseUint(in[:i], 10, 64)
		if err != nil {
			return 0, invalid()
		}
		if n > uint64(math.MaxInt64/int64(day)) {
			return 0, fmt.Errorf("duration %q is too large", s)
		}
		d = time.Duration(n) * day
		rest = in[i+1:]
	}
	if rest != "" {
		r, err := time.ParseDuration(rest)
		if err != nil || strings.HasPrefix(rest, "+") {
			return 0, invalid()
		}
		if r < 0 {
			return 0, fmt.Errorf("duration %q is negative: want 0 or more, e.g. 12h or 30d", s)
		}
		if d > math.MaxInt64-r {
			return 0, fmt.Errorf("duration %q is too large", s)
		}
		d += r
	}
	return d, nil
}

// FormatDuration prints d the way ParseDuration reads it, using days when d is a
// whole number of them ("30d", "12h0m0s").
func FormatDuration(d time.Duration) string {
	if d > 0 && d%day == 0 {
		return strconv.FormatInt(int64(d/day), 10) + "d"
	}
	return d.String()
}
