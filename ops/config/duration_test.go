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
