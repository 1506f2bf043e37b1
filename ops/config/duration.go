package config

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

const day = 24 * time.Hour

// MaxDuration is the longest duration ParseDuration accepts: all a
// time.Duration holds, a little over 106751 days (about 292 years).
const MaxDuration = time.Duration(math.MaxInt64)

// ParseDuration parses a Go duration ("12h", "90m") or whole days, alone or
// followed by a Go duration ("30d", "1d12h"). Negative durations are refused:
// every synops duration is an age or an interval. So is one longer than
// MaxDuration, rather than wrapping round to a short or negative one. It is
// the one parser for every age, interval and cut-off synops reads.
func ParseDuration(s string) (time.Duration, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return 0, fmt.Errorf("empty duration: want a Go duration like 12h or 90m, or whole days like 30d")
	}
	negative := func() error {
		return &RangeError{fmt.Sprintf("duration %q is negative: want 0 or more, e.g. 12h or 30d", s)}
	}
	if strings.HasPrefix(in, "-") {
		return 0, negative()
	}
	invalid := func() error {
		return fmt.Errorf("invalid duration %q: want a Go duration like 12h or 90m, or whole days like 30d", s)
	}
	tooLarge := func() error {
		return &RangeError{fmt.Sprintf("duration %q is too large: at most %dd (about 292 years)", s, MaxDuration/day)}
	}
	var d time.Duration
	rest := in
	// Go's units (ns us µs ms s m h) have no "d", so the first "d" ends the days.
	if i := strings.IndexByte(in, 'd'); i >= 0 {
		days := in[:i]
		if days == "" || strings.Trim(days, "0123456789") != "" {
			return 0, invalid()
		}
		n, err := strconv.ParseUint(days, 10, 64)
		if err != nil || n > uint64(MaxDuration/day) {
			return 0, tooLarge() // only digits, so the number is too big
		}
		d = time.Duration(n) * day
		rest = in[i+1:]
	}
	if rest != "" {
		if strings.HasPrefix(rest, "+") {
			return 0, invalid()
		}
		r, err := time.ParseDuration(rest)
		if err != nil {
			if goDuration.MatchString(rest) {
				return 0, tooLarge() // well formed, so it overflowed
			}
			return 0, invalid()
		}
		if r < 0 {
			return 0, negative()
		}
		if d > MaxDuration-r {
			return 0, tooLarge()
		}
		d += r
	}
	return d, nil
}

// RangeError is a duration that is well formed but out of range: negative,
// or longer than MaxDuration.
type RangeError struct{ msg string }

func (e *RangeError) Error() string { return e.msg }

// goDuration is the syntax time.ParseDuration reads, to tell an overflow
// from a typo.
var goDuration = regexp.MustCompile(`^(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+$`)

// FormatDuration prints d the way ParseDuration reads it, using days when d is a
// whole number of them ("30d", "12h0m0s").
func FormatDuration(d time.Duration) string {
	if d > 0 && d%day == 0 {
		return strconv.FormatInt(int64(d/day), 10) + "d"
	}
	return d.String()
}

// DurationValue is a command-line flag read with ParseDuration, so that
// every duration flag takes what the config file takes ("30d", "1d12h") and
// refuses what it refuses. It implements pflag.Value.
type DurationValue struct{ d *time.Duration }

// NewDurationValue sets *p to def and returns the flag value that sets *p.
func NewDurationValue(p *time.Duration, def time.Duration) *DurationValue {
	*p = def
	return &DurationValue{d: p}
}

// Set parses s.
func (v *DurationValue) Set(s string) error {
	d, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*v.d = d
	return nil
}

func (v *DurationValue) String() string {
	if v == nil || v.d == nil {
		return ""
	}
	return FormatDuration(*v.d)
}

// Type names the value in usage texts.
func (v *DurationValue) Type() string { return "duration" }
