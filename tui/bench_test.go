package tui

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"synops/ops/health"
	"synops/ops/users"
	"synops/synapse"
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

// BenchmarkMemory100k loads 100k rooms (names, 44-character IDs and
// aliases as Synapse's list returns them) and 100k accounts into the
// console's root model, the Rooms and the Users pane, draws both, and reports
// the process's resident memory after a collection.
func BenchmarkMemory100k(b *testing.B) {
	rs := make([]synapse.Room, 100000)
	for i := range rs {
		rs[i] = synapse.Room{RoomID: fmt.Sprintf("!%043d", i), Name: fmt.Sprintf("Event: community meetup number %06d", i),
			CanonicalAlias: fmt.Sprintf("#event-%06d:matrix.example.org", i), Creator: "@organiser:matrix.example.org",
			Version: "10", JoinRules: "public", HistoryVisibility: "shared", JoinedMembers: i % 50, JoinedLocalMembers: i % 7, StateEvents: 12}
	}
	us := make([]users.User, 100000)
	for i := range us {
		us[i] = users.User{ListedUser: synapse.ListedUser{Name: fmt.Sprintf("@member-%06d:matrix.example.org", i),
			DisplayName: fmt.Sprintf("Community member %06d", i), AvatarURL: "mxc://matrix.example.org/abcdefghijklmnopqrstuvwx",
			CreationTS: fixedNow.UnixMilli() - int64(i)*60000, LastSeenTS: fixedNow.UnixMilli()}}
	}
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(MemoryLimit))
	before := rssMB(b)
	c := testCommon(false)
	rp, up := NewRoomsPane(c, nil), NewUsersPane(c, nil)
	m := New(c, NewHealthPane(c, HealthDeps{Source: noSource{}}, 2*time.Second), rp, up)
	m.Update(tea.WindowSizeMsg{Width: 160, Height: 48})
	rp.list.gen, up.list.gen = 1, 1
	m.Update(roomsLoadedMsg{gen: 1, rooms: rs, at: fixedNow})
	m.Update(usersLoadedMsg{gen: 1, users: us, at: fixedNow})
	rs, us = nil, nil
	for i := 0; b.Loop(); i++ {
		m.Update(press([]string{"2", "3"}[i%2]))
		_ = m.View()
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	after := rssMB(b)
	b.Logf("RESULT memory at 100k rooms and 100k accounts: resident %.0f MB; Go heap in use %d MB (memory limit %d MB, as the console sets)", after, ms.HeapInuse>>20, MemoryLimit>>20)
	b.ReportMetric(after, "MB-rss")
	b.ReportMetric(after-before, "MB-rss-for-100k-rooms-and-users")
	runtime.KeepAlive(m)
}

// rssMB is this process's resident memory in MiB (VmRSS).
func rssMB(b *testing.B) float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) == 3 && f[0] == "VmRSS:" {
			kb, _ := strconv.Atoi(f[1])
			return float64(kb) / 1024
		}
	}
	b.Fatal("no VmRSS")
	return 0
}
