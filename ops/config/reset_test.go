package config

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestLoadReset(t *testing.T) {
	f := newFixture(t)
	path := filepath.Join(f.dir, "reset.yaml")
	f.writeConfig(t, path, `profiles:
  compose:
    homeserver_yaml: `+f.hs+`
    services: {kind: compose, compose_project: matrix}
    tokens: {redeploy: [docker, compose, up, -d, api]}
    app_refs:
      reset: ['UPDATE "events" SET "matrixRoomId" = NULL', 'DELETE FROM "chatRooms"']
      reset_count: SELECT 'events', count(*) FROM "events" WHERE "matrixRoomId" IS NOT NULL
    reset:
      volumes: [matrix_synapse_data, matrix_postgres_data]
      new_admin: "@ops"
      notify_room: "#general:example.org"
      start_timeout: 10m
      told_within: 2h
    diagnose:
      user_status: SELECT state FROM users WHERE uid = $1
      active: enabled
  systemd:
    homeserver_yaml: `+f.hs+`
    services: {kind: systemd}
  custom:
    homeserver_yaml: `+f.hs+`
    reset:
      path: custom
      commands: [[kubectl, delete, pvc, synapse-db], [kubectl, rollout, restart, statefulset/synapse]]
      restart_app: [systemctl, restart, openmeet]
  none:
    homeserver_yaml: `+f.hs+`
`)
	load := func(profile string) *Resolved {
		t.Helper()
		r, err := Load(context.Background(), Flags{Config: &path, Profile: &profile}, f.getenv(nil))
		if err != nil {
			t.Fatalf("%s: %v", profile, err)
		}
		return r
	}
	r := load("compose")
	want := Reset{Path: ResetCompose, Volumes: []string{"matrix_synapse_data", "matrix_postgres_data"}, NewAdmin: "ops",
		RestartApp: []string{"docker", "compose", "up", "-d", "api"}, NotifyRoom: "#general:example.org",
		StartTimeout: 10 * time.Minute, ToldWithin: 2 * time.Hour}
	if !reflect.DeepEqual(r.Reset, want) {
		t.Errorf("Reset = %+v\nwant    %+v", r.Reset, want)
	}
	if len(r.AppRefs.Reset) != 2 || !strings.HasPrefix(r.AppRefs.ResetCount, "SELECT 'events'") {
		t.Errorf("AppRefs = %+v", r.AppRefs)
	}
	if r.Diagnose != (Diagnose{UserStatus: "SELECT state FROM users WHERE uid = $1", Active: "enabled"}) {
		t.Errorf("Diagnose = %+v", r.Diagnose)
	}
	rows := rowMap(r)
	if got := rows["reset.volumes"].Display; got != "matrix_synapse_data, matrix_postgres_data" {
		t.Errorf("reset.volumes row %q", got)
	}

	if r := load("systemd"); r.Reset.Path != ResetStandalone || r.Reset.StartTimeout != DefaultResetStartTimeout || r.Reset.ToldWithin != DefaultResetToldWithin {
		t.Errorf("systemd profile: %+v, want the standalone path and the defaults", r.Reset)
	}
	if r := load("systemd"); r.Diagnose.UserStatus != DefaultUserStatusSQL || r.Diagnose.Active != "ACTIVE" {
		t.Errorf("diagnose defaults: %+v", r.Diagnose)
	}
	r = load("custom")
	if r.Reset.Path != ResetCustom || len(r.Reset.Commands) != 2 || r.Reset.Commands[1][3] != "statefulset/synapse" || r.Reset.RestartApp[0] != "systemctl" {
		t.Errorf("custom profile: %+v", r.Reset)
	}
	if r := load("none"); r.Reset.Path != "" || rowMap(r)["reset.path"].Display != "(not set)" {
		t.Errorf("no services: %+v, want no path", r.Reset)
	}
}

func TestResetProblems(t *testing.T) {
	f := newFixture(t)
	tests := []struct{ name, profile, want string }{
		{"unknown path", "reset: {path: kubernetes}", `reset.path "kubernetes"`},
		{"compose path without compose", "services: {kind: systemd}\n    reset: {path: compose}", "needs services.kind compose"},
		{"standalone without a service manager", "reset: {path: standalone}", "needs services.kind systemd or custom"},
		{"custom without commands", "reset: {path: custom}", "needs reset.commands"},
		{"empty command", "reset: {path: custom, commands: [[]]}", "reset.commands entry 1"},
		{"bad admin", "reset: {new_admin: Admin!}", "reset.new_admin"},
		{"bad room", "services: {kind: systemd}\n    reset: {notify_room: general}", "reset.notify_room"},
		{"zero timeout", "services: {kind: systemd}\n    reset: {start_timeout: 0s}", "reset.start_timeout"},
		{"reset SQL with $1", "app_refs: {reset: ['DELETE FROM x WHERE id = $1']}", "uses $1"},
		{"status query without $1", "diagnose: {user_status: SELECT 1}", "diagnose.user_status"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.yaml")
			f.writeConfig(t, path, "profiles:\n  p:\n    homeserver_yaml: "+f.hs+"\n    "+tt.profile+"\n")
			_, err := Load(context.Background(), Flags{Config: &path}, f.getenv(nil))
			var ve *ValidationError
			if !errors.As(err, &ve) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want a problem naming %q", err, tt.want)
			}
		})
	}
}
