package synapsetest_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"synops/ops/testbed"
	"synops/synapse"
)

var bed *testbed.Bed

func TestMain(m *testing.M) {
	testbed.Main(m, testbed.Options{}, func(b *testbed.Bed) { bed = b })
}

func TestKillRestartKeepsData(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := bed.Synapse
	users, err := s.SeedUsers(ctx, "restart", 3)
	if err != nil {
		t.Fatal(err)
	}
	s.Kill()
	if s.Running() {
		t.Fatal("still running after Kill")
	}
	if err := s.Client(synapse.WithRetries(0)).Health(ctx); err == nil {
		t.Fatal("health answered after Kill")
	}
	if err := s.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		w, err := s.Client().WithToken(u.Token).Whoami(ctx)
		if err != nil || w.UserID != u.UserID {
			t.Errorf("after restart, %s's token: got %v, %v", u.UserID, w, err)
		}
	}
}

func TestSampleSeed(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sample, err := bed.SeedSample(ctx, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(sample.Rooms) < 10 || len(sample.Users) < 5 {
		t.Fatalf("got %d rooms, %d users; want a useful sample", len(sample.Rooms), len(sample.Users))
	}
	var events int
	for _, r := range sample.Rooms {
		if err := synapse.ValidateRoomID(r.ID); err != nil {
			t.Errorf("room %q: %v", r.Name, err)
		}
		if r.EventSlug != "" {
			events++
		}
	}
	if events == 0 {
		t.Error("no room is referenced by an app event")
	}
	if _, err := os.Stat(bed.Synapse.LogPath); err != nil {
		t.Errorf("Synapse log: %v", err)
	}
}

// A running test Synapse has a pid file naming a live process: without it,
// another test binary's removeStale takes the directory for a dead one's.
func TestPidFileNamesTheRunningServer(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(bed.Synapse.Dir, "homeserver.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || syscall.Kill(pid, 0) != nil {
		t.Errorf("pid file %q does not name a running process (%v)", data, err)
	}
}
