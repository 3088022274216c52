package plans

import (
	"fmt"

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

// inlineSecret says why a string value written under key is an inline secret,
// or "" when it is fine. A credential field may hold an interpolation only
// when it reads nothing but template parameters: its value is checked once
// the parameters are bound (see resolvedSecret).
func inlineSecret(key, value string) string {
	if secret.IsKey(key) && expression.HasInterpolation(value) && paramsOnly(value) {
		return ""
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

// resolvedSecret says why the value an interpolation under key resolved to
// is an inline secret, or "" when it is a reference (or key is no credential).
func resolvedSecret(key string, v any) string {
	s, ok := v.(string)
	if !ok || !secret.IsKey(key) || expression.HasInterpolation(s) {
		return ""
	}
	if why := secret.Inline(key, s); why != "" {
		return fmt.Sprintf("%s (the template parameter gives it a literal value)", why)
	}
	return ""
}
