package plans

import (
	"sort"
	"strings"

	"github.com/fleetplan/fleetplan/secret"
)

// RecoveryCredentials says what shard map recovery steps of the target
// connect with: the sources of its recoveryAuth entries (env:VAR, file:PATH,
// a user name), never a secret; "" for a local fleet without recoveryAuth.
func (t TargetSpec) RecoveryCredentials() string {
	describe := func(refs map[string]SecretRef) string {
		keys := make([]string, 0, len(refs))
		for k := range refs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			if refs[k].Kind == SecretValue && secret.IsKey(k) {
				parts = append(parts, k+" (written inline, which is refused)")
				continue
			}
			parts = append(parts, k+" "+refs[k].String())
		}
		return strings.Join(parts, ", ")
	}
	switch {
	case t.Driver == DriverLocal && len(t.RecoveryAuth) > 0:
		return "recoveryAuth (" + describe(t.RecoveryAuth) + "), checked only: the local driver has no credentials"
	case t.Driver == DriverLocal:
		return "" // nothing to say: no credentials, none configured
	case len(t.RecoveryAuth) > 0:
		return "recoveryAuth (" + describe(t.RecoveryAuth) + ")"
	case len(t.Auth) > 0:
		return "the target's auth (" + describe(t.Auth) + "); no recoveryAuth is set"
	}
	return "the target's connection; no recoveryAuth is set"
}
