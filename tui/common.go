// Package tui is synops' terminal console: a root model that composes panes
// (Health first; Rooms, Users, Backups, Reset and Security as they are built),
// and the components every pane shares: the typed confirm dialog, the job
// list, the toast line, the command palette and sparklines. It does no I/O of
// its own: every call into the ops layer runs in a tea.Cmd with a time limit.
package tui

import (
	"context"
	"io"
	"log/slog"
	"time"

	"charm.land/bubbles/v2/help"
	tea "charm.land/bubbletea/v2"
)

// Common is what every pane shares, handed to each at construction.
type Common struct {
	Ctx    context.Context
	Styles *Styles
	Keys   *KeyMap
	Jobs   *Jobs
	Log    *slog.Logger
	// Approvals gives the backup state of a plan for the confirm dialog;
	// *ops.Guard is one. Nil: a plan that loses data always needs the waiver.
	Approvals Approvals
	Now       func() time.Time

	ReadOnly    bool
	Profile     string
	seq         int
	Server      string
	Environment string
	Production  bool
	// Notice is shown on the toast line at start (a pane that could not be
	// offered, and why).
	Notice string
}

// MemoryLimit is the soft limit the console gives Go's runtime
// (debug.SetMemoryLimit): with 100k rooms and 100k accounts listed the live
// data is about 80 MB, and the default collector would let the heap grow to
// twice that before collecting. Over the limit the collector works harder; it
// never fails an allocation.
const MemoryLimit = 128 << 20

// NewCommon fills in defaults for what is not set.
func NewCommon(c Common) *Common {
	if c.Ctx == nil {
		c.Ctx = context.Background()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Styles == nil {
		c.Styles = NewStyles(true)
	}
	if c.Keys == nil {
		c.Keys = NewKeyMap()
	}
	if c.Jobs == nil {
		c.Jobs = NewJobs(c.Ctx, c.Now)
	}
	if c.Log == nil {
		c.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.Environment == "" {
		c.Environment = "development"
	}
	return &c
}

// NextID hands out identifiers for requests and sub-views, so a result that
// arrives after its requester went away can be recognised and dropped.
func (c *Common) NextID() int {
	c.seq++
	return c.seq
}

// Pane is one tab of the console.
type Pane interface {
	help.KeyMap
	Title() string
	Init() tea.Cmd
	// Update gets every message that is not a key, and keys while the pane
	// is active. Panes ignore messages that are not theirs.
	Update(msg tea.Msg) tea.Cmd
	View() string
	SetSize(w, h int)
	// Capturing is true while the pane has a text input open (a filter) and
	// needs every key, global ones included.
	Capturing() bool
	// Commands are the pane's entries in the command palette.
	Commands() []Command
}

// Pane titles, which are also the owners of their changes and jobs.
const (
	ownerHealth   = "Health"
	ownerRooms    = "Rooms"
	ownerUsers    = "Users"
	ownerSecurity = "Security"
	ownerBackups  = "Backups"
	ownerReset    = "Reset"
)

// ServerResetMsg says a reset has emptied the server and given synops a new
// admin: the panes that list what is on it read it again.
type ServerResetMsg struct{}

// ToastMsg shows a message on the toast line for a few seconds.
type ToastMsg struct {
	Text  string
	Error bool
}

// Toast returns a command that shows text.
func Toast(text string, isErr bool) tea.Cmd {
	return func() tea.Msg { return ToastMsg{Text: text, Error: isErr} }
}

// OpenConfirmMsg asks the root to open the typed confirm dialog. Panes do not
// send it themselves: a Change's plan reaches it through the runner.
type OpenConfirmMsg struct{ Request ConfirmRequest }

type toastClearMsg struct{ id int }
