package secret

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"

	"github.com/fleetplan/fleetplan/confine"
)

// Kinds of Ref.
const (
	Env   = "env"   // Ref names an environment variable
	File  = "file"  // Ref is a file path
	Value = "value" // a non-secret value written inline (user names, tenant ids)
)

// Ref points at a credential without holding it.
type Ref struct {
	Kind string // Env, File or Value
	Ref  string
}

// String renders the reference as written, never the secret.
func (s Ref) String() string {
	if s.Kind == Value {
		return s.Ref
	}
	return s.Kind + ":" + s.Ref
}

// Parse parses "env:VAR" or "file:PATH"; ok is false for anything else.
func Parse(s string) (Ref, bool) {
	kind, ref, found := strings.Cut(s, ":")
	if !found || ref == "" || (kind != Env && kind != File) {
		return Ref{}, false
	}
	return Ref{Kind: kind, Ref: ref}, true
}

// ErrMissing marks a secret whose variable is unset or whose file is absent.
var ErrMissing = errors.New("secret not found")

// missing says which secret is missing; it matches ErrMissing.
type missing struct{ msg string }

func (e *missing) Error() string        { return e.msg }
func (e *missing) Is(target error) bool { return target == ErrMissing }

func missingf(format string, args ...any) error { return &missing{fmt.Sprintf(format, args...)} }

// Resolve reads the secret. A file reference is relative to base and must
// lie inside roots (symlinks resolved). It never caches or logs the value; an
// error names the reference, never the value.
func (s Ref) Resolve(roots confine.Roots, base string) (string, error) {
	switch s.Kind {
	case Value:
		return s.Ref, nil
	case Env:
		v, ok := os.LookupEnv(s.Ref)
		if !ok {
			return "", missingf("secret env:%s: environment variable %s is not set", s.Ref, s.Ref)
		}
		if v == "" {
			return "", missingf("secret env:%s: environment variable %s is empty", s.Ref, s.Ref)
		}
		return v, nil
	case File:
		b, err := roots.ReadFile(base, s.Ref)
		var outside *confine.Error
		switch {
		case errors.As(err, &outside):
			return "", fmt.Errorf("secret file:%s: %w", s.Ref, err)
		case errors.Is(err, os.ErrNotExist):
			return "", missingf("secret file:%s: file not found", s.Ref)
		case err != nil:
			return "", fmt.Errorf("secret file:%s: cannot read the file: %w", s.Ref, errors.Unwrap(err))
		}
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" {
			return "", missingf("secret file:%s: file is empty", s.Ref)
		}
		return v, nil
	}
	return "", fmt.Errorf("secret reference of unknown kind %q", s.Kind)
}

// keyWords mark keys whose values are credentials.
var keyWords = []string{"password", "passwd", "pwd", "secret", "token", "connectionstring", "apikey", "accesskey",
	"sastoken", "privatekey", "signingkey", "credential", "authorization"}

// keySeparators are left out of a key before it is compared with keyWords.
var keySeparators = strings.NewReplacer("_", "", "-", "", ".", "")

// IsKey reports whether a mapping key names a credential. It runs for every
// string value of a plan, so it builds nothing per call.
func IsKey(key string) bool {
	k := strings.ToLower(keySeparators.Replace(key))
	for _, w := range keyWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// adoPassword finds Password=... / Pwd=... in an ADO-style connection string.
var adoPassword = regexp.MustCompile(`(?i)(^|[;\s"'])\s*(password|pwd)\s*=\s*[^;\s]`)

// urlPassword finds scheme://user:password@ in a URL-style DSN.
var urlPassword = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^/@\s]*:[^/@]*@`)

// urlQuery finds name=value pairs in the query of a URL.
var urlQuery = regexp.MustCompile(`[?&]([^=&#\s]+)=[^&#\s]`)

// Inline says why a string value written under key holds a credential in
// plain text, with a hint, or "" when it does not. A credential field takes
// only an env:/file: reference (an expression is refused too: it can spell
// out any literal), and no value may be a connection string or URL with a
// password. A key-less value (a list item) passes "" as key.
func Inline(key, value string) (why, hint string) {
	if IsKey(key) {
		refHint := fmt.Sprintf("write %s: env:VARIABLE or %s: file:PATH; never put secrets in plan files", key, key)
		if _, ok := Parse(value); !ok && value != "" {
			if strings.Contains(value, "${{") {
				return fmt.Sprintf("%q takes a secret reference, not an expression", key), refHint
			}
			return fmt.Sprintf("inline secret in %q: secrets may only be referenced", key), refHint
		}
		return "", ""
	}
	connHint := func() string {
		return fmt.Sprintf("keep passwords out of connection strings and URLs: give the whole value as %s: env:VARIABLE where the field takes a secret reference, or authenticate without a password", key)
	}
	// Cheap tests first: every scalar of a plan passes through here.
	if strings.Contains(value, "://") {
		if urlPassword.MatchString(value) && hasURLPassword(value) {
			return fmt.Sprintf("%q holds a URL with a password in it", key), connHint()
		}
		for _, m := range urlQuery.FindAllStringSubmatch(value, -1) {
			if IsKey(m[1]) {
				return fmt.Sprintf("%q holds a URL with a credential in its query (%s=)", key, m[1]), connHint()
			}
		}
	}
	if strings.IndexByte(value, '=') >= 0 && adoPassword.MatchString(value) {
		return fmt.Sprintf("inline password in the connection string under %q", key), connHint()
	}
	return "", ""
}

// hasURLPassword confirms that a URL-looking substring carries a non-empty
// password in its userinfo.
func hasURLPassword(value string) bool {
	for _, loc := range urlPassword.FindAllStringIndex(value, -1) {
		u, err := url.Parse(value[loc[0]:loc[1]])
		if err != nil {
			return true // unparseable userinfo with a colon: treat as a password
		}
		if pw, set := u.User.Password(); set && pw != "" {
			return true
		}
	}
	return false
}

// Redactor replaces resolved secret values in text.
type Redactor struct{ values []string }

// Mask is what a redacted secret becomes.
const Mask = "[secret]"

// Add registers a resolved value.
func (r *Redactor) Add(v string) {
	if len(v) >= 3 {
		r.values = append(r.values, v)
	}
}

// String redacts every registered value in s.
func (r *Redactor) String(s string) string {
	for _, v := range r.values {
		s = strings.ReplaceAll(s, v, Mask)
	}
	return s
}
