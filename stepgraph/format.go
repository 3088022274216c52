package stepgraph

import (
	"fmt"
	"strings"
	"time"
)

// Estimates are written the same way in step titles and bases (the
// planner) and in every view of a graph (the renderers).

// RoundDuration writes a duration the way estimates show it: to the
// millisecond below a second, the tenth of a second below a minute, then to
// the second.
func RoundDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// Thousands writes n with a comma between each group of three digits.
func Thousands(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []string
	for len(s) > 3 {
		out = append([]string{s[len(s)-3:]}, out...)
		s = s[:len(s)-3]
	}
	out = append([]string{s}, out...)
	r := strings.Join(out, ",")
	if neg {
		r = "-" + r
	}
	return r
}
