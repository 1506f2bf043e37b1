package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// fileConfig is synops' own config file. Pointers tell "not given" from a zero
// value so a profile can say read_only: false over an environment default.
type fileConfig struct {
	DefaultProfile string                  `yaml:"default_profile"`
	Profiles       map[string]*fileProfile `yaml:"profiles"`
}

type fileProfile struct {
	HomeserverURL  *string       `yaml:"homeserver_url"`
	ServerName     *string       `yaml:"server_name"`
	Environment    *string       `yaml:"environment"`
	ReadOnly       *bool         `yaml:"read_only"`
	HomeserverYAML *string       `yaml:"homeserver_yaml"`
	Token          *fileToken    `yaml:"token"`
	Services       *fileServices `yaml:"services"`
	SynapseDBDSN   *string       `yaml:"synapse_db_dsn"`
	AppDBDSN       *string       `yaml:"app_db_dsn"`
	MediaStore     *string       `yaml:"media_store"`
	MetricsURLs    []string      `yaml:"metrics_urls"`
	Backup         *fileBackup   `yaml:"backup"`
	Log            *fileLog      `yaml:"log"`
	LiveKitURL     *string       `yaml:"livekit_url"`
	AppRefs        *fileAppRefs  `yaml:"app_refs"`
	Tokens         *fileTokens   `yaml:"tokens"`   // tokens.go
	Security       *fileSecurity `yaml:"security"` // tokens.go
	Reset          *fileReset    `yaml:"reset"`    // reset.go
	Diagnose       *fileDiagnose `yaml:"diagnose"` // reset.go
	Rooms          *fileRooms    `yaml:"rooms"`
}

// fileRooms is the profile's rooms section.
type fileRooms struct {
	Purge *filePurge `yaml:"purge"`
}

// filePurge tunes the retention purge (rooms purge).
type filePurge struct {
	MaxConcurrency *int          `yaml:"max_concurrency"`
	Poll           *yamlDuration `yaml:"poll"`
	SyncDeleteMax  *int          `yaml:"sync_delete_max"`
}

// fileAppRefs overrides the SQL that finds and clears the application
// database's references to a room ($1 is the room ID).
type fileAppRefs struct {
	Count    *string  `yaml:"count"`
	Describe *string  `yaml:"describe"`
	Clear    []string `yaml:"clear"`
	// Reset and ResetCount are the whole-table variant a reset runs.
	Reset      []string `yaml:"reset"`
	ResetCount *string  `yaml:"reset_count"`
}

type fileToken struct {
	Env     *string  `yaml:"env"`
	File    *string  `yaml:"file"`
	Command []string `yaml:"command"`
	PassEnv []string `yaml:"pass_env"`
}

type fileServices struct {
	Kind            *string  `yaml:"kind"`
	ComposeFile     *string  `yaml:"compose_file"`
	ComposeProject  *string  `yaml:"compose_project"`
	SynapseService  *string  `yaml:"synapse_service"`
	PostgresService *string  `yaml:"postgres_service"`
	Unit            *string  `yaml:"unit"`
	PostgresUnit    *string  `yaml:"postgres_unit"`
	Start           []string `yaml:"start"`
	Stop            []string `yaml:"stop"`
	Status          []string `yaml:"status"`
	// The application API (OpenMeet) and a PostgreSQL container outside compose.
	AppService        *string `yaml:"app_service"`
	AppUnit           *string `yaml:"app_unit"`
	PostgresContainer *string `yaml:"postgres_container"`
}

type fileBackup struct {
	Dir         *string       `yaml:"dir"`
	Keep        *int          `yaml:"keep"`
	MaxAge      *yamlDuration `yaml:"max_age"`
	FreshWithin *yamlDuration `yaml:"fresh_within"`
	KeepDaily   *int          `yaml:"keep_daily"`
	KeepWeekly  *int          `yaml:"keep_weekly"`
	KeepMonthly *int          `yaml:"keep_monthly"`
	Format      *string       `yaml:"format"`
	DumpVia     *string       `yaml:"dump_via"`
	Media       *string       `yaml:"media"`
	Files       []string      `yaml:"files"`
	AdminDSN    *string       `yaml:"admin_dsn"`
	Volumes     []string      `yaml:"volumes"`
	VolumeImage *string       `yaml:"volume_image"`
}

type fileLog struct {
	File *string `yaml:"file"`
}

// yamlDuration accepts what ParseDuration accepts (12h, 30d).
type yamlDuration struct{ d time.Duration }

func (y *yamlDuration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want a duration such as 12h or 30d", n.Line)
	}
	d, err := ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	y.d = d
	return nil
}

// readConfigFile reads and strictly decodes path. A key synops does not know is
// an error naming the key and its line.
func readConfigFile(path string) (*fileConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var fc fileConfig
	if err := dec.Decode(&fc); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read config %s: %w", path, yamlError(err))
	}
	return &fc, nil
}

// yamlError rewords yaml's "field x not found in type config.fileProfile" into
// advice, keeping the key and the line. It keeps the original for errors.As.
func yamlError(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return err
	}
	msgs := make([]string, len(te.Errors))
	for i, m := range te.Errors {
		// "line 4: field homserver_url not found in type config.fileProfile"
		if line, rest, ok := strings.Cut(m, ": field "); ok && strings.HasPrefix(line, "line ") {
			if key, _, ok := strings.Cut(rest, " not found in type "); ok {
				m = fmt.Sprintf("%s: unknown key %q (a typo? see the example config)", line, key)
			}
		}
		msgs[i] = m
	}
	return &configSyntaxError{msg: strings.Join(msgs, "; "), err: err}
}

type configSyntaxError struct {
	msg string
	err error
}

func (e *configSyntaxError) Error() string { return e.msg }
func (e *configSyntaxError) Unwrap() error { return e.err }
