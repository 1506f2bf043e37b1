package tui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"synops/ops/health"
	"synops/ops/text"
	"synops/ops/tokens"
)

// Model is the root of the console.
type Model struct {
	c      *Common
	panes  []Pane
	active int
	width  int
	height int

	help     help.Model
	showHelp bool
	palette  *Palette
	confirm  *Confirm
	runner   *runner
	jobs     *JobsView  // the job history, when open
	reveal   *revealBox // a secret shown once

	toast   ToastMsg
	toastID int

	synapse, postgres health.Status // connection dots in the status bar
	tokenAge          *tokens.Age   // the admin token's age, once known
	refreshed         time.Time
	jobRows           int
}

// New builds the root over panes (at least one).
func New(c *Common, panes ...Pane) *Model {
	h := help.New()
	h.Styles = c.Styles.Help
	return &Model{c: c, panes: panes, help: h, width: 80, height: 24, runner: newRunner(c)}
}

// Init starts every pane and asks the terminal for its background colour.
func (m *Model) Init() tea.Cmd {
	cmds := []tea.Cmd{tea.RequestBackgroundColor}
	if m.c.Notice != "" {
		cmds = append(cmds, Toast(m.c.Notice, true))
	}
	for _, p := range m.panes {
		cmds = append(cmds, p.Init())
	}
	return tea.Batch(cmds...)
}

// Update routes a message: global keys first, then a focused modal, then the
// active pane; non-key messages reach every pane.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	cmd := m.update(msg)
	if n := len(m.jobLines()); n != m.jobRows {
		m.jobRows = n // the job strip grew or shrank: the body changes height
		m.layout()
	}
	return m, cmd
}

func (m *Model) update(msg tea.Msg) tea.Cmd {
	if cmd, ok := m.runner.update(msg); ok {
		return cmd
	}
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.layout()
		return nil
	case tea.BackgroundColorMsg:
		*m.c.Styles = *NewStyles(msg.IsDark())
		m.help.Styles = m.c.Styles.Help
		return nil
	case tea.KeyPressMsg:
		return m.key(msg)
	case tea.MouseClickMsg:
		return m.click(msg.Mouse())
	case tea.MouseWheelMsg:
		k := "down"
		if msg.Mouse().Button == tea.MouseWheelUp {
			k = "up"
		}
		return m.panes[m.active].Update(keyPress(k))
	case RevealMsg:
		m.reveal = &revealBox{msg: msg}
		return nil
	case OpenConfirmMsg:
		m.confirm = NewConfirm(m.c, msg.Request)
		m.confirm.SetSize(m.width, m.bodyHeight())
		return nil
	case ToastMsg:
		m.toast, m.toastID = msg, m.toastID+1
		id := m.toastID
		return tea.Tick(5*time.Second, func(time.Time) tea.Msg { return toastClearMsg{id} })
	case toastClearMsg:
		if msg.id == m.toastID {
			m.toast = ToastMsg{}
		}
		return nil
	case jobEvent:
		return m.c.Jobs.update(msg)
	case HealthMsg:
		m.noteHealth(msg)
	case TokenAgeMsg:
		m.tokenAge = &msg.Age
		return nil
	}
	return m.broadcast(msg)
}

func (m *Model) broadcast(msg tea.Msg) tea.Cmd {
	var cmds []tea.Cmd
	for _, p := range m.panes {
		cmds = append(cmds, p.Update(msg))
	}
	return tea.Batch(cmds...)
}

func (m *Model) key(msg tea.KeyPressMsg) tea.Cmd {
	k := m.c.Keys
	switch {
	case msg.String() == "ctrl+c":
		return m.quit()
	case m.reveal != nil:
		if key.Matches(msg, k.Back) || msg.String() == "enter" {
			m.reveal = nil
		}
		return nil
	case m.confirm != nil:
		cmd, closed := m.confirm.Update(msg)
		if closed {
			m.confirm = nil
		}
		return cmd
	case m.runner.ask != nil:
		cmd, done := m.runner.ask.update(m.c, msg)
		if done {
			m.runner.ask = nil
		}
		return cmd
	case m.palette != nil:
		chosen, closed, cmd := m.palette.Update(msg)
		if closed {
			m.palette = nil
		}
		if chosen != nil {
			return m.run(*chosen)
		}
		return cmd
	case m.showHelp:
		if key.Matches(msg, k.Help, k.Back, k.Quit) {
			m.showHelp = false
		}
		return nil
	case m.jobs != nil:
		cmd, closed := m.jobs.Update(msg)
		if closed {
			m.jobs = nil
		}
		return cmd
	case m.panes[m.active].Capturing():
		return m.panes[m.active].Update(msg)
	case key.Matches(msg, k.Quit):
		return m.quit()
	case key.Matches(msg, k.Help):
		m.showHelp = true
		return nil
	case key.Matches(msg, k.Jobs):
		m.jobs = NewJobsView(m.c)
		return nil
	case key.Matches(msg, k.Palette):
		m.palette = NewPalette(m.c, m.commands())
		return nil
	case key.Matches(msg, k.NextPane):
		m.switchTo((m.active + 1) % len(m.panes))
		return nil
	case key.Matches(msg, k.PrevPane):
		m.switchTo((m.active + len(m.panes) - 1) % len(m.panes))
		return nil
	}
	for i, b := range k.Pane {
		if key.Matches(msg, b) && i < len(m.panes) {
			m.switchTo(i)
			return nil
		}
	}
	return m.panes[m.active].Update(msg)
}

// quit stops the running jobs; the command that started the console waits
// for the child processes it handed out (log followers) once the program ends.
func (m *Model) quit() tea.Cmd {
	m.c.Jobs.CancelAll()
	return tea.Quit
}

func (m *Model) switchTo(i int) { m.active = i }

// commands lists the palette: every pane, every pane's actions, quit.
func (m *Model) commands() []Command {
	var out []Command
	for i, p := range m.panes {
		out = append(out, Command{Name: "go to " + strings.ToLower(p.Title()), Pane: i})
		for _, c := range p.Commands() {
			c.Pane = i
			out = append(out, c)
		}
	}
	return append(out, Command{Name: "jobs: history", Pane: -1, Action: "jobs"}, Command{Name: "quit", Pane: -1, Action: "quit"})
}

func (m *Model) run(c Command) tea.Cmd {
	switch c.Action {
	case "quit":
		return m.quit()
	case "jobs":
		m.jobs = NewJobsView(m.c)
		return nil
	}
	m.switchTo(c.Pane)
	if c.Action == "" {
		return nil
	}
	return m.panes[c.Pane].Update(ActionMsg{Action: c.Action})
}

// click switches pane when a tab is clicked.
func (m *Model) click(ms tea.Mouse) tea.Cmd {
	if ms.Y != 0 || m.confirm != nil || m.palette != nil {
		return nil
	}
	x := lipgloss.Width(m.brand())
	for i := range m.panes {
		w := lipgloss.Width(m.tab(i))
		if ms.X >= x && ms.X < x+w {
			m.switchTo(i)
			return nil
		}
		x += w
	}
	return nil
}

// chrome: tab bar (1), toast/help line (1), status bar (1), job strip (0-3).
func (m *Model) bodyHeight() int {
	return max(m.height-3-len(m.jobLines()), 3)
}

func (m *Model) layout() {
	h := m.bodyHeight()
	for _, p := range m.panes {
		p.SetSize(m.width, h)
	}
	m.help.SetWidth(m.width)
	if m.confirm != nil {
		m.confirm.SetSize(m.width, m.bodyHeight())
	}
}

func (m *Model) noteHealth(msg HealthMsg) {
	for _, r := range msg.Results {
		switch r.ID {
		case "synapse.health":
			m.synapse = r.Status
		case "postgres.synapse":
			m.postgres = r.Status
		}
	}
	m.refreshed = msg.At
}

// View draws the whole screen.
func (m *Model) View() tea.View {
	// The one gate to the terminal: whatever a pane drew, only text and the
	// styles' own colour sequences get through.
	v := tea.NewView(text.CleanFrame(m.frame()))
	v.AltScreen = true
	v.MouseMode = tea.MouseModeCellMotion
	v.WindowTitle = "synops · " + text.Clean(m.c.Server)
	return v
}

// frame is the screen as the panes and the chrome drew it.
func (m *Model) frame() string {
	jobs := m.jobLines()
	body := m.panes[m.active].View()
	bh := m.bodyHeight()
	switch {
	case m.reveal != nil:
		body = lipgloss.Place(m.width, bh, lipgloss.Center, lipgloss.Center, m.reveal.view(m.c.Styles, m.width))
	case m.confirm != nil:
		body = lipgloss.Place(m.width, bh, lipgloss.Center, lipgloss.Center, m.confirm.View())
	case m.runner.ask != nil:
		body = lipgloss.Place(m.width, bh, lipgloss.Center, lipgloss.Top, m.runner.ask.view(m.c.Styles, m.width))
	case m.palette != nil:
		body = lipgloss.Place(m.width, bh, lipgloss.Center, lipgloss.Top, m.palette.View(m.width))
	case m.jobs != nil:
		body = m.jobs.View(m.width, bh)
	case m.showHelp:
		full := m.help
		full.ShowAll = true
		body = lipgloss.Place(m.width, bh, lipgloss.Left, lipgloss.Top,
			m.c.Styles.Title.Render("Keys — "+m.panes[m.active].Title())+"\n\n"+full.View(m.keyMap())+
				"\n\n"+m.c.Styles.Muted.Render("press ? or esc to close"))
	}
	body = fit(body, m.width, bh)
	lines := []string{m.tabBar(), body}
	lines = append(lines, jobs...)
	lines = append(lines, m.toastLine(), m.statusBar())
	return strings.Join(lines, "\n")
}

// keyMap merges the global bindings with the active pane's for help.
func (m *Model) keyMap() help.KeyMap {
	if m.jobs != nil {
		return m.jobs
	}
	return mergedKeys{global: m.c.Keys, pane: m.panes[m.active]}
}

type mergedKeys struct {
	global *KeyMap
	pane   help.KeyMap
}

func (k mergedKeys) ShortHelp() []key.Binding {
	return append(k.pane.ShortHelp(), k.global.Help, k.global.Palette, k.global.Quit)
}

func (k mergedKeys) FullHelp() [][]key.Binding {
	g := k.global
	return append(k.pane.FullHelp(),
		[]key.Binding{g.NextPane, g.PrevPane, g.Palette, g.Jobs, g.Help, g.Back, g.Quit},
		[]key.Binding{g.Up, g.Down, g.PageUp, g.PageDown, g.Top, g.Bottom})
}

func (m *Model) brand() string { return m.c.Styles.Title.Render(" synops ") }

func (m *Model) tab(i int) string {
	label := fmt.Sprintf("%d %s", i+1, m.panes[i].Title())
	if i == m.active {
		return m.c.Styles.TabActive.Render(label)
	}
	return m.c.Styles.Tab.Render(label)
}

func (m *Model) tabBar() string {
	var b strings.Builder
	b.WriteString(m.brand())
	for i := range m.panes {
		b.WriteString(m.tab(i))
	}
	return fit(b.String(), m.width, 1)
}

func (m *Model) jobLines() []string {
	jobs := m.c.Jobs.Visible()
	if len(jobs) > 3 {
		jobs = jobs[len(jobs)-3:]
	}
	out := make([]string, len(jobs))
	for i, j := range jobs {
		out[i] = j.Line(m.c.Styles, m.width)
	}
	return out
}

func (m *Model) toastLine() string {
	s := m.c.Styles
	if m.toast.Text != "" {
		st := s.Toast
		if m.toast.Error {
			st = s.ToastError
		}
		return fit(st.Render(text.Clean(m.toast.Text)), m.width, 1)
	}
	return fit(m.help.View(m.keyMap()), m.width, 1)
}

func (m *Model) statusBar() string {
	s := m.c.Styles
	item := func(t string) string { return s.StatusItem.Render(t) }
	env := s.BadgeEnv.Render(m.c.Environment)
	if m.c.Production {
		env = s.BadgeProd.Render(strings.ToUpper(m.c.Environment))
	}
	parts := []string{}
	if m.c.Profile != "" {
		parts = append(parts, item("profile "+m.c.Profile))
	}
	parts = append(parts, item(m.c.Server), env)
	if m.c.ReadOnly {
		parts = append(parts, s.BadgeRO.Render("READ-ONLY"))
	}
	pg := "PostgreSQL "
	if m.width < 100 {
		pg = "PG "
	}
	parts = append(parts, item("Synapse "+m.dot(m.synapse)), item(pg+m.dot(m.postgres)))
	if a := m.tokenAge; a != nil && a.Status == tokens.AgeOld {
		parts = append(parts, s.BadgeRO.Render("⚠ "+a.Short()+": rotate"))
	}
	if !m.refreshed.IsZero() {
		parts = append(parts, item("⟳ "+m.refreshed.Format("15:04:05")))
	}
	bar := strings.Join(parts, "")
	return s.StatusBar.Render(cell(fit(bar, m.width, 1), m.width))
}

func (m *Model) dot(st health.Status) string { return statusGlyph(m.c.Styles, st, dotGlyphs) }

// fit pads or cuts s to exactly h lines of at most w cells.
func fit(s string, w, h int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > h {
		lines = lines[:h]
	}
	for i, l := range lines {
		if lipgloss.Width(l) > w {
			lines[i] = text.Truncate(l, w)
		}
	}
	for len(lines) < h {
		lines = append(lines, "")
	}
	return strings.Join(lines, "\n")
}

// keyPress makes a synthetic key press for a key name ("up", "down", "j").
func keyPress(name string) tea.KeyPressMsg {
	switch name {
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	}
	r := []rune(name)[0]
	return tea.KeyPressMsg{Code: r, Text: name}
}

// cell cuts s to w cells and pads it with spaces to exactly w.
func cell(s string, w int) string {
	if lipgloss.Width(s) > w {
		s = text.Truncate(s, w)
	}
	return s + strings.Repeat(" ", max(w-lipgloss.Width(s), 0))
}
