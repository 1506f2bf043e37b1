package tui

import (
	"fmt"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"synops/ops/health"
)

// BenchmarkHealthUpdateView is one refresh of the dashboard: a tier's results
// arrive (40 checks, as with a few workers) and the screen is drawn.
func BenchmarkHealthUpdateView(b *testing.B) {
	c := testCommon(false)
	hp := NewHealthPane(c, HealthDeps{Source: noSource{}}, 2*time.Second)
	m := New(c, hp)
	m.Update(tea.WindowSizeMsg{Width: 160, Height: 48})
	results := make([]health.Result, 40)
	for i := range results {
		results[i] = health.Result{ID: fmt.Sprintf("metrics.x%d", i), Group: "Metrics", Name: fmt.Sprintf("figure %d", i),
			Status: health.OK, Value: "12 ms", HasNum: true}
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		for j := range results {
			results[j].Num = float64((i + j) % 17)
		}
		m.Update(HealthMsg{Tier: health.Cheap, Gen: hp.gen[health.Cheap], Results: results, At: fixedNow})
		_ = m.View()
	}
}

// BenchmarkHealthKeypress is a cursor move and a redraw.
func BenchmarkHealthKeypress(b *testing.B) {
	m, _ := newRoot(nil, false, 160, 48)
	benchUpDown(b, m)
}

// benchUpDown measures one cursor move (down, then up) and a redraw.
func benchUpDown(b *testing.B, m *Model) {
	down, up := press("j"), press("k")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i%2 == 0 {
			m.Update(down)
		} else {
			m.Update(up)
		}
		_ = m.View()
	}
}
