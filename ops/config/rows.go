package config

import (
	"fmt"
	"strconv"
	"strings"

	"synops/synapse"
)

// Row is one line of `synops config check`: the setting, its value made safe to
// show, and where it came from.
type Row struct {
	Key     string
	Display string // already redacted: no password, token or secret in it, no URL's user info
	Origin  string // "flag --x", "env SYNOPS_X", "config <path> profile <p>", "homeserver.yaml <path>", "default"
}

const notSet = "(not set)"

func orNotSet(s string) string {
	if s == "" {
		return notSet
	}
	return s
}

// Rows lists every setting in a fixed order.
func (r *Resolved) Rows() []Row {
	var rows []Row
	add := func(key, display string) {
		origin := r.origins[key]
		if origin == "" {
			origin = OriginDefault
		}
		rows = append(rows, Row{Key: key, Display: display, Origin: origin})
	}
	addAs := func(key, originKey, display string) {
		origin := r.origins[originKey]
		if origin == "" {
			origin = OriginDefault
		}
		rows = append(rows, Row{Key: key, Display: display, Origin: origin})
	}

	add("config", orNotSet(r.ConfigPath))
	add("profile", orNotSet(r.Profile))
	add("environment", string(r.Environment))
	add("read_only", strconv.FormatBool(r.ReadOnly))
	add("homeserver_url", orNotSet(shownURL(r.HomeserverURL)))
	if r.PublicBaseURL != "" {
		add("public_baseurl", shownURL(r.PublicBaseURL))
	}
	add("server_name", orNotSet(r.ServerName))
	add("homeserver_yaml", orNotSet(r.HomeserverYAML))
	add("token", r.tokenDisplay())
	add("synapse_db_dsn", r.SynapseDB.Redacted())
	add("app_db_dsn", r.AppDB.Redacted())
	secret := "not set"
	if !r.RegistrationSharedSecret.IsZero() {
		secret = "set"
	}
	add("registration_shared_secret", secret)
	add("media_store", orNotSet(r.MediaStore))
	metrics := notSet
	if len(r.MetricsURLs) > 0 {
		shown := make([]string, len(r.MetricsURLs))
		for i, u := range r.MetricsURLs {
			shown[i] = shownURL(u)
		}
		metrics = strings.Join(shown, ", ")
	}
	add("metrics_urls", metrics)
	add("livekit_url", orNotSet(shownURL(r.LiveKitURL)))
	if r.AppRefs.Count != "" || r.AppRefs.Describe != "" || len(r.AppRefs.Clear) > 0 {
		add("app_refs", fmt.Sprintf("custom (%d clear statements)", len(r.AppRefs.Clear)))
	}
	if r.Homeserver != nil {
		add("retention", r.Homeserver.Retention)
	}

	s := r.Services
	kind := string(s.Kind)
	if kind == "" {
		kind = string(ServicesNone)
	}
	addAs("services.kind", "services", kind)
	switch s.Kind {
	case ServicesCompose:
		addAs("services.compose_file", "services", orNotSet(s.ComposeFile))
		addAs("services.compose_project", "services", orNotSet(s.ComposeProject))
		addAs("services.synapse_service", "services", s.SynapseService)
		addAs("services.postgres_service", "services", s.PostgresService)
		addAs("services.app_service", "services", orNotSet(s.AppService))
	case ServicesSystemd:
		addAs("services.unit", "services", s.SynapseUnit)
		addAs("services.postgres_unit", "services", s.PostgresUnit)
		addAs("services.app_unit", "services", orNotSet(s.AppUnit))
	case ServicesCustom:
		addAs("services.start", "services", orNotSet(strings.Join(s.Start, " ")))
		addAs("services.stop", "services", orNotSet(strings.Join(s.Stop, " ")))
		addAs("services.status", "services", orNotSet(strings.Join(s.Status, " ")))
	}
	if s.PostgresContainer != "" {
		addAs("services.postgres_container", "services", s.PostgresContainer)
	}

	add("rooms.purge.max_concurrency", strconv.Itoa(r.Purge.MaxConcurrency))
	add("rooms.purge.poll", FormatDuration(r.Purge.Poll))
	syncMax := strconv.Itoa(r.Purge.SyncDeleteMax) + " events"
	if r.Purge.SyncDeleteMax == 0 {
		syncMax = "0 (never)"
	}
	add("rooms.purge.sync_delete_max", syncMax)

	add("backup.dir", orNotSet(r.Backup.Dir))
	add("backup.keep", strconv.Itoa(r.Backup.Keep))
	add("backup.max_age", FormatDuration(r.Backup.MaxAge))
	add("backup.fresh_within", FormatDuration(r.Backup.FreshWithin))
	r.describeBackup(add)
	logFile := r.LogFile
	if logFile == "" {
		logFile = "(not set: logs come from the service manager)"
	}
	add("log.file", logFile)
	r.tokensRows(addAs)
	r.resetRows(addAs)
	return rows
}

// shownURL hides a URL's user info (see synapse.RedactURL); "" stays "".
func shownURL(s string) string {
	if s == "" {
		return ""
	}
	return synapse.RedactURL(s)
}

// tokenDisplay names the token's source, never the token. A command shows only
// its program name: its arguments could hold anything.
func (r *Resolved) tokenDisplay() string {
	t := r.Token
	switch {
	case len(t.Command) > 1:
		return "command " + t.Command[0] + " …"
	case len(t.Command) == 1:
		return "command " + t.Command[0]
	case t.File != "":
		return "file " + t.File
	}
	name := t.Env
	if name == "" {
		name = DefaultTokenEnv
	}
	state := "not set"
	if r.getenv != nil && strings.TrimSpace(r.getenv(name)) != "" {
		state = "set"
	}
	return "env " + name + " (" + state + ")"
}
