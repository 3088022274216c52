package steps

import (
	"regexp"
)

// quoted matches the excerpts a database quotes from a script in its error
// messages: "...", '...', `...` and [...].
var quoted = regexp.MustCompile("\"[^\"]*\"|'[^']*'|`[^`]*`|\\[[^\\]]*\\]")

// ScriptError wraps the error of running a script file so that its message
// names the file and never quotes the script: databases echo fragments of a
// failing statement ("near \"root\": syntax error"), and a plan must not be
// able to print a file by running it. errors.Is/As still see err.
func ScriptError(file string, err error) error {
	if err == nil {
		return nil
	}
	return &scriptError{msg: "script " + quoteName(file) + ": " + withheld(err), err: err}
}

// WithoutExcerpts is err with the excerpts of a script its message quotes
// withheld, for an error whose message already names the file.
func WithoutExcerpts(err error) error {
	if err == nil {
		return nil
	}
	return &scriptError{msg: withheld(err), err: err}
}

func withheld(err error) string { return quoted.ReplaceAllString(err.Error(), "<excerpt withheld>") }

type scriptError struct {
	msg string
	err error
}

func (e *scriptError) Error() string { return e.msg }
func (e *scriptError) Unwrap() error { return e.err }

func quoteName(s string) string { return "\"" + s + "\"" }
