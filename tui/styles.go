package tui

import (
	"image/color"

	"charm.land/bubbles/v2/help"
	"charm.land/lipgloss/v2"
)

// Styles is the one style sheet. Every lipgloss.NewStyle in the TUI is here.
type Styles struct {
	IsDark bool

	App        lipgloss.Style
	Tab        lipgloss.Style
	TabActive  lipgloss.Style
	TabGap     lipgloss.Style
	Title      lipgloss.Style
	Muted      lipgloss.Style
	Selected   lipgloss.Style
	Group      lipgloss.Style
	Detail     lipgloss.Style
	Hint       lipgloss.Style
	StatusBar  lipgloss.Style
	StatusItem lipgloss.Style
	BadgeProd  lipgloss.Style
	BadgeEnv   lipgloss.Style
	BadgeRO    lipgloss.Style
	Toast      lipgloss.Style
	ToastError lipgloss.Style

	OK, Warn, Crit, Unknown lipgloss.Style

	Dialog       lipgloss.Style
	DialogDanger lipgloss.Style
	DialogTitle  lipgloss.Style
	Button       lipgloss.Style
	ButtonActive lipgloss.Style
	ButtonDanger lipgloss.Style
	Input        lipgloss.Style

	Palette       lipgloss.Style
	PaletteItem   lipgloss.Style
	PaletteActive lipgloss.Style

	Spark lipgloss.Style
	Help  help.Styles
}

// NewStyles builds the sheet for a dark or light terminal background.
func NewStyles(isDark bool) *Styles {
	ld := lipgloss.LightDark(isDark)
	c := func(light, dark string) color.Color { return ld(lipgloss.Color(light), lipgloss.Color(dark)) }
	fg := c("#1f2328", "#e6edf3")
	muted := c("#6e7781", "#8b949e")
	accent := c("#0969da", "#58a6ff")
	green := c("#1a7f37", "#3fb950")
	yellow := c("#9a6700", "#d29922")
	red := c("#cf222e", "#f85149")
	selBg := c("#ddf4ff", "#1f3a5f")
	barBg := c("#eaeef2", "#21262d")

	s := &Styles{IsDark: isDark}
	s.App = lipgloss.NewStyle().Foreground(fg)
	s.Tab = lipgloss.NewStyle().Foreground(muted).Padding(0, 1)
	s.TabActive = lipgloss.NewStyle().Foreground(accent).Bold(true).Underline(true).Padding(0, 1)
	s.TabGap = lipgloss.NewStyle().Foreground(muted)
	s.Title = lipgloss.NewStyle().Foreground(accent).Bold(true)
	s.Muted = lipgloss.NewStyle().Foreground(muted)
	s.Selected = lipgloss.NewStyle().Background(selBg).Foreground(fg)
	s.Group = lipgloss.NewStyle().Foreground(accent).Bold(true)
	s.Detail = lipgloss.NewStyle().Foreground(fg)
	s.Hint = lipgloss.NewStyle().Foreground(yellow)
	s.StatusBar = lipgloss.NewStyle().Background(barBg).Foreground(fg)
	s.StatusItem = lipgloss.NewStyle().Background(barBg).Foreground(fg).Padding(0, 1)
	s.BadgeProd = lipgloss.NewStyle().Background(red).Foreground(lipgloss.Color("#ffffff")).Bold(true).Padding(0, 1)
	s.BadgeEnv = lipgloss.NewStyle().Background(accent).Foreground(lipgloss.Color("#ffffff")).Padding(0, 1)
	s.BadgeRO = lipgloss.NewStyle().Background(yellow).Foreground(lipgloss.Color("#000000")).Bold(true).Padding(0, 1)
	s.Toast = lipgloss.NewStyle().Foreground(green)
	s.ToastError = lipgloss.NewStyle().Foreground(red).Bold(true)
	s.OK = lipgloss.NewStyle().Foreground(green)
	s.Warn = lipgloss.NewStyle().Foreground(yellow)
	s.Crit = lipgloss.NewStyle().Foreground(red).Bold(true)
	s.Unknown = lipgloss.NewStyle().Foreground(muted)
	s.Dialog = lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).BorderForeground(accent).Padding(0, 1)
	s.DialogDanger = s.Dialog.BorderForeground(red)
	s.DialogTitle = lipgloss.NewStyle().Bold(true).Foreground(red)
	s.Button = lipgloss.NewStyle().Padding(0, 2).Foreground(muted)
	s.ButtonActive = lipgloss.NewStyle().Padding(0, 2).Background(accent).Foreground(lipgloss.Color("#ffffff")).Bold(true)
	s.ButtonDanger = lipgloss.NewStyle().Padding(0, 2).Background(red).Foreground(lipgloss.Color("#ffffff")).Bold(true)
	s.Input = lipgloss.NewStyle().Border(lipgloss.NormalBorder()).BorderForeground(muted).Padding(0, 1)
	s.Palette = lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).BorderForeground(accent).Padding(0, 1)
	s.PaletteItem = lipgloss.NewStyle().Foreground(fg)
	s.PaletteActive = lipgloss.NewStyle().Foreground(accent).Bold(true)
	s.Spark = lipgloss.NewStyle().Foreground(accent)
	s.Help = help.DefaultStyles(isDark)
	return s
}
