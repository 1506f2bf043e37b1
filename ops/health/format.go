package health

import (
	"fmt"
	"math"
	"strings"
	"time"

	"synops/ops/text"
)

// seconds formats a duration given in seconds: "6.2 s", "45 ms", "0.38 ms".
func seconds(s float64) string {
	switch {
	case s >= 100:
		return fmt.Sprintf("%.0f s", s)
	case s >= 1:
		return fmt.Sprintf("%.1f s", s)
	case s >= 0.01:
		return fmt.Sprintf("%.0f ms", s*1000)
	case s >= 0.001:
		return fmt.Sprintf("%.1f ms", s*1000)
	}
	return fmt.Sprintf("%.2f ms", s*1000)
}

// dur formats a measured duration like seconds does.
func dur(d time.Duration) string { return seconds(d.Seconds()) }

// age formats a long duration: "3m12s", "2h5m0s"; short ones as seconds does.
func age(s float64) string {
	if s < 1 {
		return seconds(s)
	}
	return (time.Duration(s) * time.Second).Round(time.Second).String()
}

// count formats a gauge or counter reading that is a whole number.
func count(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

// plural is "1 request", "3 requests".
func plural(n float64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return count(n) + " " + many
}

// slug turns a label into an ID part: "media store" → "media_store".
func slug(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(s)) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// bytesIEC formats a size reading: "212 MiB", "1.2 GiB".
func bytesIEC(b float64) string { return text.Bytes(int64(b)) }
