package plans

import (
	"fmt"
	"strings"

	"github.com/fleetplan/fleetplan/plans/expression"
	"github.com/fleetplan/fleetplan/secret"
)

// Kinds of SecretRef.
const (
	SecretEnv   = secret.Env   // Ref names an environment variable
	SecretFile  = secret.File  // Ref is a file path (absolute once loaded)
	SecretValue = secret.Value // a non-secret value written inline (user names, tenant ids)
)

// SecretRef points at a credential without holding it. Plans and
// fleetplan.yaml may only name secrets as "env:VAR" or "file:PATH".
type SecretRef = secret.Ref

// parseSecretRef parses "env:VAR" or "file:PATH"; ok is false for anything else.
func parseSecretRef(s string) (SecretRef, bool) { return secret.Parse(s) }

// inlineSecret says why a string value written under key is an inline
// secret, with a hint, or "" when it is fine. A credential field may hold an
// interpolation only when it reads nothing but template parameters: its
// value is checked once the parameters are bound (see resolvedSecret).
func inlineSecret(key, value string) (why, hint string) {
	if secret.IsKey(key) && expression.HasInterpolation(value) && paramsOnly(value) {
		return "", ""
	}
	return secret.Inline(key, value)
}

// paramsOnly reports whether every interpolation of s reads only params.
func paramsOnly(s string) bool {
	t, err := expression.CompileInterp(s)
	if err != nil {
		return false
	}
	refs := t.Refs()
	for _, r := range refs {
		if r != "params" {
			return false
		}
	}
	return len(refs) > 0
}

// resolvedSecret says why the value that written (a params-only
// interpolation under key) resolved to is an inline secret, with a hint, or
// "" when it is a reference.
func resolvedSecret(key, written string, v any) (why, hint string) {
	s, ok := v.(string)
	if !ok || !secret.IsKey(key) || !expression.HasInterpolation(written) || !paramsOnly(written) || expression.HasInterpolation(s) {
		return "", ""
	}
	if why, _ := secret.Inline(key, s); why == "" {
		return "", ""
	}
	param := "its template parameter"
	if m := paramRef.FindStringSubmatch(written); m != nil {
		param = "template parameter " + m[1]
	}
	return fmt.Sprintf("inline secret in %q: %s gives it a literal value", key, param),
		fmt.Sprintf("pass %s as env:VARIABLE or file:PATH; never put secrets in plan files", strings.TrimPrefix(param, "template parameter "))
}
