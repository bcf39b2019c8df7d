package registry

import (
	"slices"
	"testing"
)

func TestStatisticsCadence(t *testing.T) {
	defer SetAnalyzeEvery(10)()
	e := &engine{}
	var at []int64
	var total int64
	for range 100 {
		total += 5
		if e.grown(5) {
			at = append(at, total)
		}
	}
	if want := []int64{10, 20, 40, 80, 160, 320}; !slices.Equal(at, want) {
		t.Fatalf("refreshed at %v rows, want %v (the threshold, then doubling)", at, want)
	}
}
