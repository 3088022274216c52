package main

import (
	"github.com/fleetplan/fleetplan/runner"
	"github.com/fleetplan/fleetplan/runner/view"
)

// eventSink picks how run events are shown: JSON lines, progress bars on a
// terminal, or one plain line per event. finish flushes and may be called twice.
func (a *app) eventSink(output string) (runner.EventSink, func()) {
	return view.New(a.stdout, output)
}
