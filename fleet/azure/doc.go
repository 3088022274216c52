// Package azure is the fleet driver for Azure's control plane, through the
// official Azure SDK for Go: armtrafficmanager for traffic-manager profiles
// and endpoints, armsql for managed instances, instance pools, servers,
// databases and replication links, and azidentity's DefaultAzureCredential
// for signing in. Shard maps and data go through the
// sqlserver driver; this one changes only what Azure Resource Manager
// manages.
//
// Every long-running operation's resume token is checkpointed (into the
// run journal when the runner provides fleet.Checkpoints), so a resumed run
// re-attaches to the operation in flight instead of starting another.
// Throttling (429 with Retry-After) is left to azcore's retry policy, which
// honours the header. ARM errors become *fleet.Error values that wrap
// fleet.ErrPermission (with the built-in role to assign), fleet.ErrLocked,
// fleet.ErrQuota and the other fleet errors.
package azure
