package report

import "testing"

func TestEstimateTotal(t *testing.T) {
	for _, tt := range []struct {
		rows, bytes, size, want int64
	}{
		{0, 0, 1000, -1}, // nothing read yet
		{5, 50, 0, -1},   // size unknown
		{100, 1000, 10_000, 1000},
		{100, 1000, 1000, 100}, // all read: exact
		{100, 1200, 1000, 100}, // more than the size (the file grew): what was read
		{7, 10, 1_000_000_000, 700_000_000},
	} {
		if got := EstimateTotal(tt.rows, tt.bytes, tt.size); got != tt.want {
			t.Errorf("EstimateTotal(%d, %d, %d) = %d, want %d", tt.rows, tt.bytes, tt.size, got, tt.want)
		}
	}
}
