package plans

import (
	"fmt"
	"os"
	"strings"
)

// Kinds of SecretRef.
const (
	SecretEnv   = "env"   // Ref names an environment variable
	SecretFile  = "file"  // Ref is a file path (absolute once loaded)
	SecretValue = "value" // a non-secret value written inline (user names, tenant ids)
)

// SecretRef points at a credential without holding it. Plans and
// fleetplan.yaml may only name secrets as "env:VAR" or "file:PATH".
type SecretRef struct {
	Kind string // SecretEnv, SecretFile or SecretValue
	Ref  string
}

// String renders the reference as written, never the secret.
func (s SecretRef) String() string {
	if s.Kind == SecretValue {
		return s.Ref
	}
	return s.Kind + ":" + s.Ref
}

// Resolve reads the secret. It is called only when a target is opened and
// never caches or logs the value. A missing variable or an unreadable file is
// an error that names the reference, not the value.
func (s SecretRef) Resolve() (string, error) {
	switch s.Kind {
	case SecretValue:
		return s.Ref, nil
	case SecretEnv:
		v, ok := os.LookupEnv(s.Ref)
		if !ok {
			return "", fmt.Errorf("secret env:%s: environment variable %s is not set", s.Ref, s.Ref)
		}
		if v == "" {
			return "", fmt.Errorf("secret env:%s: environment variable %s is empty", s.Ref, s.Ref)
		}
		return v, nil
	case SecretFile:
		b, err := os.ReadFile(s.Ref)
		if err != nil {
			return "", fmt.Errorf("secret file:%s: %w", s.Ref, err)
		}
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" {
			return "", fmt.Errorf("secret file:%s: file is empty", s.Ref)
		}
		return v, nil
	}
	return "", fmt.Errorf("secret reference of unknown kind %q", s.Kind)
}

// parseSecretRef parses "env:VAR" or "file:PATH"; ok is false for anything else.
func parseSecretRef(s string) (SecretRef, bool) {
	kind, ref, found := strings.Cut(s, ":")
	if !found || ref == "" || (kind != SecretEnv && kind != SecretFile) {
		return SecretRef{}, false
	}
	return SecretRef{Kind: kind, Ref: ref}, true
}

// secretKeyWords mark keys whose values are credentials.
var secretKeyWords = []string{"password", "passwd", "pwd", "secret", "token", "connectionstring", "apikey", "accesskey", "sastoken", "privatekey"}

// isSecretKey reports whether a mapping key names a credential.
func isSecretKey(key string) bool {
	k := strings.ToLower(strings.NewReplacer("_", "", "-", "").Replace(key))
	for _, w := range secretKeyWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// inlineSecret says why a string value written under key is an inline secret,
// or "" when it is fine: secrets must be env:/file: references; an
// interpolation is checked where its value is written.
func inlineSecret(key, value string) string {
	if strings.Contains(value, "${{") {
		return ""
	}
	if isSecretKey(key) {
		if _, ok := parseSecretRef(value); !ok && value != "" {
			return fmt.Sprintf("inline secret in %q: secrets may only be referenced", key)
		}
		return ""
	}
	lower := strings.ToLower(value)
	if strings.Contains(lower, "password=") || strings.Contains(lower, "pwd=") {
		return fmt.Sprintf("inline password in the connection string under %q", key)
	}
	return ""
}
