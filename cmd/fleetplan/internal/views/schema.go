package views

import "fmt"

// Lines prints one name a line (schema's list of kinds).
func (v *View) Lines(names []string) error {
	for _, n := range names {
		if _, err := fmt.Fprintln(v.Out, n); err != nil {
			return err
		}
	}
	return nil
}

// Bytes prints a document as it is (a JSON Schema).
func (v *View) Bytes(b []byte) error {
	_, err := v.Out.Write(b)
	return err
}
