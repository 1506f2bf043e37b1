package synapse

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Errcode is a Matrix error code such as M_FORBIDDEN. It is itself an error so
// callers can write errors.Is(err, synapse.ErrForbidden).
type Errcode string

func (c Errcode) Error() string { return string(c) }

// The codes synops acts on. Synapse sends others; they still arrive in Error.Code.
const (
	ErrForbidden     Errcode = "M_FORBIDDEN"
	ErrUnknownToken  Errcode = "M_UNKNOWN_TOKEN"
	ErrMissingToken  Errcode = "M_MISSING_TOKEN"
	ErrNotFound      Errcode = "M_NOT_FOUND"
	ErrLimitExceeded Errcode = "M_LIMIT_EXCEEDED"
	ErrUserInUse     Errcode = "M_USER_IN_USE"
	ErrInvalidParam  Errcode = "M_INVALID_PARAM"
	ErrBadJSON       Errcode = "M_BAD_JSON"
	ErrUnrecognized  Errcode = "M_UNRECOGNIZED"
)

// Error is a non-2xx answer from Synapse.
type Error struct {
	Method     string
	Path       string // the request path without query; never carries a token
	Status     int
	Code       Errcode
	Message    string
	RetryAfter time.Duration // from retry_after_ms or Retry-After, for M_LIMIT_EXCEEDED
}

func (e *Error) Error() string {
	code := string(e.Code)
	if code == "" {
		code = fmt.Sprintf("HTTP %d", e.Status)
	} else {
		code = fmt.Sprintf("%s (HTTP %d)", code, e.Status)
	}
	msg := fmt.Sprintf("%s %s: synapse returned %s", e.Method, e.Path, code)
	if e.Message != "" {
		msg += ": " + printable(e.Message)
	}
	if e.RetryAfter > 0 {
		msg += fmt.Sprintf(" (retry after %s)", e.RetryAfter.Round(time.Millisecond))
	}
	return msg
}

// Is matches an Errcode, so errors.Is(err, ErrNotFound) works through wrapping.
func (e *Error) Is(target error) bool {
	c, ok := target.(Errcode)
	return ok && c == e.Code
}

// RedirectError is a redirect the client refused to follow (see
// checkRedirect): to another origin, from https to http, or of a request
// that changes something.
type RedirectError struct {
	Method string
	Path   string // the request path, escaped, without query
	Status int    // 301, 302, 307, 308…
	To     string // where the redirect led, without user info or query
	Why    string
}

func (e *RedirectError) Error() string {
	return fmt.Sprintf("%s %s: the server answered %d, a redirect to %s; synops does not follow it: %s", e.Method, e.Path, e.Status, e.To, e.Why)
}

// IsUnreachable reports whether err means the homeserver could not be reached
// at all (connection refused, DNS failure, timeout), as opposed to an answer.
func IsUnreachable(err error) bool {
	var se *Error
	var re *RedirectError
	if errors.As(err, &se) || errors.As(err, &re) {
		return false
	}
	var ue *url.Error
	var ne net.Error
	var oe *net.OpError
	return errors.As(err, &ue) || errors.As(err, &ne) || errors.As(err, &oe)
}

// NeverSent reports whether err proves the request never reached the
// server: the connection could not be opened (refused, no route, an
// unknown host). After any other failure, a request may have been received
// and acted on though its answer was lost.
func NeverSent(err error) bool {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "dial" {
		return true
	}
	var de *net.DNSError
	return errors.As(err, &de)
}

// ValidationError is returned before any request is sent when an ID, alias or
// argument is malformed.
type ValidationError struct {
	What  string // "user ID", "room ID", "room alias"
	Input string
	Why   string
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("invalid %s %s: %s", e.What, quote(e.Input), e.Why)
}

// quote is %q that also escapes the invisible characters Go counts as
// printable (Hangul fillers), so a message shows every character it quotes.
func quote(s string) string {
	q := strconv.Quote(s)
	if !strings.ContainsFunc(q, UnsafeRune) {
		return q
	}
	var b strings.Builder
	for _, r := range q {
		switch {
		case !UnsafeRune(r):
			b.WriteRune(r)
		case r > 0xffff:
			fmt.Fprintf(&b, `\U%08x`, r)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	return b.String()
}

// printable drops control, bidirectional and invisible characters (escape
// sequences among them) from text the server sent, so an error message
// cannot drive the operator's terminal or hide part of itself.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if UnsafeRune(r) {
			return -1
		}
		return r
	}, s)
}

// UnreachableReason is the short cause of a transport error ("connection
// refused", "no answer before the time limit") without Go's request dump.
func UnreachableReason(err error) string {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err.Error()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "no answer before the time limit"
	}
	return err.Error()
}
