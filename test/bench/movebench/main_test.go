package main

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"
)

func TestFitRecoversCostPerBatch(t *testing.T) {
	// 2 ms per batch on top of 0.5 s of row work.
	var rs []result
	for _, b := range []int{2500, 250, 25, 5} {
		rs = append(rs, result{batches: b, e2e: 500*time.Millisecond + time.Duration(b)*2*time.Millisecond})
	}
	slope, intercept, ok := fit(rs)
	if !ok || math.Abs(slope-0.002) > 1e-9 || math.Abs(intercept-0.5) > 1e-9 {
		t.Fatalf("fit = %v, %v, %v; want 0.002 s per batch and 0.5 s", slope, intercept, ok)
	}
	if _, _, ok := fit(rs[:1]); ok {
		t.Fatal("one batch size gave a slope")
	}
}

func TestIntList(t *testing.T) {
	got, err := intList("10, 100,,5000")
	if err != nil || len(got) != 3 || got[0] != 10 || got[1] != 100 || got[2] != 5000 {
		t.Fatalf("intList = %v, %v", got, err)
	}
	for _, bad := range []string{"10,x", "0", "-5"} {
		if _, err := intList(bad); err == nil {
			t.Errorf("intList(%q) accepted", bad)
		}
	}
}

// TestMovebenchRuns runs the whole bench on a small fleet (50 customers move),
// so the program keeps building, planning and applying the split it measures.
func TestMovebenchRuns(t *testing.T) {
	var out bytes.Buffer
	if err := run(&out, splitAt+50, []int{10, 50}, 1, true); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{"| 10 | 5 | 200 |", "| 50 | 1 | 200 |", "Fixed cost per batch:"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
}
