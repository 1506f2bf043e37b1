package metrics

import (
	"bytes"
	"math"
	"os"
	"testing"
	"time"
)

func TestQuantile(t *testing.T) {
	inf := math.Inf(1)
	mk := func(les []float64, cum []float64) Hist {
		h := Hist{Cum: map[float64]float64{}, Le: les}
		for i, le := range les {
			h.Cum[le] = cum[i]
		}
		h.Count = cum[len(cum)-1]
		return h
	}
	tests := []struct {
		name    string
		h       Hist
		q       float64
		want    float64
		wantInf bool
		wantOK  bool
	}{
		// rank 0.95·20 = 19 falls in (0.1, 0.25] holding 10 (cumulative 10 → 20):
		// 0.1 + 0.15·(19−10)/10 = 0.235.
		{"interpolates inside the bucket", mk([]float64{0.1, 0.25, inf}, []float64{10, 20, 20}), 0.95, 0.235, false, true},
		// rank 0.5·4 = 2 in the first bucket (0, 0.05] holding 4: 0.05·2/4.
		{"first bucket starts at zero", mk([]float64{0.05, 0.1, inf}, []float64{4, 4, 4}), 0.5, 0.025, false, true},
		// rank 0.95·10 = 9.5 beyond the last finite bucket's 5.
		{"beyond the largest bucket", mk([]float64{1, 10, inf}, []float64{5, 5, 10}), 0.95, 10, true, true},
		{"no observations", mk([]float64{1, inf}, []float64{0, 0}), 0.95, 0, false, false},
		{"no +Inf bucket", mk([]float64{1, 2}, []float64{1, 2}), 0.95, 0, false, false},
	}
	for _, tt := range tests {
		got, gotInf, ok := tt.h.Quantile(tt.q)
		if ok != tt.wantOK || gotInf != tt.wantInf || math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("%s: got %v inf=%v ok=%v, want %v inf=%v ok=%v", tt.name, got, gotInf, ok, tt.want, tt.wantInf, tt.wantOK)
		}
	}
}

// Select keeps exactly the families asked for, whole: parsing what it keeps
// gives the same families as parsing everything (on a scrape recorded from
// the real Synapse by the health tests).
func TestSelectKeepsWholeFamilies(t *testing.T) {
	data, err := os.ReadFile("../health/testdata/scrape-1.txt")
	if err != nil {
		t.Fatal(err)
	}
	full, err := Parse(bytes.NewReader(data), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"synapse_http_server_response_time_seconds", "synapse_storage_transaction_time_sum_total",
		"process_resident_memory_bytes", "synapse_storage_schedule_time", "no_such_family"}
	kept, served := Select(data, want)
	if served != len(full.Families) {
		t.Errorf("served %d families, the full parse found %d", served, len(full.Families))
	}
	part, err := Parse(bytes.NewReader(kept), time.Now())
	if err != nil {
		t.Fatalf("parse the selection: %v", err)
	}
	if len(part.Families) != 4 {
		t.Errorf("kept %d families, want 4: %v", len(part.Families), keys(part.Families))
	}
	for name, f := range part.Families {
		if g := full.Families[name]; g == nil || g.String() != f.String() {
			t.Errorf("family %s differs from the full parse", name)
		}
	}
	if len(kept) > len(data)/5 {
		t.Errorf("kept %d of %d bytes: the selection is not selective", len(kept), len(data))
	}

	// With a label to match, only that histogram's matching series stay.
	servlet := labelsOf(full.Families["synapse_http_server_response_time_seconds"].Metric[0])["servlet"]
	sync, _ := Select(data, []string{`synapse_http_server_response_time_seconds|servlet="` + servlet + `"`})
	part, err = Parse(bytes.NewReader(sync), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	f := part.Families["synapse_http_server_response_time_seconds"]
	if f == nil || len(f.Metric) == 0 {
		t.Fatalf("no %s series kept:\n%s", servlet, sync)
	}
	for _, m := range f.Metric {
		if l := labelsOf(m); l["servlet"] != servlet {
			t.Errorf("kept a series of servlet %q", l["servlet"])
		}
	}
	n := 0
	for _, m := range full.Families["synapse_http_server_response_time_seconds"].Metric {
		if labelsOf(m)["servlet"] == servlet {
			n++
		}
	}
	if n != len(f.Metric) {
		t.Errorf("kept %d series of %s, the full parse has %d", len(f.Metric), servlet, n)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
