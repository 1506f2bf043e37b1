package metrics

import (
	"math"
	"testing"
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
