package views

// Simulated reports one change fleet simulate made.
func (v *View) Simulated(what, detail string) { v.printf("%s %s\n", what, detail) }
