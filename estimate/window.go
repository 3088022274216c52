package estimate

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Window is a recurring change window: on Days, from Start (offset from
// midnight in Location) for Duration.
type Window struct {
	Days     []time.Weekday
	Start    time.Duration
	Duration time.Duration
	Location *time.Location
}

// NextFit returns the earliest time at or after t at which an operation
// taking need can start inside an occurrence of w and end before that
// occurrence closes. ok is false when need is longer than the window.
func (w Window) NextFit(t time.Time, need time.Duration) (start time.Time, ok bool) {
	if need > w.Duration {
		return time.Time{}, false
	}
	loc := w.Location
	if loc == nil {
		loc = time.UTC
	}
	local := t.In(loc)
	midnight := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, loc)
	// A window may have opened up to a week ago and still be open.
	for d := -7; d <= 8; d++ {
		day := midnight.AddDate(0, 0, d)
		if !w.on(day.Weekday()) {
			continue
		}
		open := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, loc).Add(w.Start)
		close := open.Add(w.Duration)
		s := open
		if t.After(s) {
			s = t
		}
		if !s.Add(need).After(close) {
			return s, true
		}
	}
	return time.Time{}, false
}

// Open reports whether t falls inside an occurrence of w, and when that
// occurrence closes.
func (w Window) Open(t time.Time) (bool, time.Time) {
	s, ok := w.NextFit(t, 0)
	if !ok || s.After(t) {
		return false, time.Time{}
	}
	loc := w.Location
	if loc == nil {
		loc = time.UTC
	}
	for d := -7; d <= 0; d++ {
		day := t.In(loc).AddDate(0, 0, d)
		if !w.on(day.Weekday()) {
			continue
		}
		open := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, loc).Add(w.Start)
		if !t.Before(open) && t.Before(open.Add(w.Duration)) {
			return true, open.Add(w.Duration)
		}
	}
	return false, time.Time{}
}

func (w Window) on(d time.Weekday) bool {
	for _, x := range w.Days {
		if x == d {
			return true
		}
	}
	return false
}

var dayNames = []string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}

// String writes w as plans do: "Sat,Sun 02:00 for 4 h (UTC)".
func (w Window) String() string {
	var days []string
	for _, d := range w.Days {
		days = append(days, dayNames[d])
	}
	loc := "UTC"
	if w.Location != nil {
		loc = w.Location.String()
	}
	return fmt.Sprintf("%s %02d:%02d for %s (%s)", strings.Join(days, ","), int(w.Start/time.Hour), int(w.Start%time.Hour/time.Minute), Human(w.Duration), loc)
}

// WindowSpec is a window as JSON-compatible step input.
type WindowSpec struct {
	Days     []string `json:"days"`
	Start    string   `json:"start"` // HH:MM
	Duration string   `json:"duration"`
	TimeZone string   `json:"timeZone"`
}

// Spec returns w as step input.
func (w Window) Spec() WindowSpec {
	s := WindowSpec{Start: fmt.Sprintf("%02d:%02d", int(w.Start/time.Hour), int(w.Start%time.Hour/time.Minute)), Duration: w.Duration.String(), TimeZone: "UTC"}
	for _, d := range w.Days {
		s.Days = append(s.Days, dayNames[d])
	}
	if w.Location != nil {
		s.TimeZone = w.Location.String()
	}
	return s
}

// Window reads a window from step input.
func (s WindowSpec) Window() (Window, error) {
	var w Window
	for _, d := range s.Days {
		i := indexOf(dayNames, d)
		if i < 0 {
			return w, fmt.Errorf("unknown day %q", d)
		}
		w.Days = append(w.Days, time.Weekday(i))
	}
	h, m, ok := strings.Cut(s.Start, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil {
		return w, fmt.Errorf("bad start %q", s.Start)
	}
	w.Start = time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute
	d, err := time.ParseDuration(s.Duration)
	if err != nil {
		return w, err
	}
	w.Duration = d
	if w.Location, err = time.LoadLocation(s.TimeZone); err != nil {
		return w, err
	}
	return w, nil
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}
