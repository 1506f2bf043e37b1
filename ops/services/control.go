package services

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"synops/ops/config"
)

// Unit is one service around the homeserver that synops can stop and start.
type Unit string

const (
	Synapse  Unit = "synapse"
	AppAPI   Unit = "app"      // the application API (OpenMeet), when configured
	Postgres Unit = "postgres" // PostgreSQL, where it runs as a service
)

// Action is what the service manager is asked to do.
type Action string

const (
	Start   Action = "start"
	Stop    Action = "stop"
	Restart Action = "restart"
	Status  Action = "status"
)

// State is a unit's state as the service manager reports it.
type State struct {
	Running bool
	Detail  string // "running", "exited", "inactive", "not created", the status command's output
}

// ErrNotManaged is returned for a unit the profile gives no way to control.
var ErrNotManaged = errors.New("not managed")

// Controller stops, starts and asks after Synapse, the application API and
// PostgreSQL for the three ways they run: docker compose (`docker compose`,
// falling back to `docker-compose`), systemd units, and the profile's own
// commands. It builds argv only, never shell strings, and copies every
// command and its output to Log, the job log.
type Controller struct {
	Services config.Services
	Exec     Exec
	Log      io.Writer // nil: no job log

	mu      sync.Mutex
	compose []string // "docker compose" or "docker-compose", once found
}

// Manages reports whether the profile says how to control u.
func (c *Controller) Manages(u Unit) bool {
	s := c.Services
	switch s.Kind {
	case config.ServicesCompose:
		return c.composeService(u) != ""
	case config.ServicesSystemd:
		return c.systemdUnit(u) != ""
	case config.ServicesCustom:
		return u == Synapse && len(s.Start) > 0
	}
	return false
}

func (c *Controller) composeService(u Unit) string {
	switch u {
	case Synapse:
		return orDefault(c.Services.SynapseService, "synapse")
	case Postgres:
		return orDefault(c.Services.PostgresService, "postgres")
	case AppAPI:
		return c.Services.AppService
	}
	return ""
}

func (c *Controller) systemdUnit(u Unit) string {
	switch u {
	case Synapse:
		return orDefault(c.Services.SynapseUnit, "matrix-synapse")
	case Postgres:
		return orDefault(c.Services.PostgresUnit, "postgresql")
	case AppAPI:
		return c.Services.AppUnit
	}
	return ""
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

// ComposeBase is the compose command with the profile's file and project:
// "docker compose -f F -p P" when the Docker CLI has the compose plugin,
// else "docker-compose -f F -p P". The choice is made once per Controller.
func (c *Controller) ComposeBase(ctx context.Context) ([]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.compose == nil {
		// `docker compose version` fails with "unknown command" when the
		// plugin is missing; Debian bookworm packages only docker-compose v1.
		if _, err := c.Exec.Run(ctx, []string{"docker", "compose", "version"}); err == nil {
			c.compose = []string{"docker", "compose"}
		} else if _, err2 := c.Exec.Run(ctx, []string{"docker-compose", "version"}); err2 == nil {
			c.compose = []string{"docker-compose"}
		} else {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("find docker compose: neither `docker compose` (%v) nor `docker-compose` (%v) works: install the compose plugin or docker-compose", err, err2)
		}
	}
	argv := append([]string(nil), c.compose...)
	if f := c.Services.ComposeFile; f != "" {
		argv = append(argv, "-f", f)
	}
	if p := c.Services.ComposeProject; p != "" {
		argv = append(argv, "-p", p)
	}
	return argv, nil
}

// Command is the argv that does a to the units, in one command where the
// service manager takes several (compose, systemctl). Custom commands act
// on Synapse alone.
func (c *Controller) Command(ctx context.Context, a Action, units ...Unit) ([]string, error) {
	if len(units) == 0 {
		return nil, errors.New("service command: no unit named")
	}
	for _, u := range units {
		if !c.Manages(u) {
			return nil, c.notManaged(u)
		}
	}
	s := c.Services
	switch s.Kind {
	case config.ServicesCompose:
		if a == Status {
			return nil, errors.New("compose status takes two commands: use Status")
		}
		base, err := c.ComposeBase(ctx)
		if err != nil {
			return nil, err
		}
		argv := append(base, string(a))
		for _, u := range units {
			argv = append(argv, c.composeService(u))
		}
		return argv, nil
	case config.ServicesSystemd:
		verb := string(a)
		if a == Status {
			verb = "is-active"
		}
		argv := []string{"systemctl", verb}
		for _, u := range units {
			argv = append(argv, c.systemdUnit(u))
		}
		return argv, nil
	case config.ServicesCustom:
		if len(units) > 1 {
			return nil, fmt.Errorf("custom service commands control Synapse alone, not %v", units)
		}
		switch a {
		case Start:
			return append([]string(nil), s.Start...), nil
		case Stop:
			return append([]string(nil), s.Stop...), nil
		case Status:
			return append([]string(nil), s.Status...), nil
		}
		return nil, errors.New("custom services have no restart command: synops stops, then starts")
	}
	return nil, c.notManaged(units[0])
}

func (c *Controller) notManaged(u Unit) error {
	switch c.Services.Kind {
	case config.ServicesNone, "":
		return fmt.Errorf("%w: %s: the profile has no services section (services.kind compose, systemd or custom) to stop and start it with", ErrNotManaged, u)
	case config.ServicesCustom:
		return fmt.Errorf("%w: %s: custom service commands control Synapse alone", ErrNotManaged, u)
	case config.ServicesCompose:
		return fmt.Errorf("%w: %s: set services.app_service to the compose service of the application API", ErrNotManaged, u)
	}
	return fmt.Errorf("%w: %s: set services.app_unit to the systemd unit of the application API", ErrNotManaged, u)
}

// Stop stops the units, in one command where the manager allows.
func (c *Controller) Stop(ctx context.Context, units ...Unit) error {
	return c.act(ctx, Stop, units)
}

// Start starts the units.
func (c *Controller) Start(ctx context.Context, units ...Unit) error {
	return c.act(ctx, Start, units)
}

// Restart restarts the units; custom commands stop, then start.
func (c *Controller) Restart(ctx context.Context, units ...Unit) error {
	if c.Services.Kind == config.ServicesCustom {
		if err := c.act(ctx, Stop, units); err != nil {
			return err
		}
		return c.act(ctx, Start, units)
	}
	return c.act(ctx, Restart, units)
}

func (c *Controller) act(ctx context.Context, a Action, units []Unit) error {
	argv, err := c.Command(ctx, a, units...)
	if err != nil {
		return fmt.Errorf("%s %v: %w", a, units, err)
	}
	if _, err := c.run(ctx, argv); err != nil {
		return fmt.Errorf("%s %v: %w", a, units, err)
	}
	return nil
}

// Status asks the service manager whether u runs. A command that fails to
// answer is an error; "not running" is a State.
func (c *Controller) Status(ctx context.Context, u Unit) (State, error) {
	if !c.Manages(u) {
		return State{}, c.notManaged(u)
	}
	switch c.Services.Kind {
	case config.ServicesCompose:
		base, err := c.ComposeBase(ctx)
		if err != nil {
			return State{}, err
		}
		out, err := c.run(ctx, append(base, "ps", "-a", "-q", c.composeService(u)))
		if err != nil {
			return State{}, fmt.Errorf("status of %s: %w", u, err)
		}
		ids := strings.Fields(string(out))
		if len(ids) == 0 {
			return State{Detail: "not created"}, nil
		}
		out, err = c.run(ctx, append([]string{"docker", "inspect", "--format", "{{.State.Status}}"}, ids...))
		if err != nil {
			return State{}, fmt.Errorf("status of %s: %w", u, err)
		}
		st := State{Running: true}
		var states []string
		for _, s := range strings.Fields(string(out)) {
			states = append(states, s)
			st.Running = st.Running && s == "running"
		}
		st.Detail = strings.Join(states, ", ")
		return st, nil
	case config.ServicesSystemd:
		argv, _ := c.Command(ctx, Status, u)
		out, err := c.run(ctx, argv)
		word := strings.TrimSpace(string(out))
		var ee *ExitError
		switch {
		case err == nil:
			return State{Running: word == "active", Detail: word}, nil
		case errors.As(err, &ee) && ee.Code > 0 && word != "":
			// is-active exits 3 for inactive and failed units and says which.
			return State{Detail: word}, nil
		}
		return State{}, fmt.Errorf("status of %s: %w", u, err)
	default:
		argv, _ := c.Command(ctx, Status, u)
		out, err := c.run(ctx, argv)
		var ee *ExitError
		switch {
		case err == nil:
			return State{Running: true, Detail: firstLine(out, "running")}, nil
		case errors.As(err, &ee) && ee.Code > 0:
			return State{Detail: firstLine(out, "not running (exit status "+fmt.Sprint(ee.Code)+")")}, nil
		}
		return State{}, fmt.Errorf("status of %s: %w", u, err)
	}
}

func firstLine(out []byte, def string) string {
	line, _, _ := bytes.Cut(bytes.TrimSpace(out), []byte("\n"))
	if len(line) == 0 {
		return def
	}
	return string(line)
}

// Run runs argv (a command the profile configured, or one built from
// ComposeBase) and writes it and its output to the job log, like every
// command the controller issues.
func (c *Controller) Run(ctx context.Context, argv []string) ([]byte, error) {
	if len(argv) == 0 {
		return nil, errors.New("run: empty command")
	}
	return c.run(ctx, argv)
}

// WithLog is a controller for the same services whose commands and output
// go to log instead (a step's live output), keeping the compose spelling
// this one found.
func (c *Controller) WithLog(log io.Writer) *Controller {
	c.mu.Lock()
	defer c.mu.Unlock()
	return &Controller{Services: c.Services, Exec: c.Exec, Log: log, compose: c.compose}
}

// run runs argv and writes it and its output to the job log.
func (c *Controller) run(ctx context.Context, argv []string) ([]byte, error) {
	if c.Log == nil {
		return c.Exec.Run(ctx, argv)
	}
	fmt.Fprintf(c.Log, "$ %s\n", strings.Join(argv, " "))
	var out bytes.Buffer
	err := c.Exec.Stream(ctx, argv, Streams{Stdout: io.MultiWriter(&out, c.Log), Log: c.Log})
	if err != nil {
		fmt.Fprintf(c.Log, "  (%v)\n", err)
	}
	return out.Bytes(), err
}

// ServiceName is u as the service manager knows it: the compose service,
// the systemd unit, or "synapse" for custom commands.
func (c *Controller) ServiceName(u Unit) string {
	switch c.Services.Kind {
	case config.ServicesCompose:
		return c.composeService(u)
	case config.ServicesSystemd:
		return c.systemdUnit(u)
	}
	return string(u)
}
