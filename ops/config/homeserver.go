package config

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"synops/synapse"
)

// Homeserver is what synops learned from Synapse's homeserver.yaml.
type Homeserver struct {
	Path          string // absolute path of the file read
	ServerName    string
	PublicBaseURL string // public_baseurl as written (may be a reverse proxy)
	ListenerURL   string // the first local http listener serving the client API

	// DatabaseEngine is database.name: "psycopg2" (PostgreSQL) or "sqlite3".
	DatabaseEngine string
	SynapseDB      DSN // set for PostgreSQL only

	MediaStore               string
	RegistrationSharedSecret synapse.Secret
	MetricsURLs              []string
	// Retention is the server's message retention policy in words.
	Retention string
	LogConfig string // log_config path
	LogFile   string // the filename of a handler in the log config
	// SigningKey is the server's signing key file (signing_key_path, or
	// Synapse's default <config dir>/<server_name>.signing.key).
	SigningKey string

	// Notes explain what could not be discovered and why (SQLite, unreadable
	// secret file, paths that do not exist on this machine).
	Notes []string
}

// ClientURL is the URL an operator on the box should use: the local listener
// when there is one (public_baseurl may go through a reverse proxy), else
// public_baseurl, without a trailing slash.
func (h *Homeserver) ClientURL() string {
	if h.ListenerURL != "" {
		return h.ListenerURL
	}
	return strings.TrimRight(h.PublicBaseURL, "/")
}

// hsFile is the part of homeserver.yaml synops reads. Synapse has hundreds of
// keys, so unknown ones are ignored here (no KnownFields).
type hsFile struct {
	ServerName                   string       `yaml:"server_name"`
	PublicBaseURL                string       `yaml:"public_baseurl"`
	Listeners                    []hsListener `yaml:"listeners"`
	Database                     *hsDatabase  `yaml:"database"`
	MediaStorePath               string       `yaml:"media_store_path"`
	RegistrationSharedSecret     string       `yaml:"registration_shared_secret"`
	RegistrationSharedSecretPath string       `yaml:"registration_shared_secret_path"`
	EnableMetrics                bool         `yaml:"enable_metrics"`
	LogConfig                    string       `yaml:"log_config"`
	SigningKeyPath               string       `yaml:"signing_key_path"`
	Retention                    *hsRetention `yaml:"retention"`
}

// hsRetention is Synapse's message retention section. Durations stay as
// written ("1y", or milliseconds as a number).
type hsRetention struct {
	Enabled       bool `yaml:"enabled"`
	DefaultPolicy *struct {
		MinLifetime flexString `yaml:"min_lifetime"`
		MaxLifetime flexString `yaml:"max_lifetime"`
	} `yaml:"default_policy"`
	AllowedLifetimeMin flexString `yaml:"allowed_lifetime_min"`
	AllowedLifetimeMax flexString `yaml:"allowed_lifetime_max"`
	PurgeJobs          []struct {
		ShortestMaxLifetime flexString `yaml:"shortest_max_lifetime"`
		LongestMaxLifetime  flexString `yaml:"longest_max_lifetime"`
		Interval            flexString `yaml:"interval"`
	} `yaml:"purge_jobs"`
}

// describe says in one line what the server's retention policy is.
func (r *hsRetention) describe() string {
	if r == nil || !r.Enabled {
		return "disabled (retention.enabled is not true): Synapse keeps every event"
	}
	s := "enabled"
	if r.DefaultPolicy != nil && r.DefaultPolicy.MaxLifetime != "" {
		s += ", default max_lifetime " + string(r.DefaultPolicy.MaxLifetime)
	} else {
		s += ", no default policy (only rooms with m.room.retention expire)"
	}
	if r.AllowedLifetimeMin != "" || r.AllowedLifetimeMax != "" {
		s += fmt.Sprintf(", allowed %s..%s", orDash(string(r.AllowedLifetimeMin)), orDash(string(r.AllowedLifetimeMax)))
	}
	if n := len(r.PurgeJobs); n > 0 {
		s += fmt.Sprintf(", %d purge jobs", n)
	} else {
		s += ", one daily purge job"
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

type hsListener struct {
	Port          flexString   `yaml:"port"`
	Path          string       `yaml:"path"` // unix socket listener
	BindAddresses []string     `yaml:"bind_addresses"`
	BindAddress   string       `yaml:"bind_address"` // old single-address form
	Type          string       `yaml:"type"`
	TLS           bool         `yaml:"tls"`
	Resources     []hsResource `yaml:"resources"`
}

type hsResource struct {
	Names []string `yaml:"names"`
}

type hsDatabase struct {
	Name string                `yaml:"name"`
	Args map[string]flexString `yaml:"args"`
}

// flexString takes any scalar as its text (a port may be written 5432 or "5432").
type flexString string

func (f *flexString) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return nil // cp_min and friends are scalars; anything else is not ours
	}
	*f = flexString(n.Value)
	return nil
}

// DiscoverHomeserver reads a Synapse homeserver.yaml (the file `-c` names for
// register_new_matrix_user). Reading or parsing the file itself is an error;
// anything secondary (secret file, log config) that cannot be read becomes a Note.
// Relative paths inside are taken relative to the file's directory.
func DiscoverHomeserver(ctx context.Context, path string) (*Homeserver, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("read homeserver.yaml: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("read homeserver.yaml %s: %w", path, err)
	}
	data, err := os.ReadFile(abs)
	if err != nil {
		return nil, fmt.Errorf("read homeserver.yaml: %w", err)
	}
	var f hsFile
	if err := yaml.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("parse homeserver.yaml %s: %w", abs, err)
	}
	dir := filepath.Dir(abs)
	h := &Homeserver{
		Path:          abs,
		ServerName:    f.ServerName,
		PublicBaseURL: f.PublicBaseURL,
	}
	h.Retention = f.Retention.describe()
	h.discoverListeners(f)
	h.discoverDatabase(f)
	h.discoverSecret(f, dir)
	if f.MediaStorePath != "" {
		h.MediaStore = expandPath(f.MediaStorePath, dir, "")
		h.noteMissing("media_store_path", h.MediaStore, "media_store")
	}
	if f.LogConfig != "" {
		h.LogConfig = expandPath(f.LogConfig, dir, "")
		h.discoverLogFile()
	}
	switch {
	case f.SigningKeyPath != "":
		h.SigningKey = expandPath(f.SigningKeyPath, dir, "")
	case f.ServerName != "":
		h.SigningKey = filepath.Join(dir, f.ServerName+".signing.key")
	}
	return h, nil
}

func (h *Homeserver) note(format string, args ...any) {
	h.Notes = append(h.Notes, fmt.Sprintf(format, args...))
}

// noteMissing notes a discovered path that is not on this machine: in a Docker
// deployment homeserver.yaml names paths inside the container.
func (h *Homeserver) noteMissing(key, path, profileKey string) {
	if _, err := os.Stat(path); err != nil {
		h.note("%s %s from %s is not readable here (a path inside a container?): set %s in the profile", key, path, h.Path, profileKey)
	}
}

func (h *Homeserver) discoverListeners(f hsFile) {
	metricsListener := false
	for i, l := range f.Listeners {
		if l.Type != "http" && l.Type != "metrics" {
			continue
		}
		if l.Port == "" {
			if l.Path != "" {
				h.note("listener %d in %s listens on the unix socket %s, which synops cannot use", i+1, h.Path, l.Path)
			}
			continue
		}
		port, err := strconv.Atoi(string(l.Port))
		if err != nil || port <= 0 || port > 65535 {
			h.note("listener %d in %s has port %q, which is not a port number", i+1, h.Path, string(l.Port))
			continue
		}
		scheme := "http"
		if l.TLS && l.Type == "http" {
			scheme = "https"
		}
		base := scheme + "://" + net.JoinHostPort(listenerHost(l), strconv.Itoa(port))
		switch l.Type {
		case "metrics":
			metricsListener = true
			if f.EnableMetrics {
				h.MetricsURLs = append(h.MetricsURLs, base+"/_synapse/metrics")
			}
		case "http":
			if h.ListenerURL == "" && l.serves("client") {
				h.ListenerURL = base
			}
			if l.serves("metrics") {
				metricsListener = true
				if f.EnableMetrics {
					h.MetricsURLs = append(h.MetricsURLs, base+"/_synapse/metrics")
				}
			}
		}
	}
	if metricsListener && !f.EnableMetrics {
		h.note("%s has a metrics listener but enable_metrics is not true: Synapse serves no metrics", h.Path)
	}
}

func (l hsListener) serves(name string) bool {
	for _, r := range l.Resources {
		if slices.Contains(r.Names, name) {
			return true
		}
	}
	return false
}

// listenerHost is the address to reach a listener from the box itself: loopback
// for a wildcard bind, else the first address.
func listenerHost(l hsListener) string {
	addrs := l.BindAddresses
	if len(addrs) == 0 && l.BindAddress != "" {
		addrs = []string{l.BindAddress}
	}
	if len(addrs) == 0 {
		return "127.0.0.1" // Synapse binds ['::', '0.0.0.0'] by default
	}
	for _, a := range addrs {
		switch strings.Trim(a, "[]") {
		case "", "0.0.0.0", "::":
			return "127.0.0.1"
		}
	}
	return strings.Trim(addrs[0], "[]")
}

func (h *Homeserver) discoverDatabase(f hsFile) {
	if f.Database == nil {
		h.DatabaseEngine = "sqlite3"
		h.note("%s has no database section, so Synapse uses SQLite: synops needs PostgreSQL for backups, resets and purges", h.Path)
		return
	}
	h.DatabaseEngine = f.Database.Name
	switch f.Database.Name {
	case "psycopg2", "psycopg":
	case "sqlite3":
		h.note("%s uses SQLite (database %s): synops needs PostgreSQL for backups, resets and purges", h.Path, string(f.Database.Args["database"]))
		return
	default:
		h.note("%s has database.name %q: synops knows psycopg2 (PostgreSQL) and sqlite3", h.Path, f.Database.Name)
		return
	}
	args := f.Database.Args
	get := func(k string) string { return strings.TrimSpace(string(args[k])) }
	db := get("database")
	if db == "" {
		db = get("dbname")
	}
	if db == "" {
		h.note("database.args in %s names no database: set synapse_db_dsn in the profile", h.Path)
		return
	}
	// '@' and ':' are allowed in a URL path, but escaped they cannot be
	// mistaken for the end of a password (see partsOf).
	escaped := strings.NewReplacer("@", "%40", ":", "%3A").Replace(url.PathEscape(db))
	u := url.URL{Scheme: "postgres", Path: "/" + db, RawPath: "/" + escaped}
	user, password := get("user"), string(args["password"])
	switch {
	case password != "":
		u.User = url.UserPassword(user, password)
	case user != "":
		u.User = url.User(user)
	}
	q := url.Values{}
	host, port := get("host"), get("port")
	switch {
	case strings.HasPrefix(host, "/"): // unix socket directory
		q.Set("host", host)
		if port != "" {
			q.Set("port", port)
		}
	case host != "" && port != "":
		u.Host = net.JoinHostPort(strings.Trim(host, "[]"), port)
	case host != "":
		u.Host = host
		if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
			u.Host = "[" + host + "]"
		}
	case port != "":
		q.Set("port", port)
	}
	// Synapse hands every arg to libpq; pgx would send ones it does not know to
	// the server as settings, which fails. Pass on the connection ones only.
	for _, k := range []string{"sslmode", "sslrootcert", "sslcert", "sslkey", "connect_timeout", "target_session_attrs", "passfile"} {
		if v := get(k); v != "" {
			q.Set(k, v)
		}
	}
	u.RawQuery = q.Encode()
	h.SynapseDB = NewDSN(u.String())
}

func (h *Homeserver) discoverSecret(f hsFile, dir string) {
	if f.RegistrationSharedSecret != "" {
		h.RegistrationSharedSecret = synapse.NewSecret(f.RegistrationSharedSecret)
		return
	}
	if f.RegistrationSharedSecretPath == "" {
		return
	}
	p := expandPath(f.RegistrationSharedSecretPath, dir, "")
	data, err := os.ReadFile(p)
	if err != nil {
		// The error names the path, never the content.
		h.note("registration_shared_secret_path in %s: %v", h.Path, err)
		return
	}
	s := strings.TrimSpace(string(data))
	if s == "" {
		h.note("registration_shared_secret_path %s is empty", p)
		return
	}
	h.RegistrationSharedSecret = synapse.NewSecret(s)
}

// logConfig is a Python logging dictConfig, as Synapse's log_config file is.
type logConfig struct {
	Handlers map[string]struct {
		Filename string `yaml:"filename"`
	} `yaml:"handlers"`
	Root struct {
		Handlers []string `yaml:"handlers"`
	} `yaml:"root"`
}

// discoverLogFile finds the file a handler writes: one the root logger uses
// first, else the first by name.
func (h *Homeserver) discoverLogFile() {
	data, err := os.ReadFile(h.LogConfig)
	if err != nil {
		h.note("log_config in %s: %v", h.Path, err)
		return
	}
	var lc logConfig
	if err := yaml.Unmarshal(data, &lc); err != nil {
		h.note("log_config %s is not YAML synops can read: %v", h.LogConfig, err)
		return
	}
	names := make([]string, 0, len(lc.Handlers))
	for n := range lc.Handlers {
		names = append(names, n)
	}
	sort.Strings(names)
	order := append(append([]string(nil), lc.Root.Handlers...), names...)
	for _, n := range order {
		if fn := lc.Handlers[n].Filename; fn != "" {
			h.LogFile = expandPath(fn, filepath.Dir(h.LogConfig), "")
			h.noteMissing("log file", h.LogFile, "log.file")
			return
		}
	}
	h.note("log_config %s has no handler writing a file: synops reads logs through the service manager", h.LogConfig)
}
