package tui

import (
	"math"
	"strings"
)

var sparkRunes = []rune("▁▂▃▄▅▆▇█")

// Sparkline draws the last width values, scaled between their min and max.
func Sparkline(values []float64, width int) string {
	if width <= 0 || len(values) == 0 {
		return ""
	}
	if len(values) > width {
		values = values[len(values)-width:]
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range values {
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	var b strings.Builder
	for _, v := range values {
		i := 0
		if hi > lo {
			i = int((v - lo) / (hi - lo) * float64(len(sparkRunes)-1))
		}
		b.WriteRune(sparkRunes[i])
	}
	return b.String()
}

// History keeps the last n numbers of one figure.
type History struct {
	vals []float64
	n    int
}

// NewHistory keeps up to n values.
func NewHistory(n int) *History { return &History{n: n} }

// Add appends v, dropping the oldest beyond capacity.
func (h *History) Add(v float64) {
	if len(h.vals) == h.n {
		copy(h.vals, h.vals[1:])
		h.vals = h.vals[:h.n-1]
	}
	h.vals = append(h.vals, v)
}

// Values returns the kept values, oldest first.
func (h *History) Values() []float64 { return h.vals }
