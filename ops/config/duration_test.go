package config

import (
	"strings"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr string // substring; "" means no error
	}{
		{in: "30d", want: 30 * 24 * time.Hour},
		{in: "12h", want: 12 * time.Hour},
		{in: "720h", want: 720 * time.Hour},
		{in: "1d12h", want: 36 * time.Hour},
		{in: " 90m ", want: 90 * time.Minute},
		{in: "0", want: 0},
		{in: "0d", want: 0},
		{in: "-1d", wantErr: `duration "-1d" is negative`},
		{in: "-5m", wantErr: "negative"},
		{in: "1d-2h", wantErr: "negative"},
		{in: "abc", wantErr: `invalid duration "abc"`},
		{in: "30", wantErr: `invalid duration "30"`},
		{in: "1.5d", wantErr: `invalid duration "1.5d"`},
		{in: "d", wantErr: `invalid duration "d"`},
		{in: "+3d", wantErr: `invalid duration "+3d"`},
		{in: "", wantErr: "empty duration"},
		{in: "999999999999d", wantErr: "too large"},
		{in: "99999999999999999999999d", wantErr: "too large"},
		{in: "106751d", want: 106751 * 24 * time.Hour},
		{in: "106752d", wantErr: `duration "106752d" is too large: at most 106751d`},
		{in: "213504d", wantErr: "too large"},
		{in: "106751d24h", wantErr: "too large"},
		{in: "2562047h", want: 2562047 * time.Hour},
		{in: "9999999999h", wantErr: `duration "9999999999h" is too large`},
		{in: "99999999999999999999ns", wantErr: "too large"},
		{in: "1d1d", wantErr: "invalid duration"},
		{in: "1dx", wantErr: "invalid duration"},
		{in: "1.5h", want: 90 * time.Minute},
		{in: "h", wantErr: "invalid duration"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDuration(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseDuration(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseDuration(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ParseDuration(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

// FuzzParseDuration: a duration that parses is never negative nor beyond
// MaxDuration, and prints back (FormatDuration) to text that parses to the
// same value; one that does not parse says why without panicking.
func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"30d", "12h", "1d12h", "0", "0d", "-1d", "1d-2h", "106751d", "106752d", "213504d",
		"9999999999h", "1.5h", ".5h", "1d.5h", "+3d", "d", "1d1d", " 90m ", "2562047h47m16.854775807s", "1µs", "1e3h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		d, err := ParseDuration(in)
		if err != nil {
			if d != 0 {
				t.Fatalf("ParseDuration(%q) = %v with error %v, want 0", in, d, err)
			}
			return
		}
		if d < 0 || d > MaxDuration {
			t.Fatalf("ParseDuration(%q) = %v, outside [0, %v]", in, d, MaxDuration)
		}
		out := FormatDuration(d)
		back, err := ParseDuration(out)
		if err != nil || back != d {
			t.Fatalf("ParseDuration(%q) = %v, printed %q, which parses to %v, %v", in, d, out, back, err)
		}
	})
}

func TestFormatDuration(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{30 * 24 * time.Hour, "30d"},
		{12 * time.Hour, "12h0m0s"},
		{0, "0s"},
	}
	for _, tt := range tests {
		if got := FormatDuration(tt.in); got != tt.want {
			t.Errorf("FormatDuration(%v) = %q, want %q", tt.in, got, tt.want)
		}
		if back, err := ParseDuration(FormatDuration(tt.in)); err != nil || back != tt.in {
			t.Errorf("ParseDuration(FormatDuration(%v)) = %v, %v, want %v", tt.in, back, err, tt.in)
		}
	}
}
